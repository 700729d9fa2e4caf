//! Kusto's ingestion data formats: request bodies → Arrow record batches in a table's
//! schema.
//!
//! * [`Format`]: the text formats of the CSV family (`csv`, `tsv`, `tsve`, `scsv`, `psv`,
//!   `sohsv`, `txt`), `raw` (the whole text as one value), the JSON family (`json`,
//!   `multijson`, `singlejson`), `w3clogfile` (W3C extended log files), and the binary
//!   formats `parquet`, `avro` / `apacheavro` (Avro object container files) and `orc`.
//! * [`read_input`]: the single entry point: recognizes gzip and zip bodies by their
//!   magic bytes (zip entries selected by `zipPattern`), reads each payload with the
//!   format and an optional [`Mapping`], and applies [`ReadOptions`]
//!   (`ignoreFirstRecord`, the `SourceLocation` of mappings).
//! * [`read`], [`read_mapped`], [`read_body`], [`decompress`]: the earlier entry points,
//!   for one payload.
//! * Batches have at most [`BATCH_ROWS`] rows; their schema is the table's columns with
//!   [`KqlType::to_arrow`] types, all nullable.
//! * Identity mapping (no mapping given): CSV family and `raw` by ordinal; JSON, W3C log
//!   files and the binary formats by name (case-sensitive), as Kusto documents.
//!
//! Kusto's rules (docs: "Data formats supported for ingestion", "Ingestion mappings",
//! "Ingestion behavior of invalid data", "Ingestion error codes"):
//! * A value that does not convert to its column's type becomes null; a string value
//!   longer than 1 MB is truncated to 1 MB, a dynamic value longer than 1 MB becomes null.
//! * A string column is never null (Kusto has no null strings): missing values are `""`.
//! * Malformed input fails the whole request, nothing is returned partially
//!   ([`IngestError`], with Kusto's error codes in [`codes`]); except in the `json`
//!   (JSON lines) format, whose malformed lines are skipped, as documented.

mod apply;
mod archive;
mod arrow_value;
mod binary;
mod columnar;
mod columns;
mod csv;
mod dynamic;
mod json;
pub mod mapping;
mod values;
mod w3c;

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use arrow::record_batch::RecordBatch;
use kql_types::KqlType;

use apply::Plan;
use archive::Payload;
use columnar::Converter;
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
    /// Parquet, Avro or ORC file that does not decode, a corrupted gzip stream or zip
    /// archive.
    pub const INVALID_BLOB: &str = "BadRequest_InvalidBlob";
    /// No record at all: an empty body, no valid line in a `json` body, a zip archive
    /// without a matching entry.
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
    /// An ingestion property that cannot be used (a `zipPattern` that is no pattern).
    pub const MALFORMED_PROPERTY: &str = "BadRequest_MalformedIngestionProperty";
}

