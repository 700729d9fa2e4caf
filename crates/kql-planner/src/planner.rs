//! The planner's state ([`Planner`]) and its entry points: statements, result
//! statements, nesting depth. Its methods live with what they plan: `expr` and `call`
//! (scalars), `functions/` (planner-built functions), `aggregates`, `tabular` (sources),
//! `ops/` (one file per operator family), `plugins/`, `qualified`.

use std::sync::Arc;

use datafusion_common::{DFSchema, ScalarValue};
use datafusion_expr::{LogicalPlan, LogicalPlanBuilder, lit};
use kql_functions::KqlType;
use kql_syntax::ast::{self, ExprKind, LetValue, StatementKind};

use crate::KqlContext;
use crate::error::{Result, df, internal, not_implemented, semantic};
use crate::leaf::{Leg, Row, Tab, cast_to, parse_stored_function, without_order_columns};
use crate::scope::{Binding, Scope};

/// The planner state.
pub(crate) struct Planner<'a> {
    pub(crate) ctx: &'a dyn KqlContext,
    pub(crate) scope: Scope,
    pub(crate) now: i64,
    /// Inside summarize: aggregate call spans → their hidden result columns.
    pub(crate) agg_columns: std::collections::HashMap<(u32, u32), Vec<String>>,
    /// Inside summarize: group keys that are plain column names.
    pub(crate) plain_keys: Vec<String>,
    /// The database names resolve in, when it is not the request's: the one named by
    /// `database("D")` while its table or function is planned.
    pub(crate) database: Option<String>,
    /// The rows a subquery without a source starts from (`partition by c (subquery)`,
    /// `fork`, `facet ... with (...)`), while it is planned.
    pub(crate) implicit_input: Option<LogicalPlan>,
    depth: usize,
}

const MAX_PLAN_DEPTH: usize = 200;

/// True when the expression is (syntactically, given the bindings) a tabular expression.
pub(crate) fn is_tabular_syntax(e: &ast::Expr, p: &Planner<'_>) -> bool {
    match &e.kind {
        ExprKind::Pipe { .. } | ExprKind::Source(_) => true,
        ExprKind::Paren(inner) => is_tabular_syntax(inner, p),
        ExprKind::Name(id) => match p.scope.get(&id.name) {
            Some(Binding::Tabular(_)) => true,
            Some(Binding::Scalar(_)) => false,
            Some(Binding::Function(l, _)) => l.params.is_empty() && body_is_tabular(l, p),
            None => {
                p.has_table(&id.name)
                    || p.find_function(&id.name).is_some_and(|f| {
                        parse_stored_function(&id.name, &f.text, e.span())
                            .is_ok_and(|l| l.params.is_empty() && body_is_tabular(&l, p))
                    })
            }
        },
        ExprKind::Call { name, .. } => match name.name.as_str() {
            "materialize" | "table" | "view" => true,
            n => match p.scope.get(n) {
                Some(Binding::Function(l, _)) => body_is_tabular(l, p),
                Some(_) => false,
                None => p.find_function(n).is_some_and(|f| {
                    parse_stored_function(n, &f.text, e.span())
                        .is_ok_and(|l| body_is_tabular(&l, p))
                }),
            },
        },
        ExprKind::Member { .. } | ExprKind::Index { .. } | ExprKind::MethodCall { .. } => {
            crate::leaf::qualified(e).is_some_and(|q| p.qualified_is_tabular(&q))
        }
        _ => false,
    }
}

pub(crate) fn body_is_tabular(l: &ast::Lambda, p: &Planner<'_>) -> bool {
    if l.params
        .iter()
        .any(|x| matches!(x.ty, ast::ParamType::Tabular { .. }))
    {
        return true;
    }
    match l.body.last().map(|s| &s.kind) {
        Some(StatementKind::Expr(e)) => {
            // names bound inside the body by tabular lets
            let inner_tabular = l.body.iter().any(|s| match &s.kind {
                StatementKind::Let {
                    name,
                    value: LetValue::Expr(v),
                } => {
                    matches!(&e.kind, ExprKind::Name(id) if id.name == name.name)
                        && is_tabular_syntax(v, p)
                }
                _ => false,
            });
            inner_tabular || is_tabular_syntax(e, p)
        }
        _ => false,
    }
}

