//! KQL hash functions: `hash` / `hash_xxhash64`, `hash_sha256`, `hash_sha1`, `hash_md5`,
//! and `new_guid`.
//!
//! `hash()` is xxHash64 (seed 0) of the value's canonical bytes, which match the Kusto
//! docs' examples: strings hash their UTF-8 bytes, datetimes the 8 little-endian bytes of
//! their .NET ticks. The cryptographic hashes digest the UTF-8 bytes of the value's
//! `tostring()` text (for a datetime, `2020-01-01T00:00:00.0000000Z`), which also matches
//! the docs' examples.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, Int64Array, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType, DurationNanosecondType, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};
use datafusion_common::Result;
use sha2::Digest;
use xxhash_rust::xxh64::xxh64;

use crate::Registry;
use crate::convert::kernel::{KqlFn, i64_col, is_int_type, str_col};
use crate::convert::{kql_to_string, unix_nanos_to_ticks};
use crate::types::NANOS_PER_TICK;

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    let fns = [
        KqlFn::new("hash", 1, 2, DataType::Int64, eval_hash),
        KqlFn::new("hash_xxhash64", 1, 2, DataType::Int64, eval_hash),
        KqlFn::new("hash_sha256", 1, 1, DataType::Utf8, eval_sha256),
        KqlFn::new("hash_sha1", 1, 1, DataType::Utf8, eval_sha1),
        KqlFn::new("hash_md5", 1, 1, DataType::Utf8, eval_md5),
        KqlFn::volatile(
            "new_guid",
            0,
            0,
            DataType::FixedSizeBinary(16),
            eval_new_guid,
        ),
    ];
    for f in fns {
        let name = f.name_static();
        r.add_scalar(name, f.udf());
    }
}

/// The canonical bytes `hash()` digests for each row (`None` for null).
///
/// * string: UTF-8; dynamic: the JSON text (a JSON string: its unquoted value)
/// * int, long, bool: the value as 8 little-endian bytes of a long
/// * real: the 8 little-endian bytes of the IEEE 754 value
/// * datetime: .NET ticks (since 0001-01-01) as 8 little-endian bytes
/// * timespan: ticks as 8 little-endian bytes
/// * guid: its 16 bytes; decimal and others: the `tostring()` text
fn canonical_bytes(a: &ArrayRef) -> Result<Vec<Option<Vec<u8>>>> {
    let t = a.data_type();
    let rows = 0..a.len();
    let nulls = |i: usize| a.is_null(i);
    if is_int_type(t) || t == &DataType::Boolean {
        let c = cast_with_options(a, &DataType::Int64, &CastOptions::default())?;
        let c = c.as_primitive::<Int64Type>();
        return Ok(c
            .iter()
            .map(|v| v.map(|v| v.to_le_bytes().to_vec()))
            .collect());
    }
    match t {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let c = cast_with_options(a, &DataType::Float64, &CastOptions::default())?;
            let c = c.as_primitive::<Float64Type>();
            Ok(c.iter()
                .map(|v| v.map(|v| v.to_le_bytes().to_vec()))
                .collect())
        }
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            let c = cast_with_options(
                a,
                &DataType::Timestamp(TimeUnit::Nanosecond, None),
                &CastOptions::default(),
            )?;
            let c = c.as_primitive::<TimestampNanosecondType>();
            Ok(c.iter()
                .map(|v| v.map(|v| unix_nanos_to_ticks(v).to_le_bytes().to_vec()))
                .collect())
        }
        DataType::Duration(_) => {
            let c = cast_with_options(
                a,
                &DataType::Duration(TimeUnit::Nanosecond),
                &CastOptions::default(),
            )?;
            let c = c.as_primitive::<DurationNanosecondType>();
            Ok(c.iter()
                .map(|v| v.map(|v| (v / NANOS_PER_TICK).to_le_bytes().to_vec()))
                .collect())
        }
        DataType::FixedSizeBinary(_) => {
            let c = a.as_fixed_size_binary();
            Ok(c.iter().map(|v| v.map(<[u8]>::to_vec)).collect())
        }
        DataType::Utf8 | DataType::Utf8View => {
            let s = str_col(a);
            Ok(rows
                .map(|i| {
                    if nulls(i) {
                        None
                    } else {
                        Some(s.get(i).as_bytes().to_vec())
                    }
                })
                .collect())
        }
        _ => Ok(rows
            .map(|i| {
                if nulls(i) {
                    None
                } else {
                    Some(kql_to_string(a.as_ref(), i).into_bytes())
                }
            })
            .collect()),
    }
}

