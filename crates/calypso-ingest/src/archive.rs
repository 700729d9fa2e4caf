//! Compressed bodies: gzip streams and zip archives, recognized by their magic bytes.
//!
//! * gzip (`1f 8b`): one payload, the decompressed data (concatenated members are all
//!   read).
//! * zip (`PK\x03\x04`): one payload per file entry whose name matches the `zipPattern`
//!   ingestion property (all file entries without one), in archive order; directories
//!   are skipped. The pattern is a regular expression that must match the whole entry
//!   name (its path inside the archive); a pattern that is no valid regular expression
//!   is read as a wildcard pattern (`*` any text, `?` one character), so that
//!   Kusto's documented example `*.csv` selects the CSV files. An archive with no
//!   matching entry has no records (`BadRequest_NoRecordsOrWrongFormat`).
//! * The decompressed data of all payloads together is at most the limit given
//!   (`PayloadTooLarge` past it); a corrupted stream or archive, an encrypted entry or an
//!   unsupported compression method (such as Deflate64) is `BadRequest_InvalidBlob`.
//! * Anything else is one payload, the body as it is.

use std::borrow::Cow;
use std::io::{Cursor, Read};

use regex::Regex;

use crate::{IngestError, codes, decompress_at_most};

/// One file of a body.
pub(crate) struct Payload<'a> {
    /// The zip entry's name, for entries of an archive.
    pub(crate) name: Option<String>,
    /// Its data.
    pub(crate) data: Cow<'a, [u8]>,
}

/// The payloads of `body` (at most `limit` decompressed bytes in all).
pub(crate) fn unpack<'a>(
    body: &'a [u8],
    zip_pattern: Option<&str>,
    limit: usize,
) -> Result<Vec<Payload<'a>>, IngestError> {
    if body.starts_with(b"PK\x03\x04") {
        return unzip(body, zip_pattern, limit);
    }
    Ok(vec![Payload {
        name: None,
        data: decompress_at_most(body, limit)?,
    }])
}

/// The regular expression of a `zipPattern`, matching whole names.
fn pattern(p: &str) -> Result<Regex, IngestError> {
    if let Ok(r) = Regex::new(&format!("^(?:{p})$")) {
        return Ok(r);
    }
    let mut glob = String::from("^");
    for c in p.chars() {
        match c {
            '*' => glob.push_str(".*"),
            '?' => glob.push('.'),
            c => glob.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    glob.push('$');
    Regex::new(&glob).map_err(|e| {
        IngestError::new(
            codes::MALFORMED_PROPERTY,
            format!("The zipPattern '{p}' is not a valid regular expression: {e}"),
        )
    })
}

fn bad_zip(detail: impl std::fmt::Display) -> IngestError {
    IngestError::new(
        codes::INVALID_BLOB,
        format!("Invalid zip archive: {detail}"),
    )
}

fn unzip<'a>(
    body: &'a [u8],
    zip_pattern: Option<&str>,
    limit: usize,
) -> Result<Vec<Payload<'a>>, IngestError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(body)).map_err(bad_zip)?;
    let re = zip_pattern
        .filter(|p| !p.is_empty())
        .map(pattern)
        .transpose()?;
    let mut out = Vec::new();
    let mut total = 0usize;
    for i in 0..archive.len() {
        let name = match archive.name_for_index(i) {
            Some(Ok(n)) => n.into_owned(),
            Some(Err(e)) => return Err(bad_zip(e)),
            None => continue,
        };
        if name.ends_with('/') || re.as_ref().is_some_and(|re| !re.is_match(&name)) {
            continue;
        }
        let mut entry = archive
            .by_index(i)
            .map_err(|e| bad_zip(format!("entry '{name}': {e}")))?;
        if entry.is_dir() {
            continue;
        }
        if entry.encrypted() {
            return Err(bad_zip(format!("entry '{name}' is encrypted")));
        }
        let room = limit.saturating_sub(total);
        let mut data = Vec::new();
        (&mut entry)
            .take(u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| bad_zip(format!("entry '{name}': {e}")))?;
        total += data.len();
        if total > limit {
            return Err(IngestError::new(
                codes::PAYLOAD_TOO_LARGE,
                format!("The zip archive decompresses to more than {limit} bytes"),
            ));
        }
        out.push(Payload {
            name: Some(name),
            data: Cow::Owned(data),
        });
    }
    if out.is_empty() {
        let what = match zip_pattern {
            Some(p) if !p.is_empty() => format!("no file matching the zipPattern '{p}'"),
            _ => "no file".to_string(),
        };
        return Err(IngestError::new(
            codes::NO_RECORDS,
            format!("The zip archive has {what}"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_names() {
        let re = pattern(".*\\.csv").unwrap();
        assert!(re.is_match("a.csv"));
        assert!(re.is_match("dir/a.csv"));
        assert!(!re.is_match("a.csv.bak"));
        let glob = pattern("*.csv").unwrap();
        assert!(glob.is_match("x.csv"));
        assert!(!glob.is_match("x.json"));
        assert!(!glob.is_match("xcsv"));
        let literal = pattern("data.json").unwrap();
        assert!(literal.is_match("data.json"));
        assert!(!literal.is_match("old/data.json"));
    }

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.add_directory("d/", opts).unwrap();
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn the_limit_bounds_all_entries_together() {
        let big = vec![b'x'; 1000];
        let zip = archive(&[("a", &big), ("d/b", &big)]);
        let all = unpack(&zip, None, 2000).unwrap();
        let names: Vec<_> = all.iter().map(|p| p.name.clone().unwrap()).collect();
        assert_eq!(names, ["a", "d/b"]);
        assert!(all.iter().all(|p| p.data.len() == 1000));
        let e = unpack(&zip, None, 1500).err().unwrap();
        assert_eq!(e.code, codes::PAYLOAD_TOO_LARGE);
        // Only the selected entries count.
        assert_eq!(unpack(&zip, Some("a"), 1500).unwrap().len(), 1);
        let e = unpack(&archive(&[]), None, 10).err().unwrap();
        assert_eq!(e.code, codes::NO_RECORDS);
    }
}
