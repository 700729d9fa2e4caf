//! Kusto's streaming-ingestion data formats: request bodies → Arrow record batches in a
//! table's schema.
//!
//! * [`Format`]: the text formats of the CSV family (`csv`, `tsv`, `tsve`, `scsv`, `psv`,
//!   `sohsv`, `txt`) and of the JSON family (`json`, `multijson`, `singlejson`).
//! * [`decompress`]: gzip bodies are recognized by their magic bytes.
//! * [`read`]: parses a body with the identity mapping (CSV: fields by ordinal; JSON:
//!   properties by column name) into batches of at most [`BATCH_ROWS`] rows whose schema is
//!   the table's columns with [`KqlType::to_arrow`] types, all nullable.
//!
//! Kusto's rules (docs: "Data formats supported for ingestion", "Ingestion behavior of
//! invalid data", "Ingestion error codes"):
//! * A value that does not convert to its column's type becomes null; a string value
//!   longer than 1 MB is truncated to 1 MB, a dynamic value longer than 1 MB becomes null.
//! * A string column is never null (Kusto has no null strings): missing values are `""`.
//! * Malformed input fails the whole request, nothing is returned partially
//!   ([`IngestError`], with Kusto's error codes in [`codes`]); except in the `json`
//!   (JSON lines) format, whose malformed lines are skipped, as documented.

mod columns;
mod csv;
mod dynamic;
mod json;
pub mod mapping;
mod values;

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use arrow::record_batch::RecordBatch;
use kql_types::KqlType;

use columns::Batcher;
pub use mapping::{Mapping, MappingKind};

/// Rows per record batch produced by [`read`].
pub const BATCH_ROWS: usize = 8192;

/// Largest string or dynamic value kept (Kusto's default `MaxValueSize`, 1 MB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// Kusto's ingestion error codes used by this crate (all permanent).
pub mod codes {
    /// A CSV-family record with a number of fields other than the table's column count.
    pub const WRONG_NUMBER_OF_FIELDS: &str = "Stream_WrongNumberOfFields";
    /// A quoted CSV field without its closing quote.
    pub const CLOSING_QUOTE_MISSING: &str = "Stream_ClosingQuoteMissing";
    /// Text after a closing quote that is neither a separator nor the end of the line.
    pub const UNEXPECTED_CHARACTER: &str = "BadRequest_UnexpectedCharacterInInputStream";
    /// Data that is not in its declared format: invalid `multijson`/`singlejson`, a
    /// corrupted gzip stream.
    pub const INVALID_BLOB: &str = "BadRequest_InvalidBlob";
    /// No record at all: an empty body, or no valid line in a `json` body.
    pub const NO_RECORDS: &str = "BadRequest_NoRecordsOrWrongFormat";
    /// The table has no column to map the data to.
    pub const INCONSISTENT_MAPPING: &str = "BadRequest_InconsistentMapping";
    /// A failure of Calypso itself while building the batches.
    pub const INTERNAL: &str = "General_InternalError";
    /// An ingestion mapping that cannot be parsed or does not fit the table.
    pub const INVALID_MAPPING: &str = "BadRequest_InvalidMapping";
    /// A `mappingName` / `ingestionMappingReference` naming no mapping of the table.
    pub const MAPPING_NOT_FOUND: &str = "BadRequest_MappingReferenceWasNotFound";
    /// Both an inline mapping and a mapping reference.
    pub const DUPLICATE_MAPPING: &str = "BadRequest_DuplicateMapping";
    /// A compressed body whose data is larger than [`super::MAX_DECOMPRESSED_BYTES`].
    pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLarge";
}

/// The most bytes a compressed body may decompress to (1 GiB, the streaming ingestion body
/// limit): a gzip bomb stops there instead of filling memory.
pub const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

/// A streaming-ingestion data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Comma-separated values (RFC 4180).
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Tab-separated values with backslash escapes (`\t`, `\n`, `\r`, `\\`).
    Tsve,
    /// Semicolon-separated values.
    Scsv,
    /// Pipe-separated values.
    Psv,
    /// Values separated by SOH (U+0001).
    Sohsv,
    /// One record per non-empty line, the line being the first column's value.
    Txt,
    /// JSON lines: one JSON object per line; malformed lines are skipped.
    Json,
    /// One JSON object, or an array of JSON objects.
    SingleJson,
    /// A sequence of JSON objects (or arrays of objects) separated by whitespace; objects
    /// may span lines.
    MultiJson,
}

impl Format {
    /// The format of an ingestion `format` property, case-insensitive.
    pub fn parse(name: &str) -> Option<Format> {
        let f = match name.trim().to_ascii_lowercase().as_str() {
            "csv" => Format::Csv,
            "tsv" => Format::Tsv,
            "tsve" => Format::Tsve,
            "scsv" => Format::Scsv,
            "psv" => Format::Psv,
            "sohsv" => Format::Sohsv,
            "txt" => Format::Txt,
            "json" => Format::Json,
            "singlejson" => Format::SingleJson,
            "multijson" => Format::MultiJson,
            _ => return None,
        };
        Some(f)
    }

