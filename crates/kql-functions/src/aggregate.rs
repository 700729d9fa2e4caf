//! KQL aggregate functions: `dcount`, `dcountif`, `make_list`, `make_list_if`,
//! `make_list_with_nulls`, `make_set`, `make_set_if`, `make_bag`, `make_bag_if`,
//! `take_any` (alias `any`).

pub mod collect;
pub mod dcount;
pub mod hll;
pub mod take_any;

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion_common::ScalarValue;
use datafusion_expr::function::AccumulatorArgs;
use datafusion_expr::{AggregateUDF, ColumnarValue};

use crate::Registry;
use collect::{Collect, Kind};

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    r.add_aggregate(
        "dcount",
        AggregateUDF::new_from_impl(dcount::DCount::new("dcount", false)),
    );
    r.add_aggregate(
        "dcountif",
        AggregateUDF::new_from_impl(dcount::DCount::new("dcountif", true)),
    );
    let collects: &[(&'static str, Kind, bool)] = &[
        ("make_list", Kind::List, false),
        ("make_list_if", Kind::List, true),
        ("make_list_with_nulls", Kind::ListWithNulls, false),
        ("make_set", Kind::Set, false),
        ("make_set_if", Kind::Set, true),
        ("make_bag", Kind::Bag, false),
        ("make_bag_if", Kind::Bag, true),
    ];
    for &(name, kind, conditional) in collects {
        r.add_aggregate(
            name,
            AggregateUDF::new_from_impl(Collect::new(name, kind, conditional)),
        );
    }
    r.add_aggregate(
        "take_any",
        AggregateUDF::new_from_impl(take_any::TakeAny::new("take_any")),
    );
    r.add_aggregate(
        "any",
        AggregateUDF::new_from_impl(take_any::TakeAny::new("any")),
    );
}

/// The value of argument `idx` when it is a constant (e.g. an accuracy or maxSize).
pub(crate) fn literal_i64(args: &AccumulatorArgs<'_>, idx: usize) -> Option<i64> {
    let e = args.exprs.get(idx)?;
    let batch = RecordBatch::new_empty(Arc::new(args.schema.clone()));
    let v = match e.evaluate(&batch).ok()? {
        ColumnarValue::Scalar(s) => s,
        ColumnarValue::Array(a) if a.len() == 1 => ScalarValue::try_from_array(&a, 0).ok()?,
        ColumnarValue::Array(_) => return None,
    };
    match v.cast_to(&arrow::datatypes::DataType::Int64).ok()? {
        ScalarValue::Int64(v) => v,
        _ => None,
    }
}

/// True when row `i` of a predicate column is (non-null) `true`.
pub(crate) fn predicate_true(p: &BooleanArray, i: usize) -> bool {
    p.is_valid(i) && p.value(i)
}
