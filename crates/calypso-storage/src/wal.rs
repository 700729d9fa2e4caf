//! The row store's write-ahead log on local disk: `wal/<first sequence number>.wal`.
//!
//! A segment is a sequence of entries, each the rows of one small ingest into one table:
//!
//! ```text
//! "CWL1" | body length (u32 LE) | CRC-32 of the body (u32 LE) | body
//! body = header length (u32 LE) | header (JSON: seq, database id, table id) | Arrow IPC stream
//! ```
//!
//! Entries are appended by one writer, several at a time with one `fsync` (group commit).
//! A segment is closed once it is larger than the segment size, and deleted once every
//! entry in it is sealed (its sequence number is at most its table's `sealed_seq`) or its
//! table is gone. At startup all segments are read in order: a last entry not written
//! whole (a crash during its write) is cut off, its bytes kept under `wal/torn/`; damage
//! before it stops the startup with [`Error::Corrupt`]. An append that failed and could not
//! be cut off again is voided by a marker `<segment>.wal.void` (the offset where the
//! segment's entries end), which startup honours.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::error::{Error, Result};

/// The folder of the log, under the data directory.
pub(crate) const WAL_DIR: &str = "wal";
/// Where a torn last entry goes at startup.
const TORN_DIR: &str = "torn";
const MAGIC: &[u8; 4] = b"CWL1";
const FRAME_HEAD: usize = 12;

/// What an entry is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EntryHeader {
    /// The sequence number (unique, increasing over the whole log).
    pub seq: u64,
    /// The database's id.
    pub database_id: String,
    /// The table's id.
    pub table_id: String,
}

/// An entry read back.
#[derive(Debug)]
pub(crate) struct Entry {
    pub header: EntryHeader,
    pub batch: RecordBatch,
}

/// The Arrow IPC stream of `batch` (CPU work).
pub(crate) fn encode_rows(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

/// One framed entry.
pub(crate) fn frame(header: &EntryHeader, rows: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let header = serde_json::to_vec(header)?;
    let body_len = 4 + header.len() + rows.len();
    let body_len32 = u32::try_from(body_len)
        .map_err(|_| Error::invalid("a row-store entry is larger than 4 GiB"))?;
    let header_len = u32::try_from(header.len()).unwrap_or(u32::MAX);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&header_len.to_le_bytes());
    hasher.update(&header);
    hasher.update(rows);
    out.reserve(FRAME_HEAD + body_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&body_len32.to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(rows);
    Ok(())
}

fn u32_at(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(b)).ok()
}

/// The entries of a segment's bytes, and the offset of the first frame that is not
/// whole (`None`: all are).
fn read_frames(name: &str, bytes: &[u8]) -> Result<(Vec<Entry>, Option<usize>)> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let whole = (|| {
            if bytes.get(at..at + 4)? != MAGIC {
                return None;
            }
            let len = u32_at(bytes, at + 4)?;
            let crc = u32_at(bytes, at + 8)?;
            let body = bytes.get(at + FRAME_HEAD..at + FRAME_HEAD + len)?;
            (crc32fast::hash(body) as usize == crc).then_some(body)
        })();
        let Some(body) = whole else {
            return Ok((entries, Some(at)));
        };
        let bad = |what: &str| Error::Corrupt(format!("row-store log {name} at {at}: {what}"));
        let header_len = u32_at(body, 0).ok_or_else(|| bad("no header"))?;
        let header = body
            .get(4..4 + header_len)
            .ok_or_else(|| bad("short header"))?;
        let header: EntryHeader =
            serde_json::from_slice(header).map_err(|e| bad(&format!("header: {e}")))?;
        let rows = &body[4 + header_len..];
        let mut reader = StreamReader::try_new(rows, None).map_err(|e| bad(&e.to_string()))?;
        let batch = match reader.next() {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(bad(&e.to_string())),
            None => return Err(bad("no rows")),
        };
        entries.push(Entry { header, batch });
        at += FRAME_HEAD + body.len();
    }
    Ok((entries, None))
}

