//! Aggregate calls, planned from the function catalog: each [`AggregateImpl`] becomes the
//! DataFusion aggregate expressions that compute it, and each [`Naming`] Kusto's default
//! result name. `summarize` (and later `make-series`, `top-nested`) call these.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use datafusion_expr::expr::AggregateFunction;
use datafusion_expr::{AggregateUDF, Expr, SortExpr, lit};
use datafusion_functions_aggregate as agg;
use kql_functions::catalog::{
    AggregateImpl, Arity, BuiltinAggregate, Function, FunctionKind, Naming, Numeric,
};
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind};

use crate::error::{Result, internal, semantic};
use crate::leaf::{Row, call_udf, cast_to};
use crate::naming::{expr_name, path_name};
use crate::planner::Planner;

/// The catalog entry of aggregate `name`: its implementation, default naming and arity.
pub(crate) fn aggregate_of(name: &str) -> Option<(&'static AggregateImpl, Naming, Arity)> {
    let f: &'static Function = Registry::global().function(name)?;
    match &f.kind {
        FunctionKind::Aggregate { imp, naming } => Some((imp, *naming, f.arity)),
        FunctionKind::Scalar(_) | FunctionKind::Window(_) | FunctionKind::Plugin(_) => None,
    }
}

/// Whether `name` is an aggregate (valid only where aggregates are).
pub(crate) fn is_aggregate(name: &str) -> bool {
    Registry::global().is_aggregate(name)
}

fn udaf_call(f: Arc<AggregateUDF>, args: Vec<Expr>, distinct: bool, filter: Option<Expr>) -> Expr {
    Expr::AggregateFunction(AggregateFunction::new_udf(
        f,
        args,
        distinct,
        filter.map(Box::new),
        vec![],
        None,
    ))
}

fn udaf(name: &str, span: Span) -> Result<Arc<AggregateUDF>> {
    Registry::global().aggregate_udaf(name).ok_or_else(|| {
        internal(format!(
            "aggregate UDAF {name} is not registered ({span:?})"
        ))
    })
}

/// An aggregate call found in a summarize expression.
pub(crate) struct AggCall<'a> {
    pub(crate) name: &'a str,
    pub(crate) args: &'a [ast::Expr],
    pub(crate) span: Span,
}

/// The aggregate calls of `e`, outermost first.
pub(crate) fn find_agg_calls<'a>(e: &'a ast::Expr, out: &mut Vec<AggCall<'a>>) {
    match &e.kind {
        ExprKind::Call { name, args } if is_aggregate(&name.name) => out.push(AggCall {
            name: &name.name,
            args,
            span: e.span(),
        }),
        ExprKind::Call { args, .. } => args.iter().for_each(|a| find_agg_calls(a, out)),
        ExprKind::Paren(x) | ExprKind::Unary { expr: x, .. } => find_agg_calls(x, out),
        ExprKind::Binary { left, right, .. } => {
            find_agg_calls(left, out);
            find_agg_calls(right, out);
        }
        ExprKind::List { expr, items, .. } => {
            find_agg_calls(expr, out);
            items.iter().for_each(|a| find_agg_calls(a, out));
        }
        ExprKind::Between {
            expr, low, high, ..
        } => {
            find_agg_calls(expr, out);
            find_agg_calls(low, out);
            find_agg_calls(high, out);
        }
        ExprKind::Member { expr, .. } | ExprKind::Index { expr, .. } => find_agg_calls(expr, out),
        _ => {}
    }
}

/// Kusto's default name of a one-column aggregate result; `None`: the next free `ColumnN`.
pub(crate) fn default_name(name: &str, naming: Naming, args: &[ast::Expr]) -> Option<String> {
    let arg = args.first().and_then(expr_name).unwrap_or_default();
    if naming == Naming::Argument {
        return (!arg.is_empty()).then_some(arg);
    }
    Some(match naming {
        Naming::Fixed(text) => text.to_string(),
        Naming::Prefix(p) => format!("{p}_{arg}"),
        Naming::ArgumentOr(fallback) if arg.is_empty() => fallback.to_string(),
        Naming::ArgumentOr(_) => arg,
        Naming::Percentiles => {
            let arg = args.first().and_then(path_name).unwrap_or_default();
            match args.last() {
                Some(p) if args.len() > 1 => percentile_name(&arg, p),
                _ => format!("percentile_{arg}"),
            }
        }
        Naming::FunctionArg | Naming::ArgExtreme | Naming::Argument => format!("{name}_{arg}"),
    })
}

