//! Kusto's result limits: at most 500,000 records or 64 MB per result unless
//! `notruncation`; a cut result carries the E_QUERY_RESULT_SET_TOO_LARGE partial error.

use calypso_engine::{QueryResult, ResultTable};

use crate::wire::errors::{OneApiError, ResponseContext};

/// Cuts every table to the limits; returns the partial errors as `(table index, error)`.
pub fn truncate(
    mut result: QueryResult,
    max_records: Option<u64>,
    max_bytes: Option<u64>,
    ctx: &ResponseContext,
) -> (QueryResult, Vec<(usize, OneApiError)>) {
    let mut errors = Vec::new();
    for (i, t) in result.tables.iter_mut().enumerate() {
        if let Some(limit) = cut(t, max_records, max_bytes) {
            errors.push((i, OneApiError::result_set_too_large(limit, ctx)));
        }
    }
    (result, errors)
}

/// The bytes a batch's values take on the wire, roughly: string bytes plus fixed widths.
/// (Arrow's memory size would count buffers shared with other batches.)
fn value_bytes(b: &arrow::array::RecordBatch) -> u64 {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    let rows = b.num_rows() as u64;
    b.columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8 => {
                let s = c.as_string::<i32>();
                let o = s.value_offsets();
                (o[o.len() - 1] - o[0]).max(0) as u64 + 4 * rows
            }
            DataType::LargeUtf8 => {
                let s = c.as_string::<i64>();
                let o = s.value_offsets();
                (o[o.len() - 1] - o[0]).max(0) as u64 + 4 * rows
            }
            other => other.primitive_width().unwrap_or(8) as u64 * rows,
        })
        .sum()
}

/// Cuts one table; returns the limit that was hit.
fn cut(t: &mut ResultTable, max_records: Option<u64>, max_bytes: Option<u64>) -> Option<u64> {
    let mut kept_rows: u64 = 0;
    let mut kept_bytes: u64 = 0;
    let mut out = Vec::new();
    let mut hit = None;
    for b in t.batches.drain(..) {
        if hit.is_some() {
            break;
        }
        let rows = b.num_rows() as u64;
        let per_row = if rows == 0 {
            0
        } else {
            value_bytes(&b).div_ceil(rows)
        };
        let mut take = rows;
        if let Some(m) = max_records.filter(|m| kept_rows + take > *m) {
            take = m - kept_rows;
            hit = Some(m);
        }
        if let Some(m) = max_bytes.filter(|m| per_row > 0 && kept_bytes + take * per_row > *m) {
            take = m.saturating_sub(kept_bytes) / per_row;
            hit = Some(m);
        }
        kept_rows += take;
        kept_bytes += take * per_row;
        out.push(if take == rows {
            b
        } else {
            b.slice(0, take as usize)
        });
    }
    t.batches = out;
    hit
}

#[cfg(test)]
mod tests {
    use super::*;
    use calypso_engine::{Engine, RequestOptions};

    fn result(n: u64) -> QueryResult {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(Engine::new().execute(
            calypso_engine::DEFAULT_DATABASE,
            &format!("range x from 1 to {n} step 1 | extend s = strcat('v', x)"),
            &RequestOptions::default(),
        ))
        .expect("query")
    }

    #[test]
    fn cuts_at_the_record_limit_with_a_partial_error() {
        let ctx = ResponseContext::new("c", "a");
        let (r, errors) = truncate(result(1000), Some(100), None, &ctx);
        assert_eq!(r.tables[0].row_count(), 100);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].1.is_limits_exceeded());
    }

    #[test]
    fn cuts_at_the_size_limit() {
        let ctx = ResponseContext::new("c", "a");
        let (r, errors) = truncate(result(1000), None, Some(2_000), &ctx);
        assert!(r.tables[0].row_count() < 1000 && r.tables[0].row_count() > 0);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn leaves_small_results_alone() {
        let ctx = ResponseContext::new("c", "a");
        let (r, errors) = truncate(result(10), Some(500_000), Some(64 << 20), &ctx);
        assert_eq!(r.tables[0].row_count(), 10);
        assert!(errors.is_empty());
    }
}
