//! What the [`Registry`](crate::Registry) knows of each KQL function: its kind, its KQL
//! arity, how its result is typed and named, and its implementation.
//!
//! Every function KQL text can call is one [`Function`]: a scalar function, an aggregate
//! (only valid in `summarize`, `make-series` and friends), a window function (valid only
//! over serialized rows) or an `evaluate` plugin. Implementations are either DataFusion
//! user-defined functions ([`ScalarUDF`], [`AggregateUDF`], [`WindowUDF`]) or a planner
//! form (`Special`, `BuiltinAggregate`, `BuiltinWindow`, `Plugin`): functions that need
//! the planner's state (the row, the scope, the request) or map onto one of DataFusion's
//! own functions. The planner matches those enums exhaustively, so a variant added here
//! without a plan is a compile error, not a runtime surprise.

use std::sync::Arc;

use datafusion_expr::{AggregateUDF, ScalarUDF, WindowUDF};

use crate::types::KqlType;

/// How many arguments a KQL call takes (named arguments included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arity {
    /// At least this many.
    pub min: usize,
    /// At most this many; `None`: any number.
    pub max: Option<usize>,
}

impl Arity {
    /// Exactly `n` arguments.
    pub const fn exactly(n: usize) -> Arity {
        Arity {
            min: n,
            max: Some(n),
        }
    }

    /// From `min` to `max` arguments.
    pub const fn between(min: usize, max: usize) -> Arity {
        Arity {
            min,
            max: Some(max),
        }
    }

    /// `min` arguments or more.
    pub const fn at_least(min: usize) -> Arity {
        Arity { min, max: None }
    }

    /// Whether `n` arguments fit.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }

    /// `"2"`, `"1 to 3"`, `"at least 2"`: for error messages.
    pub fn describe(&self) -> String {
        match self.max {
            Some(m) if m == self.min => format!("{m}"),
            Some(m) => format!("{} to {m}", self.min),
            None => format!("at least {}", self.min),
        }
    }
}

/// How the KQL type of a call's result is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// The implementation's Arrow return type (read back through [`KqlType::from_arrow`]).
    Implementation,
    /// Always this type.
    Fixed(KqlType),
    /// The type of this argument (`min`, `prev`, `take_any`).
    Argument(usize),
    /// The common type of the value arguments (`iff`, `case`, `coalesce`).
    Common,
    /// A table (`toscalar`'s argument, `table()`, a plugin): the planner derives its
    /// columns.
    Tabular,
}

/// Kusto's default name of an aggregate's result column when `summarize` names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `<function>_<first argument's name>`: `sum_Duration`, `dcount_User`.
    FunctionArg,
    /// This text: `count_`.
    Fixed(&'static str),
    /// `<prefix>_<first argument's name>`: `list_x` for `make_list(x)`.
    Prefix(&'static str),
    /// The first argument's own name, or this text when it has none (`take_any`: `x`,
    /// `any_`).
    ArgumentOr(&'static str),
    /// The first argument's own name, or the next free `ColumnN` when it has none
    /// (`binary_all_and(x)`: `x`; `binary_all_and(x + 1)`: `Column1`).
    Argument,
    /// `percentile_<arg>_<p>` per percentage (`percentile_x_99_9`).
    Percentiles,
    /// The extremum's column then the returned columns (`arg_max`: `max_x`, `y`, `z`).
    ArgExtreme,
}

/// A scalar function the planner builds itself: it needs the row, the scope, the
/// request's context, or more than one DataFusion expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `iff(p, a, b)` / `iif`.
    Iff,
    /// `case(p1, v1, ..., else)`.
    Case,
    /// `isnull(x)`: a string is never null.
    IsNull,
    /// `isnotnull(x)`.
    IsNotNull,
    /// `isempty(x)`: null or `""`.
    IsEmpty,
    /// `isnotempty(x)`.
    IsNotEmpty,
    /// `coalesce(...)`: the first non-null (non-empty string) value.
    Coalesce,
    /// `not(p)`.
    Not,
    /// `now([offset])`: the request's time.
    Now,
    /// `ago(timespan)`.
    Ago,
    /// `toscalar(T)`: a tabular expression's first value.
    ToScalar,
    /// `materialize(T)`: a table, not a scalar.
    Materialize,
    /// `table("name")`: a table, not a scalar.
    Table,
    /// `current_principal()`.
    CurrentPrincipal,
    /// `current_principal_details()`.
    CurrentPrincipalDetails,
    /// `current_principal_is_member_of(...)`.
    CurrentPrincipalIsMemberOf,
    /// `ingestion_time()`, `extent_id()`, `extent_tags()`: a row's hidden column.
    HiddenColumn,
}

/// A scalar function's implementation.
#[derive(Debug, Clone)]
pub enum ScalarImpl {
    /// A DataFusion UDF called with the planned arguments.
    Udf(Arc<ScalarUDF>),
    /// Built by the planner.
    Special(Special),
}

/// The numeric aggregates mapped onto DataFusion's own (`sum`, `avg`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numeric {
    /// `sum`: 0 over no values.
    Sum,
    /// `avg`.
    Avg,
    /// `min`.
    Min,
    /// `max`.
    Max,
    /// `stdev` (sample).
    Stdev,
    /// `stdevp` (population).
    Stdevp,
    /// `variance` (sample).
    Variance,
    /// `variancep` (population).
    Variancep,
}

