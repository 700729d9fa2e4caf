//! `.ingest [async] into table T (source, ...) with (...)` (`data-ingestion/
//! ingest-from-storage.md`): the data is pulled from each source and all of it is ingested
//! together, as one extent, or not at all. A source is
//!
//! * a blob this server handed out (`http(s)://<host>/calypso/<container>/<blob>?<SAS>`,
//!   from `.get ingestion resources` or `.show export containers`): read from the server's
//!   own storage, its SAS checked (read permission) as the blob surface checks it;
//! * any other `http(s)` URL: fetched with GET (at most [`MAX_SOURCE_BYTES`], within
//!   [`FETCH_TIMEOUT`]);
//! * a local file (`file:///path` or an absolute path): only below a directory the server
//!   allows (`calypso serve --ingest-from-dir`, none by default), after the path is resolved
//!   (so `..` and symbolic links cannot leave it).
//!
//! Credentials after a `;` (`;impersonate`, `;<account key>`) are dropped; no other scheme
//! (`abfss://`, `adl://`, `s3://`, ...) can be reached from Calypso. The result has one row
//! per extent with the official columns; the sources are named without their query string
//! (it holds the SAS).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kql_functions::KqlType;
use kql_syntax::ast::{Property, prop};

use super::ingest::MappingSpec;
use super::ingest_props::ExtentProps;
use crate::queued::{ACCOUNT, Permission, Resource, is_container};
use crate::table::{Cell, guid, table};
use crate::{Engine, EngineError, Result, ResultTable};

/// The largest source read (the streaming body limit: what is parsed is held in memory).
pub const MAX_SOURCE_BYTES: usize = calypso_ingest::MAX_DECOMPRESSED_BYTES;

/// How long fetching one http(s) source may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// The result columns (the official schema of `IngestIntoTable`).
const COLUMNS: &[(&str, KqlType)] = &[
    ("ExtentId", KqlType::Guid),
    ("ItemLoaded", KqlType::String),
    ("Duration", KqlType::String),
    ("HasErrors", KqlType::String),
    ("OperationId", KqlType::Guid),
];

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A blob of a container this server hands out.
    OwnBlob {
        container: String,
        name: String,
        query: String,
    },
    /// Another http(s) URL.
    Http(String),
    /// A local file.
    File(PathBuf),
}

fn bad(message: impl Into<String>) -> EngineError {
    EngineError::BadRequest(message.into())
}

/// The source a connection string names (credentials after `;` dropped).
pub(crate) fn source_of(text: &str) -> Result<Source> {
    let uri = text.trim();
    let uri = uri.split(';').next().unwrap_or(uri);
    if uri.starts_with('/') {
        return Ok(Source::File(PathBuf::from(uri)));
    }
    let url = url::Url::parse(uri).map_err(|e| {
        bad(format!(
            "The ingestion source '{}' is not a URL or an absolute path: {e}",
            shown(uri)
        ))
    })?;
    match url.scheme() {
        "file" => url
            .to_file_path()
            .map(Source::File)
            .map_err(|()| bad(format!("'{}' is not a local file path", shown(uri)))),
        "http" | "https" => {
            let segments: Vec<String> = url
                .path_segments()
                .map(|s| s.map(crate::queued::percent_decode).collect())
                .unwrap_or_default();
            match segments.as_slice() {
                [account, container, name @ ..]
                    if account == ACCOUNT && is_container(container) && !name.is_empty() =>
                {
                    Ok(Source::OwnBlob {
                        container: container.clone(),
                        name: name.join("/"),
                        query: url.query().unwrap_or_default().to_string(),
                    })
                }
                _ => Ok(Source::Http(uri.to_string())),
            }
        }
        other => Err(bad(format!(
            "Ingestion from '{other}' sources is not supported: Calypso ingests from http(s) URLs, the blobs it hands out, and local files below the directories the server allows (--ingest-from-dir)"
        ))),
    }
}

/// A source as shown in results and errors: without its query string (the SAS).
fn shown(uri: &str) -> String {
    let uri = uri.split(';').next().unwrap_or(uri);
    uri.split('?').next().unwrap_or(uri).to_string()
}