/// A segment's name for its first sequence number.
fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// A segment and the newest entry of each table in it.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    tables: HashMap<String, u64>,
}

impl Segment {
    /// Whether every entry in it is sealed or of a table that is gone.
    fn sealed(&self, catalog: &Catalog) -> bool {
        self.tables.iter().all(|(id, seq)| {
            catalog
                .table_by_id(id)
                .is_none_or(|(_, t)| t.sealed_seq >= *seq)
        })
    }
}

/// The segments of the log, and the one being appended to.
#[derive(Debug)]
pub(crate) struct WalFiles {
    dir: PathBuf,
    segment_bytes: u64,
    closed: Vec<Segment>,
    current: Option<(File, Segment, u64)>,
    /// Why the log refuses appends: a write that could not be taken back.
    poisoned: Option<String>,
    /// Faults to inject (tests): the next `fail_syncs` fsyncs fail, and while
    /// `fail_undo` is set, so does taking a failed write back (and with `fail_void`,
    /// writing the marker that voids it).
    pub(crate) faults: WalFaults,
}

/// The faults [`WalFiles`] injects (`Storage::inject_row_store_faults`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WalFaults {
    pub(crate) fail_syncs: u32,
    pub(crate) fail_undo: bool,
    /// Writing the marker that voids a failed append fails too.
    pub(crate) fail_void: bool,
}