/// An aggregate the planner maps onto DataFusion's own aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinAggregate {
    /// `count()` / `count(x)`.
    Count,
    /// `countif(p)`.
    CountIf,
    /// `sum(x)`, `avg(x)`, ...; `conditional`: the `*if` form with a predicate.
    Numeric {
        /// Which.
        op: Numeric,
        /// The `*if` form (`sumif(x, p)`).
        conditional: bool,
    },
    /// `count_distinct(x)` / `count_distinctif(x, p)`: exact.
    CountDistinct {
        /// The `*if` form.
        conditional: bool,
    },
    /// `percentile(x, p)`, `percentiles(x, p, ...)`, the weighted `percentilew(x, w, p)`,
    /// `percentilesw(x, w, p, ...)`, and the `_array` forms giving one dynamic array.
    Percentiles {
        /// One percentage.
        single: bool,
        /// A weight argument after the value.
        weighted: bool,
        /// One dynamic array of the results (percentages may be a dynamic array).
        array: bool,
    },
    /// `arg_max` / `arg_min`.
    ArgExtreme {
        /// `arg_max`.
        max: bool,
    },
    /// `make_list(x)`: over serialized rows the list keeps their order (DataFusion's
    /// `array_agg` with an ORDER BY); otherwise this UDAF.
    MakeList,
    /// `take_any(x)` (the registry's `__take_any` UDAF); with several columns or `*`, one
    /// arbitrary row per group, planned as a row selection.
    TakeAny,
}

/// An aggregate's implementation.
#[derive(Debug, Clone)]
pub enum AggregateImpl {
    /// A DataFusion UDAF called with the planned arguments (an `*if` form's predicate last).
    Udaf(Arc<AggregateUDF>),
    /// Mapped by the planner.
    Builtin(BuiltinAggregate),
}

/// A window function the planner maps onto DataFusion's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinWindow {
    /// `row_number([start [, restart]])`.
    RowNumber,
    /// `prev(x [, offset [, default]])`.
    Prev,
    /// `next(x [, offset [, default]])`.
    Next,
}

/// A window function's implementation.
#[derive(Debug, Clone)]
pub enum WindowImpl {
    /// A DataFusion UDWF called with the planned arguments over the rows' order.
    Udwf(Arc<WindowUDF>),
    /// Mapped by the planner.
    Builtin(BuiltinWindow),
}

/// An `evaluate` plugin; each is planned by the planner's `plugins` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    /// `bag_unpack(column [, prefix] [, columnsConflict] [, ignoredProperties])`.
    BagUnpack,
    /// `narrow()`.
    Narrow,
    /// `identity()`: the input unchanged.
    Identity,
    /// `estimate_rows_count()`.
    EstimateRowsCount,
    /// `pivot(column [, aggregation] [, columns...])`.
    Pivot,
    /// `rows_near(condition, n [, after])`.
    RowsNear,
    /// `preview(n)`: two tables, the first n rows and the count (ends a statement).
    Preview,
    /// `session_count(id, timeline, start, end, bin, lookback [, dims...])`.
    SessionCount,
    /// `sliding_window_counts(id, timeline, start, end, lookback, bin [, dims...])`.
    SlidingWindowCounts,
    /// `activity_counts_metrics(id, timeline, start, end, window [, dims...])`.
    ActivityCountsMetrics,
    /// `activity_metrics(id, timeline, start, end, window [, dims...])`.
    ActivityMetrics,
    /// `new_activity_metrics(id, timeline, start, end, window [, cohort] [, dims...])`.
    NewActivityMetrics,
    /// `active_users_count(id, timeline, start, end, lookback, period, active_periods, bin [, dims...])`.
    ActiveUsersCount,
    /// `funnel_sequence(id, timeline, start, end, max_step, step, state, sequence)`.
    FunnelSequence,
    /// `funnel_sequence_completion(id, timeline, start, end, step, state, sequence, periods)`.
    FunnelSequenceCompletion,
    /// `rolling_percentile(value, pct, index, bin_size, bins_per_window [, dims...])`.
    RollingPercentile,
}

/// What a function is and how it runs.
#[derive(Debug, Clone)]
pub enum FunctionKind {
    /// A scalar function.
    Scalar(ScalarImpl),
    /// An aggregate, with Kusto's default result name.
    Aggregate {
        /// The implementation.
        imp: AggregateImpl,
        /// The default column name.
        naming: Naming,
    },
    /// A window function (scalar syntax, serialized input only).
    Window(WindowImpl),
    /// An `evaluate` plugin.
    Plugin(Plugin),
}

/// One KQL function.
#[derive(Debug, Clone)]
pub struct Function {
    /// The KQL name (lower case, as KQL spells it).
    pub name: String,
    /// Arguments taken (for functions implemented by a UDF that checks its own signature,
    /// `at_least(0)`).
    pub arity: Arity,
    /// How the result is typed.
    pub typing: Typing,
    /// What it is and its implementation.
    pub kind: FunctionKind,
}

impl Function {
    /// Whether this is an aggregate.
    pub fn is_aggregate(&self) -> bool {
        matches!(self.kind, FunctionKind::Aggregate { .. })
    }

    /// Whether this is an internal function (`__name`), which users do not call.
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("__")
    }
}