impl<'a> Planner<'a> {
    pub(crate) fn new(ctx: &'a dyn KqlContext) -> Planner<'a> {
        Planner {
            ctx,
            scope: Scope::default(),
            now: ctx.now_nanos(),
            agg_columns: std::collections::HashMap::new(),
            plain_keys: Vec::new(),
            database: None,
            implicit_input: None,
            depth: 0,
        }
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_PLAN_DEPTH {
            return Err(semantic(None, "The query is nested too deeply"));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(crate) fn empty_schema() -> DFSchema {
        DFSchema::empty()
    }

    /// `set query_now = datetime(...)`.
    pub(crate) fn set_now(&mut self, v: &ast::Expr) -> Result<()> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        match self.const_value(v, row)? {
            ScalarValue::TimestampNanosecond(Some(ns), _) => {
                self.now = ns;
                Ok(())
            }
            _ => Err(semantic(v.span(), "query_now must be a datetime")),
        }
    }

    /// `let`, `declare query_parameters`, `alias`, `restrict`.
    pub(crate) fn statement(&mut self, st: &ast::Statement) -> Result<()> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        match &st.kind {
            StatementKind::Let { name, value } => {
                let b = match value {
                    LetValue::Expr(e) => {
                        if is_tabular_syntax(e, self) {
                            Binding::Tabular(self.tabular_plan(e)?)
                        } else {
                            Binding::Scalar(self.scalar(e, row)?)
                        }
                    }
                    LetValue::Function(l) | LetValue::View(l) => {
                        Binding::Function(Box::new(l.clone()), self.scope.clone())
                    }
                };
                self.scope.set(&name.name, b);
                Ok(())
            }
            StatementKind::DeclareQueryParameters(params) => {
                for p in params {
                    let ast::ParamType::Scalar(tn) = &p.ty else {
                        return Err(not_implemented(p.name.span.0, "tabular query parameters"));
                    };
                    let t = KqlType::from_name(&tn.name).ok_or_else(|| {
                        semantic(tn.span.0, format!("Unknown type '{}'", tn.name))
                    })?;
                    let value = match self.ctx.parameter(&p.name.name) {
                        Some(text) => {
                            lit(crate::literal::parse_value_text(&text, t).map_err(|e| {
                                semantic(
                                    p.name.span.0,
                                    format!("Query parameter '{}': {}", p.name.name, e.message),
                                )
                            })?)
                        }
                        None => match &p.default {
                            Some(d) => {
                                let (x, xt) = self.typed(d, row)?;
                                cast_to(x, xt, t)
                            }
                            None => {
                                return Err(semantic(
                                    p.name.span.0,
                                    format!(
                                        "Query parameter '{}' was declared but no value was given",
                                        p.name.name
                                    ),
                                ));
                            }
                        },
                    };
                    self.scope.set(&p.name.name, Binding::Scalar(value));
                }
                Ok(())
            }
            StatementKind::Alias { .. } => Err(not_implemented(st.span.0, "alias database")),
            StatementKind::Restrict(_) => Err(not_implemented(st.span.0, "restrict access")),
            StatementKind::Set { .. } | StatementKind::Expr(_) | StatementKind::Command(_) => {
                Err(internal("statement() called on a result statement"))
            }
        }
    }

    /// Plans a result statement: one table, or several for `fork` and `facet` (which end
    /// the statement).
    pub(crate) fn plan_result(&mut self, e: &ast::Expr) -> Result<Vec<Leg>> {
        if !is_tabular_syntax(e, self) {
            return Err(semantic(
                e.span(),
                "A query statement must be a tabular expression (did you mean print?)",
            ));
        }
        if let ExprKind::Pipe { input, op } = &e.kind {
            match &op.kind {
                ast::OperatorKind::Fork(legs) => return self.fork(input, legs, op.span.0),
                ast::OperatorKind::Facet { by, with } => {
                    return self.facet(input, by, with.as_ref(), op.span.0);
                }
                ast::OperatorKind::Evaluate { call, .. }
                    if matches!(&call.kind, ExprKind::Call { name, args }
                        if name.name == "preview" && args.len() == 1) =>
                {
                    if let ExprKind::Call { args, .. } = &call.kind {
                        return self.preview(input, &args[0], op.span.0);
                    }
                }
                _ => {}
            }
        }
        let t = self.tab(e)?;
        let render = t.render.clone();
        Ok(vec![(self.finish(t)?, render, None)])
    }

    /// Re-applies a known order that operators after the sort may have lost.
    pub(crate) fn finish(&mut self, t: Tab) -> Result<LogicalPlan> {
        if let (true, Some(order)) = (t.resort, t.order.as_ref().filter(|o| !o.is_empty())) {
            let schema = Arc::clone(t.plan.schema());
            let all_present = order.iter().all(|s| {
                s.expr
                    .column_refs()
                    .iter()
                    .all(|c| schema.has_column_with_unqualified_name(&c.name))
            });
            if all_present {
                let sorted = LogicalPlanBuilder::from(t.plan)
                    .sort(order.clone())
                    .and_then(|b| b.build())
                    .map_err(df(None))?;
                return without_order_columns(sorted);
            }
        }
        without_order_columns(t.plan)
    }

    /// Plans `subquery` (whose pipeline has no source, `(take 1 | ...)`) over `input`.
    pub(crate) fn over_input(&mut self, input: LogicalPlan, subquery: &ast::Expr) -> Result<Tab> {
        let saved = self.implicit_input.replace(input);
        let r = self.tab(subquery);
        self.implicit_input = saved;
        r
    }

    /// Plans a tabular expression to a plan.
    pub(crate) fn tabular_plan(&mut self, e: &ast::Expr) -> Result<LogicalPlan> {
        let t = self.tab(e)?;
        self.finish(t)
    }

    /// Plans a tabular expression.
    pub(crate) fn tab(&mut self, e: &ast::Expr) -> Result<Tab> {
        self.enter()?;
        let r = self.tab_inner(e);
        self.leave();
        r
    }
}
