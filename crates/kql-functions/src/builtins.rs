//! The functions the planner builds itself, as catalog entries: their KQL arity, typing
//! and default names live here with every other function's; their plans live in the
//! planner (`kql-planner/src/functions/`, `aggregates.rs`, `plugins/`).

use crate::Registry;
use crate::catalog::{
    AggregateImpl, Arity, BuiltinAggregate, BuiltinWindow, Function, FunctionKind, Naming, Numeric,
    Plugin, ScalarImpl, Special, Typing, WindowImpl,
};
use crate::types::KqlType;

/// Scalar functions: name, form, arity, typing.
const SPECIALS: &[(&str, Special, Arity, Typing)] = &[
    ("iff", Special::Iff, Arity::exactly(3), Typing::Common),
    ("iif", Special::Iff, Arity::exactly(3), Typing::Common),
    ("case", Special::Case, Arity::at_least(3), Typing::Common),
    (
        "isnull",
        Special::IsNull,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "isnotnull",
        Special::IsNotNull,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "isempty",
        Special::IsEmpty,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "isnotempty",
        Special::IsNotEmpty,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "coalesce",
        Special::Coalesce,
        Arity::at_least(1),
        Typing::Common,
    ),
    (
        "not",
        Special::Not,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "now",
        Special::Now,
        Arity::between(0, 1),
        Typing::Fixed(KqlType::DateTime),
    ),
    (
        "ago",
        Special::Ago,
        Arity::exactly(1),
        Typing::Fixed(KqlType::DateTime),
    ),
    (
        "toscalar",
        Special::ToScalar,
        Arity::at_least(1),
        Typing::Tabular,
    ),
    (
        "materialize",
        Special::Materialize,
        Arity::exactly(1),
        Typing::Tabular,
    ),
    (
        "table",
        Special::Table,
        Arity::between(1, 2),
        Typing::Tabular,
    ),
    (
        "current_principal",
        Special::CurrentPrincipal,
        Arity::exactly(0),
        Typing::Fixed(KqlType::String),
    ),
    (
        "current_principal_details",
        Special::CurrentPrincipalDetails,
        Arity::exactly(0),
        Typing::Fixed(KqlType::Dynamic),
    ),
    (
        "current_principal_is_member_of",
        Special::CurrentPrincipalIsMemberOf,
        Arity::at_least(1),
        Typing::Fixed(KqlType::Bool),
    ),
    (
        "ingestion_time",
        Special::HiddenColumn,
        Arity::exactly(0),
        Typing::Fixed(KqlType::DateTime),
    ),
    (
        "extent_id",
        Special::HiddenColumn,
        Arity::exactly(0),
        Typing::Fixed(KqlType::Guid),
    ),
    (
        "extentid",
        Special::HiddenColumn,
        Arity::exactly(0),
        Typing::Fixed(KqlType::Guid),
    ),
    (
        "extent_tags",
        Special::HiddenColumn,
        Arity::exactly(0),
        Typing::Fixed(KqlType::Dynamic),
    ),
];

const fn numeric(op: Numeric, conditional: bool) -> BuiltinAggregate {
    BuiltinAggregate::Numeric { op, conditional }
}

/// Aggregates mapped onto DataFusion's: name, form, arity, typing, default name.
const AGGREGATES: &[(&str, BuiltinAggregate, Arity, Typing, Naming)] = &[
    (
        "count",
        BuiltinAggregate::Count,
        Arity::between(0, 1),
        Typing::Fixed(KqlType::Long),
        Naming::Fixed("count_"),
    ),
    (
        "countif",
        BuiltinAggregate::CountIf,
        Arity::exactly(1),
        Typing::Fixed(KqlType::Long),
        Naming::Fixed("countif_"),
    ),
    (
        "sum",
        numeric(Numeric::Sum, false),
        Arity::exactly(1),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "sumif",
        numeric(Numeric::Sum, true),
        Arity::exactly(2),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "avg",
        numeric(Numeric::Avg, false),
        Arity::exactly(1),
        Typing::Implementation,
        Naming::FunctionArg,
    ),
    (
        "avgif",
        numeric(Numeric::Avg, true),
        Arity::exactly(2),
        Typing::Implementation,
        Naming::FunctionArg,
    ),
    (
        "min",
        numeric(Numeric::Min, false),
        Arity::exactly(1),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "minif",
        numeric(Numeric::Min, true),
        Arity::exactly(2),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "max",
        numeric(Numeric::Max, false),
        Arity::exactly(1),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "maxif",
        numeric(Numeric::Max, true),
        Arity::exactly(2),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "stdev",
        numeric(Numeric::Stdev, false),
        Arity::exactly(1),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "stdevif",
        numeric(Numeric::Stdev, true),
        Arity::exactly(2),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "stdevp",
        numeric(Numeric::Stdevp, false),
        Arity::exactly(1),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "variance",
        numeric(Numeric::Variance, false),
        Arity::exactly(1),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "varianceif",
        numeric(Numeric::Variance, true),
        Arity::exactly(2),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "variancep",
        numeric(Numeric::Variancep, false),
        Arity::exactly(1),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "variancepif",
        numeric(Numeric::Variancep, true),
        Arity::exactly(2),
        Typing::Fixed(KqlType::Real),
        Naming::FunctionArg,
    ),
    (
        "count_distinct",
        BuiltinAggregate::CountDistinct { conditional: false },
        Arity::exactly(1),
        Typing::Fixed(KqlType::Long),
        Naming::FunctionArg,
    ),
    (
        "count_distinctif",
        BuiltinAggregate::CountDistinct { conditional: true },
        Arity::exactly(2),
        Typing::Fixed(KqlType::Long),
        Naming::FunctionArg,
    ),
    (
        "percentile",
        BuiltinAggregate::Percentiles {
            single: true,
            weighted: false,
            array: false,
        },
        Arity::exactly(2),
        Typing::Argument(0),
        Naming::Percentiles,
    ),
    (
        "percentiles",
        BuiltinAggregate::Percentiles {
            single: false,
            weighted: false,
            array: false,
        },
        Arity::at_least(2),
        Typing::Argument(0),
        Naming::Percentiles,
    ),
    (
        "percentilew",
        BuiltinAggregate::Percentiles {
            single: true,
            weighted: true,
            array: false,
        },
        Arity::exactly(3),
        Typing::Argument(0),
        Naming::Percentiles,
    ),
    (
        "percentilesw",
        BuiltinAggregate::Percentiles {
            single: false,
            weighted: true,
            array: false,
        },
        Arity::at_least(3),
        Typing::Argument(0),
        Naming::Percentiles,
    ),
    (
        "percentiles_array",
        BuiltinAggregate::Percentiles {
            single: false,
            weighted: false,
            array: true,
        },
        Arity::at_least(2),
        Typing::Fixed(KqlType::Dynamic),
        Naming::Prefix("percentiles"),
    ),
    (
        "percentilesw_array",
        BuiltinAggregate::Percentiles {
            single: false,
            weighted: true,
            array: true,
        },
        Arity::at_least(3),
        Typing::Fixed(KqlType::Dynamic),
        Naming::Prefix("percentiles"),
    ),
    (
        "make_list",
        BuiltinAggregate::MakeList,
        Arity::between(1, 2),
        Typing::Fixed(KqlType::Dynamic),
        Naming::Prefix("list"),
    ),
    (
        "take_any",
        BuiltinAggregate::TakeAny,
        Arity::at_least(1),
        Typing::Argument(0),
        Naming::ArgumentOr("any_"),
    ),
    (
        // the obsolete spelling: `any_x`, as the binder names it
        "any",
        BuiltinAggregate::TakeAny,
        Arity::at_least(1),
        Typing::Argument(0),
        Naming::FunctionArg,
    ),
    (
        "arg_max",
        BuiltinAggregate::ArgExtreme { max: true },
        Arity::at_least(1),
        Typing::Argument(0),
        Naming::ArgExtreme,
    ),
    (
        "arg_min",
        BuiltinAggregate::ArgExtreme { max: false },
        Arity::at_least(1),
        Typing::Argument(0),
        Naming::ArgExtreme,
    ),
];