/// Whether `path` (resolved) lies below one of `allowed` (resolved).
fn allowed_file(path: &Path, allowed: &[PathBuf]) -> Result<PathBuf> {
    if allowed.is_empty() {
        return Err(EngineError::Forbidden(
            "Ingestion from local files is disabled on this server: start it with --ingest-from-dir <directory> to allow the files below that directory".into(),
        ));
    }
    let resolved = std::fs::canonicalize(path).map_err(|e| {
        bad(format!(
            "The local file '{}' cannot be read: {e}",
            path.display()
        ))
    })?;
    let inside = allowed.iter().any(|dir| {
        std::fs::canonicalize(dir).is_ok_and(|d| resolved.starts_with(&d) && resolved != d)
    });
    if !inside {
        return Err(EngineError::Forbidden(format!(
            "The local file '{}' is not below a directory this server allows ingestion from (--ingest-from-dir)",
            path.display()
        )));
    }
    Ok(resolved)
}

fn too_large(what: &str) -> EngineError {
    EngineError::Ingest(calypso_ingest::IngestError::new(
        calypso_ingest::codes::PAYLOAD_TOO_LARGE,
        format!("The ingestion source '{what}' is larger than {MAX_SOURCE_BYTES} bytes"),
    ))
}

/// The text of a `with` property.
fn text_prop(with: &[Property], name: &str) -> Option<String> {
    prop(with, name).map(|v| v.text())
}

impl Engine {
    /// Allows `.ingest into` from local files below these directories (none by default).
    pub fn allow_ingest_from_dirs(&self, dirs: Vec<PathBuf>) {
        *self
            .dm
            .ingest_dirs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = dirs;
    }

    /// Allows queries' `externaldata` to read http(s) URLs (off by default).
    pub fn allow_externaldata_http(&self, on: bool) {
        self.dm
            .external_http
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The bytes of one source (a connection string, see the module's doc).
    pub(crate) async fn read_source(&self, text: &str) -> Result<Vec<u8>> {
        match source_of(text)? {
            Source::OwnBlob {
                container,
                name,
                query,
            } => {
                self.authorize_storage(Resource::Container(&container), &query, Permission::Read)
                    .await
                    .map_err(|e| {
                        EngineError::Forbidden(format!(
                            "The ingestion source '{}' cannot be read: {}",
                            shown(text),
                            e.message
                        ))
                    })?;
                let (_, bytes) = self.get_blob(&container, &name).await.map_err(|e| {
                    bad(format!(
                        "The ingestion source '{}' cannot be read: {}",
                        shown(text),
                        e.message
                    ))
                })?;
                if bytes.len() > MAX_SOURCE_BYTES {
                    return Err(too_large(&shown(text)));
                }
                Ok(bytes.to_vec())
            }
            Source::Http(url) => self.fetch(&url).await,
            Source::File(path) => {
                let dirs = self
                    .dm
                    .ingest_dirs
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                let resolved = allowed_file(&path, &dirs)?;
                let shown_path = path.display().to_string();
                tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
                    let size = std::fs::metadata(&resolved)
                        .map_err(|e| bad(format!("'{shown_path}' cannot be read: {e}")))?
                        .len();
                    if size > MAX_SOURCE_BYTES as u64 {
                        return Err(too_large(&shown_path));
                    }
                    std::fs::read(&resolved)
                        .map_err(|e| bad(format!("'{shown_path}' cannot be read: {e}")))
                })
                .await
                .map_err(|e| EngineError::Execution(e.to_string()))?
            }
        }
    }