/// The most bytes a compressed body (gzip, or all the entries of a zip archive) may
/// decompress to (1 GiB, the streaming ingestion body limit): a gzip or zip bomb stops
/// there instead of filling memory.
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
    /// The whole text as one string value in the first column: one record.
    Raw,
    /// The W3C extended log file format: `#Fields:` names the space-separated fields of
    /// the entries; other `#` directives are skipped; `-` is a missing value.
    W3cLogFile,
    /// A Parquet file.
    Parquet,
    /// An Avro object container file (Kusto's legacy `avro` reader; read here as
    /// `apacheavro` is).
    Avro,
    /// An Avro object container file, with logical types.
    ApacheAvro,
    /// An ORC file.
    Orc,
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
            "raw" => Format::Raw,
            "w3clogfile" => Format::W3cLogFile,
            "parquet" => Format::Parquet,
            "avro" => Format::Avro,
            "apacheavro" => Format::ApacheAvro,
            "orc" => Format::Orc,
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
            Format::Raw => "raw",
            Format::W3cLogFile => "w3clogfile",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
            Format::ApacheAvro => "apacheavro",
            Format::Orc => "orc",
        }
    }

    /// Whether the format is one of the JSON family (mapped by property name).
    pub fn is_json(self) -> bool {
        matches!(self, Format::Json | Format::SingleJson | Format::MultiJson)
    }

    /// Whether the format is binary (`parquet`, `avro`, `apacheavro`, `orc`): its data is
    /// read as a whole file, never decoded as text.
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            Format::Parquet | Format::Avro | Format::ApacheAvro | Format::Orc
        )
    }

    /// Whether the format is one of the CSV family (`csv`, `tsv`, `tsve`, `scsv`, `psv`,
    /// `sohsv`, `txt`): the formats whose first record `ignoreFirstRecord` drops.
    pub fn is_csv(self) -> bool {
        matches!(
            self,
            Format::Csv
                | Format::Tsv
                | Format::Tsve
                | Format::Scsv
                | Format::Psv
                | Format::Sohsv
                | Format::Txt
        )
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

/// Ingestion properties that change how a body is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `zipPattern`: the regular expression selecting the entries of a zip archive to
    /// ingest (matching whole entry names; a pattern that is no regular expression is
    /// read as a wildcard pattern such as `*.csv`). `None`: every file entry.
    pub zip_pattern: Option<String>,
    /// What the `SourceLocation` mapping transformation gives (the blob's URI; empty for
    /// streaming ingestion).
    pub source_location: String,
    /// `ignoreFirstRecord`: drop the first record of each file (a header) in the formats
    /// of the CSV family; ignored for other formats.
    pub ignore_first_record: bool,
    /// `validationPolicy` with `ValidationOptions` 0 (`DoNotValidate`): records of the CSV
    /// family may have fewer fields than the table has columns (the rest are missing
    /// values) or more (dropped). Otherwise every record needs as many fields as the
    /// table has columns (as many as the first record, with a mapping).
    pub skip_field_count_validation: bool,
}

/// Reads a request body or blob: gzip bodies are decompressed, zip archives give one
/// payload per file entry matching [`ReadOptions::zip_pattern`] (none matching:
/// [`codes::NO_RECORDS`]), together at most [`MAX_DECOMPRESSED_BYTES`]
/// ([`codes::PAYLOAD_TOO_LARGE`] past it); each payload is read with `format` and
/// `mapping` (the identity mapping when `None`) into batches whose schema is `columns`
/// with [`KqlType::to_arrow`] types (all nullable).
///
/// The mapping's kind must fit the format ([`MappingKind::of_format`]). Text formats are
/// UTF-8 (a leading byte-order mark is skipped; invalid sequences become U+FFFD); binary
/// formats ([`Format::is_binary`]) read each payload as a whole file, and a file that
/// does not decode is [`codes::INVALID_BLOB`]. Record numbers (`SourceLineNumber`,
/// errors) count from 1 in each payload. On error nothing is returned.
pub fn read_input(
    format: Format,
    body: &[u8],
    columns: &[(String, KqlType)],
    mapping: Option<&Mapping>,
    opts: &ReadOptions,
) -> Result<Vec<RecordBatch>, IngestError> {
    let plan = prepare(format, columns, mapping, opts)?;
    let payloads = archive::unpack(body, opts.zip_pattern.as_deref(), MAX_DECOMPRESSED_BYTES)?;
    read_payloads(format, payloads, columns, plan.as_ref(), opts)
}