/// Window functions mapped onto DataFusion's.
const WINDOWS: &[(&str, BuiltinWindow, Arity, Typing)] = &[
    (
        "row_number",
        BuiltinWindow::RowNumber,
        Arity::between(0, 2),
        Typing::Fixed(KqlType::Long),
    ),
    (
        "prev",
        BuiltinWindow::Prev,
        Arity::between(1, 3),
        Typing::Argument(0),
    ),
    (
        "next",
        BuiltinWindow::Next,
        Arity::between(1, 3),
        Typing::Argument(0),
    ),
];

/// `evaluate` plugins.
const PLUGINS: &[(&str, Plugin, Arity)] = &[
    ("bag_unpack", Plugin::BagUnpack, Arity::between(1, 4)),
    ("narrow", Plugin::Narrow, Arity::exactly(0)),
    ("identity", Plugin::Identity, Arity::exactly(0)),
    (
        "estimate_rows_count",
        Plugin::EstimateRowsCount,
        Arity::exactly(0),
    ),
    ("pivot", Plugin::Pivot, Arity::at_least(1)),
    ("rows_near", Plugin::RowsNear, Arity::between(2, 3)),
    ("preview", Plugin::Preview, Arity::exactly(1)),
    ("session_count", Plugin::SessionCount, Arity::at_least(6)),
    (
        "sliding_window_counts",
        Plugin::SlidingWindowCounts,
        Arity::at_least(6),
    ),
    (
        "activity_counts_metrics",
        Plugin::ActivityCountsMetrics,
        Arity::at_least(5),
    ),
    (
        "activity_metrics",
        Plugin::ActivityMetrics,
        Arity::at_least(5),
    ),
    (
        "new_activity_metrics",
        Plugin::NewActivityMetrics,
        Arity::at_least(5),
    ),
    (
        "active_users_count",
        Plugin::ActiveUsersCount,
        Arity::at_least(8),
    ),
    ("funnel_sequence", Plugin::FunnelSequence, Arity::exactly(8)),
    (
        "funnel_sequence_completion",
        Plugin::FunnelSequenceCompletion,
        Arity::exactly(8),
    ),
    (
        "rolling_percentile",
        Plugin::RollingPercentile,
        Arity::at_least(5),
    ),
];

/// Registers the planner-built functions.
pub(crate) fn register(r: &mut Registry) {
    for &(name, special, arity, typing) in SPECIALS {
        r.add(Function {
            name: name.to_string(),
            arity,
            typing,
            kind: FunctionKind::Scalar(ScalarImpl::Special(special)),
        });
    }
    for &(name, builtin, arity, typing, naming) in AGGREGATES {
        r.add(Function {
            name: name.to_string(),
            arity,
            typing,
            kind: FunctionKind::Aggregate {
                imp: AggregateImpl::Builtin(builtin),
                naming,
            },
        });
    }
    for &(name, builtin, arity, typing) in WINDOWS {
        r.add(Function {
            name: name.to_string(),
            arity,
            typing,
            kind: FunctionKind::Window(WindowImpl::Builtin(builtin)),
        });
    }
    for &(name, plugin, arity) in PLUGINS {
        r.add_plugin(name, plugin, arity);
    }
}