impl WalFiles {
    /// Opens the log under `root/wal` and reads every entry in it, oldest first.
    pub(crate) fn open(root: &Path, segment_bytes: u64) -> Result<(WalFiles, Vec<Entry>)> {
        let dir = root.join(WAL_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut names: Vec<String> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".wal"))
            .collect();
        names.sort();
        let mut closed = Vec::new();
        let mut all = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let path = dir.join(name);
            let mut bytes = std::fs::read(&path)?;
            if let Some(at) = void_at(&path)? {
                // The bytes after the marker's offset were an append that failed.
                bytes.truncate(at);
                if at == 0 {
                    // Nothing in it: it goes, so that its name is free again.
                    std::fs::remove_file(&path)?;
                    std::fs::remove_file(void_path(&path))?;
                    continue;
                }
                let (entries, _) = read_frames(name, &bytes)?;
                let mut tables: HashMap<String, u64> = HashMap::new();
                for e in &entries {
                    let seq = tables.entry(e.header.table_id.clone()).or_default();
                    *seq = (*seq).max(e.header.seq);
                }
                closed.push(Segment { path, tables });
                all.extend(entries);
                continue;
            }
            let (entries, torn) = read_frames(name, &bytes)?;
            if let Some(at) = torn {
                if i + 1 < names.len() {
                    return Err(Error::Corrupt(format!(
                        "row-store log segment {} is damaged at byte {at} and is not the last one; move it aside to start without its rows",
                        path.display()
                    )));
                }
                let torn_dir = dir.join(TORN_DIR);
                std::fs::create_dir_all(&torn_dir)?;
                std::fs::write(torn_dir.join(format!("{name}.{at}")), &bytes[at..])?;
                let file = OpenOptions::new().write(true).open(&path)?;
                file.set_len(at as u64)?;
                file.sync_all()?;
            }
            let mut tables: HashMap<String, u64> = HashMap::new();
            for e in &entries {
                let seq = tables.entry(e.header.table_id.clone()).or_default();
                *seq = (*seq).max(e.header.seq);
            }
            closed.push(Segment { path, tables });
            all.extend(entries);
        }
        sync_dir(&dir)?;
        Ok((
            WalFiles {
                dir,
                segment_bytes: segment_bytes.max(1),
                closed,
                current: None,
                poisoned: None,
                faults: WalFaults::default(),
            },
            all,
        ))
    }

    /// Appends framed entries (`bytes`, the entries' `(table id, seq)` in `written`) and
    /// makes them durable (one fsync). On an error nothing of them stays in the log: the
    /// bytes written are cut off again, or when that fails a marker beside the segment
    /// voids them (`<segment>.wal.void`, read at startup) and the segment is closed; when
    /// that fails too, the log refuses every later append until a restart.
    pub(crate) fn append(&mut self, bytes: &[u8], written: &[(String, u64)]) -> Result<()> {
        if let Some(why) = &self.poisoned {
            return Err(Error::Io(std::io::Error::other(format!(
                "the row-store log is unusable after an earlier error: {why}"
            ))));
        }
        let first = written.first().map_or(0, |w| w.1);
        let rotate = self
            .current
            .as_ref()
            .is_some_and(|(_, _, len)| *len >= self.segment_bytes);
        if rotate && let Some((_, segment, _)) = self.current.take() {
            self.closed.push(segment);
        }
        if self.current.is_none() {
            let path = self.dir.join(segment_name(first));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            sync_dir(&self.dir)?;
            self.current = Some((
                file,
                Segment {
                    path,
                    tables: HashMap::new(),
                },
                0,
            ));
        }
        let Some((file, segment, len)) = self.current.as_mut() else {
            return Err(Error::Task("no row-store log segment".into()));
        };
        let faults = &mut self.faults;
        let result = file.write_all(bytes).and_then(|()| {
            if faults.fail_syncs > 0 {
                faults.fail_syncs -= 1;
                return Err(std::io::Error::other("injected fsync failure"));
            }
            file.sync_data()
        });
        let Err(e) = result else {
            *len += bytes.len() as u64;
            for (table, seq) in written {
                let s = segment.tables.entry(table.clone()).or_default();
                *s = (*s).max(*seq);
            }
            return Ok(());
        };
        // Take the partial write back, so that a restart does not find it.
        let undo = if faults.fail_undo {
            Err(std::io::Error::other("injected truncate failure"))
        } else {
            file.set_len(*len).and_then(|()| file.sync_all())
        };
        if let Err(undo) = undo {
            // The bytes stay: a marker beside the segment says where its entries end, and
            // the segment is closed (the next append starts a new one).
            let (path, at) = (segment.path.clone(), *len);
            let fail_void = faults.fail_void;
            match write_void(&self.dir, &path, at, fail_void) {
                Ok(()) => {
                    if let Some((_, segment, _)) = self.current.take() {
                        self.closed.push(segment);
                    }
                }
                Err(void) => {
                    self.poisoned = Some(format!("{e}; then {undo}; then {void}"));
                }
            }
        }
        Err(e.into())
    }

    /// Deletes the closed segments whose entries `catalog` has all sealed.
    pub(crate) fn remove_sealed(&mut self, catalog: &Catalog) -> Result<usize> {
        let mut removed = 0;
        let mut i = 0;
        while i < self.closed.len() {
            if !self.closed[i].sealed(catalog) {
                i += 1;
                continue;
            }
            for path in [self.closed[i].path.clone(), void_path(&self.closed[i].path)] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.closed.remove(i);
            removed += 1;
        }
        // The current segment, once all of it is sealed, is closed so that it can go
        // next time (a new one starts with the next append).
        if self
            .current
            .as_ref()
            .is_some_and(|(_, s, len)| *len > 0 && s.sealed(catalog))
            && let Some((_, segment, _)) = self.current.take()
        {
            self.closed.push(segment);
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// The number of segment files (closed and current).
    pub(crate) fn segments(&self) -> usize {
        self.closed.len() + usize::from(self.current.is_some())
    }
}

/// The marker beside a segment whose entries end before its last bytes:
/// `<segment>.wal.void`, holding that offset in decimal.
fn void_path(segment: &Path) -> PathBuf {
    let mut name = segment.as_os_str().to_owned();
    name.push(".void");
    PathBuf::from(name)
}

/// Writes the marker that voids `segment` from byte `at` on, durably.
fn write_void(dir: &Path, segment: &Path, at: u64, fail: bool) -> std::io::Result<()> {
    if fail {
        return Err(std::io::Error::other("injected marker failure"));
    }
    let mut file = File::create(void_path(segment))?;
    file.write_all(at.to_string().as_bytes())?;
    file.sync_all()?;
    File::open(dir)?.sync_all()
}

/// Where a segment's entries end by its marker, `None` without one.
fn void_at(segment: &Path) -> Result<Option<usize>> {
    match std::fs::read_to_string(void_path(segment)) {
        Ok(text) => text.trim().parse::<usize>().map(Some).map_err(|_| {
            Error::Corrupt(format!(
                "row-store log marker {} does not hold an offset",
                void_path(segment).display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn entry(seq: u64, v: i64) -> (Vec<u8>, (String, u64)) {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![v]))]).unwrap();
        let header = EntryHeader {
            seq,
            database_id: "d".into(),
            table_id: "t".into(),
        };
        let mut out = Vec::new();
        frame(&header, &encode_rows(&batch).unwrap(), &mut out).unwrap();
        (out, ("t".into(), seq))
    }

    #[test]
    fn entries_come_back_and_a_torn_tail_is_cut_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, entries) = WalFiles::open(dir.path(), 1 << 20).unwrap();
        assert!(entries.is_empty());
        let (a, wa) = entry(1, 10);
        let (b, wb) = entry(2, 20);
        let mut both = a.clone();
        both.extend_from_slice(&b);
        wal.append(&both, &[wa, wb]).unwrap();
        drop(wal);

        // A crash half-way through the third entry.
        let (c, _) = entry(3, 30);
        let path = dir.path().join(WAL_DIR).join(segment_name(1));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&c[..c.len() / 2]).unwrap();
        drop(f);

        let (_, entries) = WalFiles::open(dir.path(), 1 << 20).unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.header.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), both.len() as u64);
        let torn: Vec<_> = std::fs::read_dir(dir.path().join(WAL_DIR).join(TORN_DIR))
            .unwrap()
            .collect();
        assert_eq!(torn.len(), 1);
    }

    #[test]
    fn damage_before_the_last_segment_stops_the_open() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = WalFiles::open(dir.path(), 1).unwrap();
        let (a, wa) = entry(1, 10);
        let (b, wb) = entry(2, 20);
        wal.append(&a, &[wa]).unwrap();
        wal.append(&b, &[wb]).unwrap();
        assert_eq!(wal.segments(), 2, "the first segment was full");
        drop(wal);
        let first = dir.path().join(WAL_DIR).join(segment_name(1));
        let mut bytes = std::fs::read(&first).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&first, bytes).unwrap();
        let err = WalFiles::open(dir.path(), 1).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }

    #[test]
    fn sealed_segments_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = WalFiles::open(dir.path(), 1).unwrap();
        let mut c = Catalog::initial();
        let db = c.ensure_database("db", true);
        let mut t = crate::Table::new("T", vec![]);
        t.id = "t".into();
        db.tables.insert("T".into(), t.into());
        for seq in 1..=3 {
            let (bytes, w) = entry(seq, 0);
            wal.append(&bytes, &[w]).unwrap();
        }
        assert_eq!(wal.remove_sealed(&c).unwrap(), 0);
        c.table_by_id_mut("t").unwrap().sealed_seq = 2;
        assert_eq!(wal.remove_sealed(&c).unwrap(), 2);
        c.database_mut("db").unwrap().tables.clear();
        wal.remove_sealed(&c).unwrap();
        assert_eq!(
            wal.remove_sealed(&c).unwrap(),
            1,
            "the current one closed, then went"
        );
        assert_eq!(wal.segments(), 0);
    }
}