/// `hash(source[, mod])`: xxHash64 as a long; with `mod`, the unsigned hash modulo `mod`
/// (null when `mod` is not positive).
fn eval_hash(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let bytes = canonical_bytes(&args[0])?;
    let modulo = args.get(1).map(i64_col);
    let out: Int64Array = (0..rows)
        .map(|i| {
            let h = xxh64(bytes.get(i)?.as_deref()?, 0);
            match &modulo {
                None => Some(h as i64),
                Some(m) => {
                    if m.is_null(i) || m.value(i) <= 0 {
                        None
                    } else {
                        Some((h % m.value(i) as u64) as i64)
                    }
                }
            }
        })
        .collect();
    Ok(Arc::new(out))
}

/// Lower-case hex of a digest.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Applies a digest to the `tostring()` text of each row (null rows give `""`).
fn digest_rows(args: &[ArrayRef], rows: usize, digest: fn(&[u8]) -> String) -> ArrayRef {
    let a = &args[0];
    let s = str_col(a);
    let out: StringArray = (0..rows)
        .map(|i| {
            Some(if a.is_null(i) {
                String::new()
            } else {
                digest(s.get(i).as_bytes())
            })
        })
        .collect();
    Arc::new(out)
}

fn eval_sha256(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(digest_rows(args, rows, |b| hex(&sha2::Sha256::digest(b))))
}

fn eval_sha1(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(digest_rows(args, rows, |b| hex(&sha1_digest(b))))
}

fn eval_md5(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(digest_rows(args, rows, |b| hex(&md5::compute(b).0)))
}

/// SHA-1 (FIPS 180-4). Implemented here because the workspace has no sha1 crate.
fn sha1_digest(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let temp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = temp;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// `new_guid()`: a random (version 4) guid per row.
fn eval_new_guid(_args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let values = (0..rows).map(|_| Some(*uuid::Uuid::new_v4().as_bytes()));
    Ok(Arc::new(
        FixedSizeBinaryArray::try_from_sparse_iter_with_size(values, 16)?,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::convert::kernel::testing::{call, call_scalars, l, s};
    use datafusion_common::ScalarValue;
    use datafusion_expr::ColumnarValue;

    fn f(name: &str) -> Arc<datafusion_expr::ScalarUDF> {
        Registry::global().scalar(name).unwrap()
    }

    fn date(s: &str) -> ScalarValue {
        ScalarValue::TimestampNanosecond(crate::convert::parse_datetime(s), None)
    }

    #[test]
    fn hash_doc_examples() {
        for name in ["hash", "hash_xxhash64"] {
            let udf = f(name);
            assert_eq!(
                call_scalars(&udf, vec![s("World")]),
                l(1_846_988_464_401_551_951)
            );
            assert_eq!(call_scalars(&udf, vec![s("World"), l(100)]), l(51));
            assert_eq!(
                call_scalars(&udf, vec![date("2015-01-01")]),
                l(1_380_966_698_541_616_202)
            );
        }
        let udf = f("hash");
        assert_eq!(
            call_scalars(&udf, vec![ScalarValue::Int64(None)]),
            ScalarValue::Int64(None)
        );
        assert_eq!(
            call_scalars(&udf, vec![ScalarValue::Int32(Some(7))]),
            call_scalars(&udf, vec![l(7)])
        );
        match call_scalars(&udf, vec![l(-12345), l(7)]) {
            ScalarValue::Int64(Some(v)) => assert!((0..7).contains(&v)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crypto_doc_examples() {
        let d = date("2020-01-01");
        assert_eq!(
            call_scalars(&f("hash_sha256"), vec![s("World")]),
            s("78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524")
        );
        assert_eq!(
            call_scalars(&f("hash_sha256"), vec![d.clone()]),
            s("ba666752dc1a20eb750b0eb64e780cc4c968bc9fb8813461c1d7e750f302d71d")
        );
        assert_eq!(
            call_scalars(&f("hash_sha1"), vec![s("World")]),
            s("70c07ec18ef89c5309bbb0937f3a6342411e1fdd")
        );
        assert_eq!(
            call_scalars(&f("hash_sha1"), vec![d.clone()]),
            s("e903e533f4d636b4fc0dcf3cf81e7b7f330de776")
        );
        assert_eq!(
            call_scalars(&f("hash_md5"), vec![s("World")]),
            s("f5a7924e621e84c9280a9a27e1bcb7f6")
        );
        assert_eq!(
            call_scalars(&f("hash_md5"), vec![d]),
            s("786c530672d1f8db31fee25ea8a9390b")
        );
        assert_eq!(
            call_scalars(&f("hash_sha1"), vec![s("")]),
            s("da39a3ee5e6b4b0d3255bfef95601890afd80709")
        );
        let long_input = "a".repeat(1000);
        assert_eq!(
            hex(&sha1_digest(long_input.as_bytes())),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
    }

    #[test]
    fn new_guid_per_row() {
        let udf = f("new_guid");
        let out = call(&udf, vec![]).unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("expected array")
        };
        assert_eq!(a.len(), 1);
        let g = a.as_fixed_size_binary();
        assert_eq!(g.value(0).len(), 16);
        assert_eq!(g.value(0)[6] >> 4, 4);
    }
}