/// Where the percentages start in a percentile aggregate's arguments (after the weight of
/// the weighted forms).
pub(crate) fn percentages_at(name: &str) -> usize {
    match aggregate_of(name) {
        Some((
            AggregateImpl::Builtin(BuiltinAggregate::Percentiles { weighted: true, .. }),
            _,
            _,
        )) => 2,
        _ => 1,
    }
}

/// `percentile_x_99_9`.
pub(crate) fn percentile_name(arg: &str, p: &ast::Expr) -> String {
    let text = p.to_string().replace(['.', '-'], "_");
    format!("percentile_{arg}_{text}")
}

/// `coalesce(aggregate, 0)`: Kusto's default value of sums and deviations over no values.
fn zero_default(e: Expr, t: KqlType) -> Expr {
    let zero = ScalarValue::Int64(Some(0))
        .cast_to(&t.to_arrow())
        .unwrap_or(ScalarValue::Int64(Some(0)));
    datafusion_functions::core::expr_fn::coalesce(vec![e, lit(zero)])
}

fn cast(e: Expr, dt: DataType) -> Expr {
    Expr::Cast(datafusion_expr::Cast::new(Box::new(e), dt))
}

/// A timespan or datetime as its nanoseconds (Int64).
fn ticks(x: Expr) -> Expr {
    cast(x, DataType::Int64)
}