    /// GET `url`, refusing bodies over [`MAX_SOURCE_BYTES`].
    async fn fetch(&self, url: &str) -> Result<Vec<u8>> {
        let what = shown(url);
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| EngineError::Execution(e.to_string()))?;
        let mut response = client.get(url).send().await.map_err(|e| {
            bad(format!(
                "The ingestion source '{what}' cannot be fetched: {e}"
            ))
        })?;
        if !response.status().is_success() {
            return Err(bad(format!(
                "The ingestion source '{what}' answered {}",
                response.status()
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_SOURCE_BYTES as u64)
        {
            return Err(too_large(&what));
        }
        let mut out = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            bad(format!(
                "The ingestion source '{what}' cannot be fetched: {e}"
            ))
        })? {
            if out.len() + chunk.len() > MAX_SOURCE_BYTES {
                return Err(too_large(&what));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// `.ingest [async] into table T (sources) with (...)`: every source read and parsed
    /// with the properties, then all rows committed as one extent.
    pub(crate) async fn ingest_from_storage(
        &self,
        database: &str,
        table_name: &str,
        sources: &[String],
        with: &[Property],
    ) -> Result<ResultTable> {
        let started = Instant::now();
        {
            // An unknown table fails before any source is read.
            let cat = self.storage.catalog();
            super::table_of(super::db_of(&cat, database)?, table_name)?;
        }
        let (format, reference, inline) = super::ingest::format_and_mapping(with)?;
        let mapping = MappingSpec::of(reference.as_deref(), inline.as_deref());
        let options = super::ingest::ParseOptions {
            ignore_first_record: text_prop(with, "ignoreFirstRecord")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            zip_pattern: text_prop(with, "zipPattern"),
            location: String::new(),
            skip_field_count_validation: super::ingest::ParseOptions::skips_validation(
                text_prop(with, "validationPolicy").as_deref(),
            )?,
        };
        let props = ExtentProps::from_with(with)?;
        if sources.is_empty() {
            return Err(bad("The .ingest into command names no source"));
        }
        // An `ingestIfNotExists` repeat reads nothing.
        let repeat = self.is_repeat(database, table_name, &props);
        let mut columns = Vec::new();
        let mut batches = Vec::new();
        for s in sources.iter().filter(|_| !repeat) {
            let data = self.read_source(s).await?;
            let opts = super::ingest::ParseOptions {
                location: shown(s),
                ..options.clone()
            };
            let (cols, mut b) = self
                .parse_with(database, table_name, format, mapping, &data, &opts)
                .await?;
            columns = cols;
            batches.append(&mut b);
        }
        let extent = if repeat {
            None
        } else {
            self.append_batches(database, table_name, &columns, batches, false, &props)
                .await?
        };
        let elapsed = started.elapsed();
        let duration = format!(
            "{:02}:{:02}:{:02}.{:07}",
            elapsed.as_secs() / 3600,
            elapsed.as_secs() / 60 % 60,
            elapsed.as_secs() % 60,
            elapsed.subsec_nanos() / 100
        );
        let items = sources
            .iter()
            .map(|s| shown(s))
            .collect::<Vec<_>>()
            .join(", ");
        let extent_id = extent.map_or_else(|| uuid::Uuid::nil().to_string(), |e| e.id);
        let row: Vec<Cell> = vec![
            guid(&extent_id),
            items.into(),
            duration.into(),
            "False".into(),
            guid(&super::new_id()),
        ];
        table(COLUMNS, vec![row])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_classified() {
        assert_eq!(
            source_of("http://127.0.0.1:9/calypso/tempstorage/a%20b.csv?sig=x;impersonate")
                .unwrap(),
            Source::OwnBlob {
                container: "tempstorage".into(),
                name: "a b.csv".into(),
                query: "sig=x".into(),
            }
        );
        assert_eq!(
            source_of("https://example.com/data/x.csv?sv=1").unwrap(),
            Source::Http("https://example.com/data/x.csv?sv=1".into())
        );
        // Another container of the same account is not ours.
        assert_eq!(
            source_of("http://h/calypso/other/x.csv").unwrap(),
            Source::Http("http://h/calypso/other/x.csv".into())
        );
        assert_eq!(
            source_of("file:///data/in/x.csv").unwrap(),
            Source::File(PathBuf::from("/data/in/x.csv"))
        );
        assert_eq!(
            source_of("/data/in/x.csv;key").unwrap(),
            Source::File(PathBuf::from("/data/in/x.csv"))
        );
        let e = source_of("abfss://fs@acct.dfs.core.windows.net/x.csv").unwrap_err();
        assert!(
            e.to_string()
                .contains("from 'abfss' sources is not supported"),
            "{e}"
        );
        assert!(source_of("relative/x.csv").is_err());
        assert_eq!(shown("https://h/x.csv?sig=secret"), "https://h/x.csv");
    }

    #[test]
    fn local_files_only_below_allowed_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let inside = tmp.path().join("in");
        std::fs::create_dir(&inside).unwrap();
        std::fs::write(inside.join("a.csv"), "1\n").unwrap();
        std::fs::write(tmp.path().join("secret.csv"), "2\n").unwrap();
        let allowed = vec![inside.clone()];
        assert!(allowed_file(&inside.join("a.csv"), &allowed).is_ok());
        // `..` cannot leave the directory.
        let e = allowed_file(&inside.join("../secret.csv"), &allowed).unwrap_err();
        assert!(matches!(e, EngineError::Forbidden(_)), "{e}");
        // Off by default.
        let e = allowed_file(&inside.join("a.csv"), &[]).unwrap_err();
        assert!(e.to_string().contains("--ingest-from-dir"), "{e}");
    }
}
