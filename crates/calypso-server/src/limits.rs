//! Kusto's result truncation, applied as rows are written: at most `truncationmaxrecords`
//! (500,000) records and `truncationmaxsize` (64 MB) of values per table unless
//! `notruncation`; a cut table carries the E_QUERY_RESULT_SET_TOO_LARGE partial error.
//! The engine resolves the limits ([`ResultLimits::resolve`]) and puts the record limit
//! into the plan, so a query never produces more than one row past it.

use arrow::array::RecordBatch;
use calypso_engine::ResultLimits;
use kql_types::KqlType;

use crate::wire::service::batch_size;
use crate::wire::{OneApiError, ResponseContext};

/// The limit that cut a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `truncationmaxrecords`.
    Records(u64),
    /// `truncationmaxsize` (bytes).
    Bytes(u64),
}

impl Exceeded {
    /// The partial failure reported for it.
    pub fn error(self, ctx: &ResponseContext) -> OneApiError {
        match self {
            Exceeded::Records(n) => OneApiError::result_set_too_large(n, ctx),
            Exceeded::Bytes(n) => OneApiError::result_size_too_large(n, ctx),
        }
    }
}

/// One table's truncation, fed its batches in order.
#[derive(Debug, Clone)]
pub struct Cut {
    limits: ResultLimits,
    rows: u64,
    bytes: u64,
}

impl Cut {
    /// A table that obeys `limits`.
    pub fn new(limits: ResultLimits) -> Cut {
        Cut {
            limits,
            rows: 0,
            bytes: 0,
        }
    }

    /// The part of `batch` that fits in the limits, and the limit that cut it when one did
    /// (the table ends there). Bytes are counted per row as the batch's average.
    pub fn take(
        &mut self,
        batch: RecordBatch,
        columns: &[(String, KqlType)],
    ) -> (RecordBatch, Option<Exceeded>) {
        let rows = batch.num_rows() as u64;
        if rows == 0 {
            return (batch, None);
        }
        let per_row = batch_size(&batch, columns).div_ceil(rows);
        let mut take = rows;
        let mut hit = None;
        if let Some(m) = self
            .limits
            .max_records
            .filter(|m| self.rows.saturating_add(take) > *m)
        {
            take = m.saturating_sub(self.rows);
            hit = Some(Exceeded::Records(m));
        }
        if let Some(m) = self
            .limits
            .max_bytes
            .filter(|m| per_row > 0 && self.bytes.saturating_add(take.saturating_mul(per_row)) > *m)
        {
            take = m.saturating_sub(self.bytes) / per_row;
            hit = Some(Exceeded::Bytes(m));
        }
        self.rows += take;
        self.bytes += take * per_row;
        let kept = if take == rows {
            batch
        } else {
            batch.slice(0, usize::try_from(take).unwrap_or(0))
        };
        (kept, hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn columns() -> Vec<(String, KqlType)> {
        vec![("x".into(), KqlType::Long), ("s".into(), KqlType::String)]
    }

    /// `n` rows of a long and a 9-byte string: 17 value bytes a row.
    fn batch(n: i64) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("v{i:08}")),
                )),
            ],
        )
        .expect("batch")
    }

    fn limits(records: Option<u64>, bytes: Option<u64>) -> ResultLimits {
        ResultLimits {
            max_records: records,
            max_bytes: bytes,
            take_max_records: None,
        }
    }

    #[test]
    fn cuts_at_the_record_limit_across_batches() {
        let mut cut = Cut::new(limits(Some(150), None));
        let (b, hit) = cut.take(batch(100), &columns());
        assert_eq!((b.num_rows(), hit), (100, None));
        let (b, hit) = cut.take(batch(100), &columns());
        assert_eq!((b.num_rows(), hit), (50, Some(Exceeded::Records(150))));
    }

    #[test]
    fn cuts_at_the_size_limit() {
        let mut cut = Cut::new(limits(None, Some(17 * 10 + 5)));
        let (b, hit) = cut.take(batch(100), &columns());
        assert_eq!((b.num_rows(), hit), (10, Some(Exceeded::Bytes(175))));
    }

    #[test]
    fn leaves_small_results_alone() {
        let mut cut = Cut::new(limits(Some(500_000), Some(64 << 20)));
        let (b, hit) = cut.take(batch(10), &columns());
        assert_eq!((b.num_rows(), hit), (10, None));
        let mut none = Cut::new(ResultLimits::NONE);
        let (b, hit) = none.take(batch(1000), &columns());
        assert_eq!((b.num_rows(), hit), (1000, None));
    }

    #[test]
    fn a_zero_record_limit_keeps_nothing() {
        let mut cut = Cut::new(limits(Some(0), None));
        let (b, hit) = cut.take(batch(3), &columns());
        assert_eq!((b.num_rows(), hit), (0, Some(Exceeded::Records(0))));
    }
}