    /// The format's Kusto name (lowercase).
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Tsve => "tsve",
            Format::Scsv => "scsv",
            Format::Psv => "psv",
            Format::Sohsv => "sohsv",
            Format::Txt => "txt",
            Format::Json => "json",
            Format::SingleJson => "singlejson",
            Format::MultiJson => "multijson",
        }
    }

    /// Whether the format is one of the JSON family (mapped by property name).
    pub fn is_json(self) -> bool {
        matches!(self, Format::Json | Format::SingleJson | Format::MultiJson)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a body could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IngestError {
    /// Kusto's error code (see [`codes`]).
    pub code: &'static str,
    /// What went wrong, naming the record when there is one.
    pub message: String,
    /// The 1-based number of the record at fault, if any.
    pub record: Option<u64>,
    /// Whether retrying the same request can never succeed.
    pub permanent: bool,
}

impl IngestError {
    /// A permanent error about the whole body.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        IngestError {
            code,
            message: message.into(),
            record: None,
            permanent: true,
        }
    }

    /// A permanent error about record `record` (1-based).
    pub fn at_record(code: &'static str, record: u64, message: impl Into<String>) -> Self {
        IngestError {
            code,
            message: message.into(),
            record: Some(record),
            permanent: true,
        }
    }

    /// The HTTP status of a request failing with this error: 400 for bad data, 500 for
    /// Calypso's own failures.
    pub fn http_status(&self) -> u16 {
        if self.code == codes::INTERNAL {
            500
        } else {
            400
        }
    }

    pub(crate) fn internal(message: impl fmt::Display) -> Self {
        IngestError {
            code: codes::INTERNAL,
            message: message.to_string(),
            record: None,
            permanent: false,
        }
    }
}

/// Decompresses `body` when it starts with the gzip magic bytes `1f 8b` (whatever the
/// request's `Content-Encoding` said; concatenated gzip members are all read); otherwise
/// returns it unchanged.
pub fn decompress(body: &[u8]) -> Result<Cow<'_, [u8]>, IngestError> {
    decompress_at_most(body, MAX_DECOMPRESSED_BYTES)
}

/// [`decompress`] with a limit: data larger than `limit` bytes is refused
/// ([`codes::PAYLOAD_TOO_LARGE`]) after reading at most one byte past it.
pub fn decompress_at_most(body: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, IngestError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(body)
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| IngestError::new(codes::INVALID_BLOB, format!("Invalid gzip stream: {e}")))?;
    if out.len() > limit {
        return Err(IngestError::new(
            codes::PAYLOAD_TOO_LARGE,
            format!("The compressed body decompresses to more than {limit} bytes"),
        ));
    }
    Ok(Cow::Owned(out))
}

/// Parses `data` (already decompressed) with the identity mapping — CSV family: fields
/// by ordinal; JSON family: properties by column name — into batches whose schema is
/// `columns` with [`KqlType::to_arrow`] types (all nullable).
///
/// Text is UTF-8 (a leading byte-order mark is skipped; invalid sequences become U+FFFD).
/// On error nothing is returned.
pub fn read(
    format: Format,
    data: &[u8],
    columns: &[(String, KqlType)],
) -> Result<Vec<RecordBatch>, IngestError> {
    read_mapped(format, data, columns, None)
}

/// [`read`] with an ingestion mapping: each column filled as the mapping says (columns
/// it does not name are missing values). The mapping's kind must fit the format (CSV
/// mappings for the CSV family, JSON mappings for the JSON family); with a CSV mapping,
/// every record must have as many fields as the first.
pub fn read_mapped(
    format: Format,
    data: &[u8],
    columns: &[(String, KqlType)],
    mapping: Option<&Mapping>,
) -> Result<Vec<RecordBatch>, IngestError> {
    if let Some(m) = mapping {
        if m.kind != MappingKind::of_format(format) {
            return Err(IngestError::new(
                codes::INVALID_MAPPING,
                format!(
                    "A {} mapping cannot be used with the {format} format",
                    m.kind
                ),
            ));
        }
        m.check_columns(columns)?;
    }
    let plan = mapping.map(|m| m.plan(columns));
    let plan = plan.as_deref();
    if columns.is_empty() {
        return Err(IngestError::new(
            codes::INCONSISTENT_MAPPING,
            "The table has no columns to ingest into",
        ));
    }
    let text = decode_text(data);
    let mut out = Batcher::new(columns);
    match format {
        Format::Csv => csv::read(&text, csv::Dialect::new(b',', false), &mut out, plan)?,
        Format::Tsv => csv::read(&text, csv::Dialect::new(b'\t', false), &mut out, plan)?,
        Format::Tsve => csv::read(&text, csv::Dialect::new(b'\t', true), &mut out, plan)?,
        Format::Scsv => csv::read(&text, csv::Dialect::new(b';', false), &mut out, plan)?,
        Format::Psv => csv::read(&text, csv::Dialect::new(b'|', false), &mut out, plan)?,
        Format::Sohsv => csv::read(&text, csv::Dialect::new(0x01, false), &mut out, plan)?,
        Format::Txt => csv::read_lines(&text, &mut out, plan)?,
        Format::Json => json::read_lines(&text, &mut out, plan)?,
        Format::MultiJson => json::read_multi(&text, &mut out, plan)?,
        Format::SingleJson => json::read_single(&text, &mut out, plan)?,
    }
    if out.total_rows() == 0 {
        return Err(IngestError::new(
            codes::NO_RECORDS,
            format!("The data holds no {format} records"),
        ));
    }
    out.finish()
}

/// [`decompress`] then [`read`].
pub fn read_body(
    format: Format,
    body: &[u8],
    columns: &[(String, KqlType)],
) -> Result<Vec<RecordBatch>, IngestError> {
    let data = decompress(body)?;
    read(format, &data, columns)
}

/// The body as text: UTF-8 without its byte-order mark, invalid sequences replaced.
fn decode_text(data: &[u8]) -> Cow<'_, str> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(data) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(data),
    }
}
