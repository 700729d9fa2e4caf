//! The binary (columnar and row-binary) formats: Parquet files, Avro object container
//! files (`avro` and `apacheavro` alike) and ORC files, decoded into Arrow batches of at
//! most [`BATCH_ROWS`] rows and handed to the [`Converter`].
//!
//! * Compression inside the files: Parquet snappy, gzip, zstd, lz4 and brotli; Avro
//!   deflate, snappy, zstandard and bzip2; ORC zlib, snappy, lz4, lzo and zstd.
//! * Schema-less Avro (bare records without the container header) is refused, as Kusto
//!   refuses it.
//! * A file that does not decode fails the whole request (`BadRequest_InvalidBlob`);
//!   so does a decoder panic on malformed data, which is caught.

use std::panic::{AssertUnwindSafe, catch_unwind};

use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::columnar::Converter;
use crate::{BATCH_ROWS, Format, IngestError, codes};

/// Decodes one file of a binary `format` into `conv`; an empty file has no records.
pub(crate) fn read(
    format: Format,
    data: Bytes,
    conv: &mut Converter<'_>,
) -> Result<(), IngestError> {
    conv.start_payload();
    if data.is_empty() {
        return Ok(());
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| match format {
        Format::Parquet => parquet(data, conv),
        Format::Avro | Format::ApacheAvro => avro(&data, conv),
        Format::Orc => orc(data, conv),
        other => Err(IngestError::internal(format!(
            "{other} is not a binary format"
        ))),
    }));
    decoded.unwrap_or_else(|_| {
        Err(invalid(
            format,
            "the decoder failed on malformed data".to_string(),
        ))
    })
}

fn invalid(format: Format, detail: String) -> IngestError {
    let name = match format {
        Format::Parquet => "Parquet file",
        Format::Avro | Format::ApacheAvro => "Avro file",
        _ => "ORC file",
    };
    IngestError::new(codes::INVALID_BLOB, format!("Invalid {name}: {detail}"))
}

/// Feeds every batch of `batches` to `conv`.
fn drain(
    format: Format,
    batches: impl Iterator<Item = Result<RecordBatch, ArrowError>>,
    conv: &mut Converter<'_>,
) -> Result<(), IngestError> {
    for batch in batches {
        let batch = batch.map_err(|e| invalid(format, e.to_string()))?;
        conv.push(&batch)?;
    }
    Ok(())
}

fn parquet(data: Bytes, conv: &mut Converter<'_>) -> Result<(), IngestError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| invalid(Format::Parquet, e.to_string()))?
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| invalid(Format::Parquet, e.to_string()))?;
    drain(Format::Parquet, reader, conv)
}

fn avro(data: &[u8], conv: &mut Converter<'_>) -> Result<(), IngestError> {
    if !data.starts_with(b"Obj\x01") {
        return Err(invalid(
            Format::Avro,
            "the data is not an Avro object container file (schema-less Avro is not supported)"
                .to_string(),
        ));
    }
    avro_framing(data).map_err(|e| invalid(Format::Avro, e))?;
    let reader = arrow_avro::reader::ReaderBuilder::new()
        .with_batch_size(BATCH_ROWS)
        .build(data)
        .map_err(|e| invalid(Format::Avro, e.to_string()))?;
    drain(Format::Avro, reader, conv)
}

/// Checks the framing of an Avro object container file: a header, then blocks each
/// followed by the header's sync marker, up to the end of the data. (The decoder stops
/// without an error at a truncated block, which would return part of the data.)
fn avro_framing(data: &[u8]) -> Result<(), String> {
    let mut pos = 4;
    // The metadata: a map of strings to bytes, in blocks (a negative count is followed
    // by the block's size).
    loop {
        let count = avro_long(data, &mut pos)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            avro_long(data, &mut pos)?;
        }
        for _ in 0..count.unsigned_abs() {
            avro_skip_bytes(data, &mut pos)?;
            avro_skip_bytes(data, &mut pos)?;
        }
    }
    let sync = data
        .get(pos..pos + 16)
        .ok_or_else(|| "the header is truncated".to_string())?;
    pos += 16;
    let mut block = 0u64;
    while pos < data.len() {
        block += 1;
        let count = avro_long(data, &mut pos)?;
        let size = avro_long(data, &mut pos)?;
        let end = usize::try_from(size)
            .ok()
            .filter(|_| count >= 0)
            .and_then(|s| pos.checked_add(s))
            .ok_or_else(|| format!("data block {block} has a negative size or count"))?;
        if data.get(end..end.saturating_add(16)) != Some(sync) {
            return Err(format!(
                "data block {block} is truncated or does not end with the file's sync marker"
            ));
        }
        pos = end + 16;
    }
    Ok(())
}

/// An Avro `long` (zig-zag variable-length) at `pos`.
fn avro_long(data: &[u8], pos: &mut usize) -> Result<i64, String> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *data
            .get(*pos)
            .ok_or_else(|| "the file is truncated".to_string())?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
        }
    }
    Err("a number is too long".to_string())
}

/// Skips Avro `bytes` or `string` (a length, then the data) at `pos`.
fn avro_skip_bytes(data: &[u8], pos: &mut usize) -> Result<(), String> {
    let len = avro_long(data, pos)?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| pos.checked_add(l))
        .filter(|&e| e <= data.len())
        .ok_or_else(|| "the header is truncated".to_string())?;
    *pos = end;
    Ok(())
}

fn orc(data: Bytes, conv: &mut Converter<'_>) -> Result<(), IngestError> {
    if !data.starts_with(b"ORC") {
        return Err(invalid(
            Format::Orc,
            "the data does not start with the ORC magic bytes".to_string(),
        ));
    }
    let reader = orc_rust::ArrowReaderBuilder::try_new(data)
        .map_err(|e| invalid(Format::Orc, e.to_string()))?
        .with_batch_size(BATCH_ROWS)
        .build();
    drain(Format::Orc, reader, conv)
}
