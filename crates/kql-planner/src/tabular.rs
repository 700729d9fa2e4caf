//! Tabular expressions: sources, names, calls, pipelines; statements (`let`, `declare`).

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlanBuilder, SortExpr, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, OperatorKind, StatementKind};

use crate::error::{Result, df, not_implemented, semantic};
use crate::leaf::{
    Row, Tab, call_udf, cast_to, column, operator_name, parse_stored_function, unqualify,
};
use crate::planner::Planner;
use crate::scope::{Binding, Scope};

fn not_tabular(e: &ast::Expr) -> crate::PlanError {
    semantic(
        e.span(),
        format!(
            "Expected a tabular expression: {}",
            crate::leaf::truncate(&e.to_string())
        ),
    )
}

impl Planner<'_> {
    pub(crate) fn tab_inner(&mut self, e: &ast::Expr) -> Result<Tab> {
        let span = e.span();
        match &e.kind {
            ExprKind::Paren(inner) => self.tab(inner),
            ExprKind::Pipe { input, op } => {
                let t = self.tab(input)?;
                self.operator(t, op)
            }
            ExprKind::Source(op) => self.source(op),
            ExprKind::Name(id) => self.named_table(&id.name, span),
            ExprKind::Call { name, args } => self.tabular_call(&name.name, args, span),
            ExprKind::Member { .. } | ExprKind::Index { .. } | ExprKind::MethodCall { .. } => {
                match crate::leaf::qualified(e) {
                    Some(q) => self.qualified_tab(&q, span),
                    None => Err(not_tabular(e)),
                }
            }
            _ => Err(not_tabular(e)),
        }
    }

    fn named_table(&mut self, name: &str, span: Span) -> Result<Tab> {
        match self.scope.get(name).cloned() {
            Some(Binding::Tabular(plan)) => return Ok(Tab::new(plan)),
            Some(Binding::Function(l, env)) if l.params.is_empty() => {
                return self.call_user_tabular(name, &l, env, &[], span, None);
            }
            Some(_) => return Err(semantic(span, format!("'{name}' is not a tabular value"))),
            None => {}
        }
        let mut t = self.database_entity(name, span)?;
        t.name = None;
        Ok(t)
    }

    fn tabular_call(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Result<Tab> {
        match name {
            "materialize" => {
                if args.len() != 1 {
                    return Err(semantic(span, "materialize() expects one tabular argument"));
                }
                let plan = self.tabular_plan(&args[0])?;
                match self.ctx.materialize(&plan) {
                    Some(t) => {
                        let scanned = LogicalPlanBuilder::scan(
                            format!("__materialized_{}", span.start),
                            t.source,
                            None,
                        )
                        .and_then(|b| b.build())
                        .map_err(df(span))?;
                        Ok(Tab::new(unqualify(scanned, span)?))
                    }
                    None => Ok(Tab::new(plan)),
                }
            }
            "table" => {
                let Some(ast::Expr {
                    kind: ExprKind::Literal(ast::Literal::String { value, .. }),
                    ..
                }) = args.first()
                else {
                    return Err(semantic(span, "table() expects a table name string"));
                };
                self.named_table(value, span)
            }
            _ => {
                if let Some(Binding::Function(l, env)) = self.scope.get(name).cloned() {
                    return self.call_user_tabular(name, &l, env, args, span, None);
                }
                if let Some(f) = self.find_function(name) {
                    let l = parse_stored_function(name, &f.text, span)?;
                    return self.call_user_tabular(name, &l, Scope::default(), args, span, None);
                }
                Err(semantic(
                    span,
                    format!("Failed to resolve tabular function named '{name}'"),
                ))
            }
        }
    }

    /// Plans a call of a user function with a tabular body. The arguments are planned where
    /// the call is; the body in `home`, the function's database when it is not the
    /// planner's (`database("D").F()`).
    pub(crate) fn call_user_tabular(
        &mut self,
        name: &str,
        l: &ast::Lambda,
        env: Scope,
        args: &[ast::Expr],
        span: Span,
        home: Option<String>,
    ) -> Result<Tab> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        let bound = self.bind_params(name, l, args, span, row)?;
        let saved = std::mem::replace(&mut self.scope, env);
        for (n, b) in bound {
            self.scope.set(&n, b);
        }
        let r = self.in_database(home, |this| {
            let Some((last, lets)) = l.body.split_last() else {
                return Err(semantic(span, "Empty function body"));
            };
            for st in lets {
                this.statement(st)?;
            }
            match &last.kind {
                StatementKind::Expr(e) => this.tab(e),
                _ => Err(semantic(
                    last.span.0,
                    "A function body must end with an expression",
                )),
            }
        });
        self.scope = saved;
        r
    }

    /// A tabular source operator.
    fn source(&mut self, op: &ast::Operator) -> Result<Tab> {
        let span = op.span.0;
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        match &op.kind {
            OperatorKind::Print(items) => {
                let one = LogicalPlanBuilder::empty(true).build().map_err(df(span))?;
                let mut exprs = Vec::new();
                let mut names: Vec<String> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let x = self.scalar(&item.expr, row)?;
                    let name = match item.names.as_slice() {
                        [n] => n.name.clone(),
                        [] => format!("print_{i}"),
                        _ => {
                            return Err(not_implemented(
                                span,
                                "print with several names for one expression",
                            ));
                        }
                    };
                    if names.contains(&name) {
                        return Err(semantic(
                            span,
                            format!("A column with the name '{name}' is already declared"),
                        ));
                    }
                    names.push(name.clone());
                    exprs.push(x.alias(name));
                }
                let plan = LogicalPlanBuilder::from(one)
                    .project(exprs)
                    .and_then(|b| b.build())
                    .map_err(df(span))?;
                Ok(Tab::new(plan))
            }
            OperatorKind::Datatable { columns, values } => self.datatable(columns, values, span),
            OperatorKind::Range {
                column: c,
                from,
                to,
                step,
            } => self.range(&c.name, from, to, step, span),
            OperatorKind::Union { params, tables } => self.union(None, params, tables, span),
            OperatorKind::Search {
                params,
                tables,
                predicate,
            } => self.search(None, params, tables, predicate, span),
            OperatorKind::Find {
                params,
                tables,
                predicate,
                project,
            } => self.find(params, tables, predicate, project.as_deref(), span),
            OperatorKind::ExternalData {
                columns,
                urls,
                with,
            } => self.external_data(columns, urls, with, span),
            OperatorKind::Evaluate { .. } => Err(not_implemented(
                span,
                "evaluate without an input (plugins that are sources)",
            )),
            OperatorKind::Raw { name, .. } if name == "__implicit_input" => {
                match self.implicit_input.clone() {
                    Some(plan) => Ok(Tab::new(plan)),
                    None => Err(not_implemented(span, "subqueries with an implicit input")),
                }
            }
            other => Err(not_implemented(span, operator_name(other))),
        }
    }

    fn datatable(
        &mut self,
        columns: &[ast::ColumnDecl],
        values: &[ast::Expr],
        span: Span,
    ) -> Result<Tab> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        let mut types = Vec::new();
        for c in columns {
            let t = KqlType::from_name(&c.ty.name)
                .ok_or_else(|| semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name)))?;
            types.push(t);
        }
        if !values.len().is_multiple_of(columns.len()) {
            return Err(semantic(
                span,
                format!(
                    "datatable has {} columns but {} values, which is not a whole number of rows",
                    columns.len(),
                    values.len()
                ),
            ));
        }
        let mut rows = Vec::new();
        for chunk in values.chunks(columns.len()) {
            let mut r = Vec::new();
            for (i, v) in chunk.iter().enumerate() {
                let c = self.const_value(v, row)?;
                let t = types[i];
                let c = if crate::literal::scalar_type(&c) == Some(t) && !c.is_null() {
                    c
                } else if c.is_null() {
                    crate::literal::null_of(t)
                } else {
                    c.cast_to(&t.to_arrow()).map_err(|_| {
                        semantic(
                            v.span(),
                            format!(
                                "The value {v} cannot be a {t} (column '{}')",
                                columns[i].name.name
                            ),
                        )
                    })?
                };
                r.push(lit(c));
            }
            rows.push(r);
        }
        let plan = if rows.is_empty() {
            let exprs: Vec<Expr> = columns
                .iter()
                .zip(&types)
                .map(|(c, t)| lit(crate::literal::null_of(*t)).alias(c.name.name.clone()))
                .collect();
            LogicalPlanBuilder::empty(false)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(df(span))?
        } else {
            let values = LogicalPlanBuilder::values(rows)
                .and_then(|b| b.build())
                .map_err(df(span))?;
            let fields: Vec<String> = values
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let exprs: Vec<Expr> = fields
                .iter()
                .zip(columns)
                .zip(&types)
                .map(|((f, c), t)| {
                    Expr::Cast(datafusion_expr::Cast::new(
                        Box::new(column(f)),
                        t.to_arrow(),
                    ))
                    .alias(c.name.name.clone())
                })
                .collect();
            LogicalPlanBuilder::from(values)
                .project(exprs)
                .and_then(|b| b.build())
                .map_err(df(span))?
        };
        Ok(Tab::new(plan))
    }

    fn range(
        &mut self,
        name: &str,
        from: &ast::Expr,
        to: &ast::Expr,
        step: &ast::Expr,
        span: Span,
    ) -> Result<Tab> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        let (f, ft) = self.typed(from, row)?;
        let (t, tt) = self.typed(to, row)?;
        let (s, st) = self.typed(step, row)?;
        let (f, t, s, out_t) = match (ft, tt, st) {
            (a, b, c) if a.is_numeric() && b.is_numeric() && c.is_numeric() => {
                let ty = if [a, b, c]
                    .iter()
                    .any(|x| matches!(x, KqlType::Real | KqlType::Decimal))
                {
                    KqlType::Real
                } else {
                    KqlType::Long
                };
                (cast_to(f, a, ty), cast_to(t, b, ty), cast_to(s, c, ty), ty)
            }
            (KqlType::DateTime, KqlType::DateTime, KqlType::TimeSpan) => {
                (f, t, s, KqlType::DateTime)
            }
            (KqlType::TimeSpan, KqlType::TimeSpan, KqlType::TimeSpan) => {
                (f, t, s, KqlType::TimeSpan)
            }
            _ => {
                return Err(semantic(
                    span,
                    format!("range cannot go from {ft} to {tt} in steps of {st}"),
                ));
            }
        };
        // Constant bounds (the usual case): the context's streaming series of 0..count,
        // produced batch by batch, so `range` over billions of rows never sits in memory.
        // Otherwise (`toscalar(...)` bounds) the indexes of `__range_indexes`, unnested:
        // the engine runs that as a generator of batches too.
        // A negative step counts down: the rows come in descending order.
        let descending = literal(&s).is_some_and(|v| match v {
            ScalarValue::Float64(Some(x)) => *x < 0.0,
            v => whole(v).is_some_and(|x| x < 0),
        });
        let count = constant_range_count(&f, &t, &s);
        let order = vec![SortExpr::new(column(name), !descending, false)];
        // A long range with constant bounds is the series itself: DataFusion then knows
        // its order, and nothing after it needs to sort (or hold) its rows again.
        let direct = match (
            out_t,
            literal(&f).and_then(whole),
            literal(&s).and_then(whole),
        ) {
            (KqlType::Long, Some(start), Some(step)) => {
                count.and_then(|n| self.ctx.series(start, step, n))
            }
            _ => None,
        };
        if let Some(series) = direct {
            let plan = LogicalPlanBuilder::scan("__range", series.source, None)
                .and_then(|b| b.project(vec![column("value").alias(name.to_string())]))
                .and_then(|b| b.build())
                .map_err(df(span))?;
            let mut tab = Tab::new(plan);
            tab.order = Some(order);
            return Ok(tab);
        }
        let streamed = count
            .and_then(|count| self.ctx.series(0, 1, count))
            .map(|series| {
                LogicalPlanBuilder::scan("__range", series.source, None)
                    .and_then(|b| b.project(vec![column("value").alias("__i")]))
                    .and_then(|b| b.build())
            });
        let plan = match streamed {
            Some(plan) => plan.map_err(df(span))?,
            None => {
                // The engine streams this unnest of `__range_indexes` in batches.
                let count = call_udf("__range_count", vec![f.clone(), t, s.clone()], span)?;
                let series = call_udf(kql_functions::operators::RANGE_INDEXES, vec![count], span)?;
                let one = LogicalPlanBuilder::empty(true).build().map_err(df(span))?;
                LogicalPlanBuilder::from(one)
                    .project(vec![series.alias("__i")])
                    .and_then(|b| b.unnest_column("__i"))
                    .and_then(|b| b.build())
                    .map_err(df(span))?
            }
        };
        let i = column("__i");
        let value = match out_t {
            KqlType::Long => f + i * s,
            KqlType::Real => {
                f + Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(i),
                    KqlType::Real.to_arrow(),
                )) * s
            }
            _ => {
                let scaled = call_udf(
                    "__t_mul",
                    vec![
                        s,
                        Expr::Cast(datafusion_expr::Cast::new(
                            Box::new(i),
                            KqlType::Real.to_arrow(),
                        )),
                    ],
                    span,
                )?;
                call_udf("__t_add", vec![f, scaled], span)?
            }
        };
        let plan = LogicalPlanBuilder::from(plan)
            .project(vec![value.alias(name.to_string())])
            .and_then(|b| b.build())
            .map_err(df(span))?;
        let mut tab = Tab::new(plan);
        tab.order = Some(order);
        Ok(tab)
    }
}

/// The value of a literal expression.
fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        Expr::Alias(a) => literal(&a.expr),
        _ => None,
    }
}

/// A whole-number literal: a long, an int, a datetime or a timespan (in nanoseconds).
fn whole(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int64(x)
        | ScalarValue::TimestampNanosecond(x, _)
        | ScalarValue::DurationNanosecond(x) => *x,
        ScalarValue::Int32(x) => x.map(i64::from),
        _ => None,
    }
}

/// The number of values of a `range` whose bounds and step are literals, when they are.
fn constant_range_count(f: &Expr, t: &Expr, s: &Expr) -> Option<i64> {
    match (literal(f)?, literal(t)?, literal(s)?) {
        (
            ScalarValue::Float64(Some(a)),
            ScalarValue::Float64(Some(b)),
            ScalarValue::Float64(Some(c)),
        ) => Some(kql_functions::operators::range_count_real(*a, *b, *c)),
        (a, b, c) => Some(kql_functions::operators::range_count_whole(
            whole(a)?,
            whole(b)?,
            whole(c)?,
        )),
    }
}