impl Planner<'_> {
    /// Plans one aggregate call; returns the DataFusion aggregate expressions it produces
    /// (several for `percentiles` and `arg_max`).
    pub(crate) fn aggregate(&mut self, c: &AggCall<'_>, row: Row<'_>) -> Result<Vec<Expr>> {
        let span = c.span;
        let Some((imp, _, arity)) = aggregate_of(c.name) else {
            return Err(semantic(span, format!("'{}' is not an aggregate", c.name)));
        };
        if !arity.accepts(c.args.len()) {
            return Err(semantic(
                span,
                format!(
                    "Aggregate '{}' expects {} arguments, got {}",
                    c.name,
                    arity.describe(),
                    c.args.len()
                ),
            ));
        }
        match imp {
            AggregateImpl::Udaf(f) => {
                let mut args = Vec::new();
                for a in c.args {
                    args.push(self.scalar(a, row)?);
                }
                Ok(vec![udaf_call(Arc::clone(f), args, false, None)])
            }
            AggregateImpl::Builtin(b) => self.builtin_aggregate(*b, c, row),
        }
    }

    fn builtin_aggregate(
        &mut self,
        b: BuiltinAggregate,
        c: &AggCall<'_>,
        row: Row<'_>,
    ) -> Result<Vec<Expr>> {
        let span = c.span;
        Ok(match b {
            BuiltinAggregate::Count => {
                if c.args.len() == 1 && !matches!(c.args[0].kind, ExprKind::Star) {
                    let (x, _) = self.typed(&c.args[0], row)?;
                    vec![agg::count::count(x)]
                } else {
                    vec![agg::count::count(lit(1i64))]
                }
            }
            BuiltinAggregate::CountIf => {
                let p = self.predicate(&c.args[0], row)?;
                vec![udaf_call(
                    agg::count::count_udaf(),
                    vec![lit(1i64)],
                    false,
                    Some(p),
                )]
            }
            BuiltinAggregate::Numeric { op, conditional } => {
                vec![self.numeric_aggregate(op, conditional, c, row)?]
            }
            BuiltinAggregate::CountDistinct { conditional } => {
                let (x, _) = self.typed(&c.args[0], row)?;
                let filter = if conditional {
                    Some(self.predicate(&c.args[1], row)?)
                } else {
                    None
                };
                vec![udaf_call(agg::count::count_udaf(), vec![x], true, filter)]
            }
            BuiltinAggregate::Percentiles {
                single,
                weighted,
                array,
            } => {
                let out = self.percentiles(single, weighted, c, row)?;
                if array {
                    vec![call_udf("pack_array", out, span)?]
                } else {
                    out
                }
            }
            BuiltinAggregate::ArgExtreme { max } => {
                let (target, _) = self.typed(&c.args[0], row)?;
                let order = vec![SortExpr::new(target.clone(), !max, false)];
                let mut out = vec![if max {
                    agg::min_max::max(target)
                } else {
                    agg::min_max::min(target)
                }];
                for (_, x) in self.arg_columns(c.args, row)? {
                    out.push(agg::first_last::first_value(x, order.clone()));
                }
                out
            }
            BuiltinAggregate::MakeList => {
                if c.args.len() == 1 && row.order.is_some_and(|o| !o.is_empty()) {
                    // Serialized input: the list keeps the row order.
                    let (x, _) = self.typed(&c.args[0], row)?;
                    let order = row.order.map(<[SortExpr]>::to_vec).unwrap_or_default();
                    let agg = Expr::AggregateFunction(AggregateFunction::new_udf(
                        agg::array_agg::array_agg_udaf(),
                        vec![x.clone()],
                        false,
                        Some(Box::new(x.is_not_null())),
                        order,
                        None,
                    ));
                    vec![call_udf("__list_to_dynamic", vec![agg], span)?]
                } else {
                    let mut args = Vec::new();
                    for a in c.args {
                        args.push(self.scalar(a, row)?);
                    }
                    vec![udaf_call(udaf("__make_list", span)?, args, false, None)]
                }
            }
            BuiltinAggregate::TakeAny => {
                // Several columns (`take_any(a, b)`, `take_any(*)`) are a row selection,
                // planned by summarize itself; here one value.
                let x = self.scalar(&c.args[0], row)?;
                vec![udaf_call(udaf("__take_any", span)?, vec![x], false, None)]
            }
        })
    }

    /// `sum`, `avg`, `min`, `max`, `stdev(p)`, `variance(p)` and their `*if` forms.
    fn numeric_aggregate(
        &mut self,
        op: Numeric,
        conditional: bool,
        c: &AggCall<'_>,
        row: Row<'_>,
    ) -> Result<Expr> {
        let span = c.span;
        let (x, t) = self.typed(&c.args[0], row)?;
        let filter = if conditional {
            Some(self.predicate(&c.args[1], row)?)
        } else {
            None
        };
        let numeric = t.is_numeric()
            || (matches!(op, Numeric::Min | Numeric::Max) && t != KqlType::Dynamic)
            || (matches!(op, Numeric::Sum | Numeric::Avg) && t == KqlType::TimeSpan)
            || (op == Numeric::Avg && t == KqlType::DateTime);
        if !numeric {
            return Err(semantic(
                span,
                format!("{}() cannot aggregate values of type {t}", c.name),
            ));
        }
        let real = |x: Expr| cast_to(x, t, KqlType::Real);
        let call = |f: Arc<AggregateUDF>, x: Expr| udaf_call(f, vec![x], false, filter.clone());
        // datetime and timespan averages and timespan sums go over nanoseconds and back.
        if matches!(t, KqlType::DateTime | KqlType::TimeSpan)
            && matches!(op, Numeric::Sum | Numeric::Avg)
        {
            let n = ticks(x);
            let e = if op == Numeric::Sum {
                call(agg::sum::sum_udaf(), n)
            } else {
                datafusion_functions::math::expr_fn::round(vec![call(
                    agg::average::avg_udaf(),
                    cast(n, DataType::Float64),
                )])
            };
            let e = cast(cast(e, DataType::Int64), t.to_arrow());
            return Ok(if op == Numeric::Sum {
                zero_default(e, t)
            } else {
                e
            });
        }
        Ok(match op {
            Numeric::Sum => {
                let st = if t == KqlType::Int { KqlType::Long } else { t };
                zero_default(call(agg::sum::sum_udaf(), cast_to(x, t, st)), st)
            }
            // DataFusion's avg of a decimal widens its scale (38, 22): back to Kusto's
            // decimal type, as every other decimal value has.
            Numeric::Avg if t == KqlType::Decimal => cast(
                call(agg::average::avg_udaf(), x),
                KqlType::Decimal.to_arrow(),
            ),
            Numeric::Avg => call(agg::average::avg_udaf(), real(x)),
            Numeric::Min => call(agg::min_max::min_udaf(), x),
            Numeric::Max => call(agg::min_max::max_udaf(), x),
            Numeric::Stdev => {
                zero_default(call(agg::stddev::stddev_udaf(), real(x)), KqlType::Real)
            }
            Numeric::Stdevp => {
                zero_default(call(agg::stddev::stddev_pop_udaf(), real(x)), KqlType::Real)
            }
            Numeric::Variance => {
                zero_default(call(agg::variance::var_samp_udaf(), real(x)), KqlType::Real)
            }
            Numeric::Variancep => {
                zero_default(call(agg::variance::var_pop_udaf(), real(x)), KqlType::Real)
            }
        })
    }

    /// The percentile aggregates: one expression per percentage (several arguments, or one
    /// constant dynamic array of them).
    fn percentiles(
        &mut self,
        single: bool,
        weighted: bool,
        c: &AggCall<'_>,
        row: Row<'_>,
    ) -> Result<Vec<Expr>> {
        let span = c.span;
        let (x, t) = self.typed(&c.args[0], row)?;
        if !t.is_numeric() && t != KqlType::DateTime && t != KqlType::TimeSpan {
            return Err(semantic(
                span,
                format!("{}() needs a numeric column, not {t}", c.name),
            ));
        }
        let at = usize::from(weighted) + 1;
        if single && c.args.len() != at + 1 {
            return Err(semantic(
                span,
                format!("{}() expects one percentage", c.name),
            ));
        }
        let weight = if weighted {
            let (w, wt) = self.typed(&c.args[1], row)?;
            if !wt.is_integer() {
                return Err(semantic(
                    c.args[1].span(),
                    format!("{}(): the weight must be an integer, not {wt}", c.name),
                ));
            }
            Some(cast_to(w, wt, KqlType::Real))
        } else {
            None
        };
        let mut percentages: Vec<(ScalarValue, Span)> = Vec::new();
        for p in &c.args[at..] {
            match self.const_value(p, row)? {
                ScalarValue::LargeUtf8(Some(text)) => {
                    let items: Vec<serde_json::Value> =
                        match serde_json::from_str::<serde_json::Value>(&text) {
                            Ok(serde_json::Value::Array(a)) => a,
                            _ => {
                                return Err(semantic(
                                    p.span(),
                                    "The percentages must be numbers or a dynamic array of numbers",
                                ));
                            }
                        };
                    for i in items {
                        percentages.push((ScalarValue::Float64(i.as_f64()), p.span()));
                    }
                }
                v => percentages.push((v, p.span())),
            }
        }
        let mut out = Vec::new();
        for (pv, pspan) in percentages {
            let pv = match pv.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(f))) => f,
                _ => {
                    return Err(semantic(pspan, "The percentage must be a constant number"));
                }
            };
            if !(0.0..=100.0).contains(&pv) {
                return Err(semantic(pspan, "The percentage must be between 0 and 100"));
            }
            let as_real = SortExpr::new(cast_to(x.clone(), t, KqlType::Real), true, false);
            let e = match &weight {
                Some(w) => {
                    agg::approx_percentile_cont_with_weight::approx_percentile_cont_with_weight(
                        as_real,
                        w.clone(),
                        lit(pv / 100.0),
                        None,
                    )
                }
                None => agg::approx_percentile_cont::approx_percentile_cont(
                    as_real,
                    lit(pv / 100.0),
                    None,
                ),
            };
            // Kusto returns the input's type for integers.
            let e = match t {
                KqlType::Int | KqlType::Long => {
                    let rounded = datafusion_functions::math::expr_fn::round(vec![e]);
                    cast_to(rounded, KqlType::Real, KqlType::Long)
                }
                KqlType::Decimal => cast_to(e, KqlType::Real, KqlType::Decimal),
                _ => e,
            };
            out.push(e);
        }
        Ok(out)
    }
}
