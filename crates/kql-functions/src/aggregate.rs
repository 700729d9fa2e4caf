//! KQL aggregate functions: `dcount`, `dcountif`, `make_list`, `make_list_if`,
//! `make_list_with_nulls`, `make_set`, `make_set_if`, `make_bag`, `make_bag_if`,
//! `take_any` (alias `any`).

pub mod binary_all;
pub mod buildschema;
pub mod collect;
pub mod covariance;
pub mod dcount;
pub mod hll;
pub mod hll_agg;
pub mod take_any;
pub mod tdigest;
pub mod tdigest_fns;

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion_common::ScalarValue;
use datafusion_expr::function::AccumulatorArgs;
use datafusion_expr::{AggregateUDF, ColumnarValue};

use crate::Registry;
use crate::catalog::{Arity, Naming};
use collect::{Collect, Kind};

/// Registers this family's functions. `make_list`'s UDAF is `__make_list` and `take_any`'s
/// `__take_any`: the catalog's `make_list` and `take_any` are planned (over serialized rows
/// a list keeps their order; several columns of `take_any` select one row).
pub(crate) fn register(r: &mut Registry) {
    binary_all::register(r);
    buildschema::register(r);
    covariance::register(r);
    hll_agg::register(r);
    tdigest_fns::register(r);
    take_any::register_if(r);
    r.add_aggregate(
        "dcount",
        AggregateUDF::new_from_impl(dcount::DCount::new("dcount", false)),
        Arity::between(1, 2),
        Naming::FunctionArg,
    );
    r.add_aggregate(
        "dcountif",
        AggregateUDF::new_from_impl(dcount::DCount::new("dcountif", true)),
        Arity::between(2, 3),
        Naming::FunctionArg,
    );
    let collects: &[(&'static str, &'static str, Kind, bool, &'static str)] = &[
        ("__make_list", "make_list", Kind::List, false, "list"),
        ("make_list_if", "make_list_if", Kind::List, true, "list"),
        (
            "make_list_with_nulls",
            "make_list_with_nulls",
            Kind::ListWithNulls,
            false,
            "list",
        ),
        ("make_set", "make_set", Kind::Set, false, "set"),
        ("make_set_if", "make_set_if", Kind::Set, true, "set"),
        ("make_bag", "make_bag", Kind::Bag, false, "bag"),
        ("make_bag_if", "make_bag_if", Kind::Bag, true, "bag"),
    ];
    for &(kql_name, name, kind, conditional, prefix) in collects {
        let arity = if conditional {
            Arity::between(2, 3)
        } else {
            Arity::between(1, 2)
        };
        r.add_aggregate(
            kql_name,
            AggregateUDF::new_from_impl(Collect::new(name, kind, conditional)),
            arity,
            Naming::Prefix(prefix),
        );
    }
    // `take_any`/`any` are planned (several columns select a row); one column is this.
    r.add_aggregate(
        "__take_any",
        AggregateUDF::new_from_impl(take_any::TakeAny::new("take_any")),
        Arity::exactly(1),
        Naming::ArgumentOr("any_"),
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