/// Parses `data` (already decompressed) with the identity mapping — CSV family and
/// `raw`: fields by ordinal; JSON family, W3C logs, binary formats: by column name —
/// into batches whose schema is `columns` with [`KqlType::to_arrow`] types (all
/// nullable).
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
/// mappings for the CSV family, JSON mappings for the JSON family...); with a CSV
/// mapping, every record must have as many fields as the first.
pub fn read_mapped(
    format: Format,
    data: &[u8],
    columns: &[(String, KqlType)],
    mapping: Option<&Mapping>,
) -> Result<Vec<RecordBatch>, IngestError> {
    let opts = ReadOptions::default();
    let plan = prepare(format, columns, mapping, &opts)?;
    let payload = Payload {
        name: None,
        data: Cow::Borrowed(data),
    };
    read_payloads(format, vec![payload], columns, plan.as_ref(), &opts)
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

/// Checks the mapping and the table; the mapping fitted to the table.
fn prepare(
    format: Format,
    columns: &[(String, KqlType)],
    mapping: Option<&Mapping>,
    opts: &ReadOptions,
) -> Result<Option<Plan>, IngestError> {
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
    if columns.is_empty() {
        return Err(IngestError::new(
            codes::INCONSISTENT_MAPPING,
            "The table has no columns to ingest into",
        ));
    }
    Ok(mapping.map(|m| m.plan(columns, &opts.source_location)))
}

/// Reads every payload into one set of batches.
fn read_payloads(
    format: Format,
    payloads: Vec<Payload<'_>>,
    columns: &[(String, KqlType)],
    plan: Option<&Plan>,
    opts: &ReadOptions,
) -> Result<Vec<RecordBatch>, IngestError> {
    let (rows, batches) = if format.is_binary() {
        let mut conv = Converter::new(columns, plan);
        for p in payloads {
            let data = match p.data {
                Cow::Owned(v) => bytes::Bytes::from(v),
                Cow::Borrowed(b) => bytes::Bytes::copy_from_slice(b),
            };
            binary::read(format, data, &mut conv).map_err(|e| in_entry(e, p.name.as_deref()))?;
        }
        (conv.total_rows(), conv.finish())
    } else {
        let mut out = Batcher::new(columns);
        let skip_first = opts.ignore_first_record && format.is_csv();
        for p in payloads {
            let lenient = opts.skip_field_count_validation;
            read_text(
                format,
                &decode_text(&p.data),
                &mut out,
                plan,
                skip_first,
                lenient,
            )
            .map_err(|e| in_entry(e, p.name.as_deref()))?;
        }
        (out.total_rows(), out.finish()?)
    };
    if rows == 0 {
        return Err(IngestError::new(
            codes::NO_RECORDS,
            format!("The data holds no {format} records"),
        ));
    }
    Ok(batches)
}

/// Reads one text payload into `out`.
fn read_text(
    format: Format,
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
    skip_first: bool,
    lenient: bool,
) -> Result<(), IngestError> {
    let dialect = |sep, escapes| csv::Dialect::new(sep, escapes).lenient(lenient);
    match format {
        Format::Csv => csv::read(text, dialect(b',', false), out, plan, skip_first),
        Format::Tsv => csv::read(text, dialect(b'\t', false), out, plan, skip_first),
        Format::Tsve => csv::read(text, dialect(b'\t', true), out, plan, skip_first),
        Format::Scsv => csv::read(text, dialect(b';', false), out, plan, skip_first),
        Format::Psv => csv::read(text, dialect(b'|', false), out, plan, skip_first),
        Format::Sohsv => csv::read(text, dialect(0x01, false), out, plan, skip_first),
        Format::Txt => csv::read_lines(text, out, plan, skip_first),
        Format::Raw => csv::read_raw(text, out, plan),
        Format::Json => json::read_lines(text, out, plan),
        Format::MultiJson => json::read_multi(text, out, plan),
        Format::SingleJson => json::read_single(text, out, plan),
        Format::W3cLogFile => w3c::read(text, out, plan),
        Format::Parquet | Format::Avro | Format::ApacheAvro | Format::Orc => Err(
            IngestError::internal(format!("{format} is not a text format")),
        ),
    }
}

/// `e` naming the zip entry it happened in.
fn in_entry(mut e: IngestError, entry: Option<&str>) -> IngestError {
    if let Some(name) = entry {
        e.message = format!("In '{name}': {}", e.message);
    }
    e
}

/// The body as text: UTF-8 without its byte-order mark, invalid sequences replaced.
fn decode_text(data: &[u8]) -> Cow<'_, str> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(data) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(data),
    }
}
