//! Tabular expressions: sources, names, calls, pipelines; statements (`let`, `declare`).

use std::sync::Arc;

use datafusion_common::tree_node::{Transformed, TreeNode};
use datafusion_common::{DFSchema, ScalarValue};
use datafusion_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr, lit};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, LetValue, OperatorKind, StatementKind};

use crate::error::{Result, df, internal, not_implemented, semantic};
use crate::expr::{Row, call_udf, cast_to, column, kql_type, strip_cast};
use crate::scope::{Binding, Scope};
use crate::{KqlContext, Render};

/// A tabular value being built: the plan, the row order if it is serialized, a render.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub(crate) plan: LogicalPlan,
    /// Sort keys when the rows are serialized (after sort/top/serialize).
    pub(crate) order: Option<Vec<SortExpr>>,
    /// The order must be re-applied at the end (operators after the sort).
    pub(crate) resort: bool,
    pub(crate) render: Option<Render>,
    /// The name given by `as` (used by `union withsource`).
    pub(crate) name: Option<String>,
}

impl Tab {
    pub(crate) fn new(plan: LogicalPlan) -> Tab {
        Tab {
            plan,
            order: None,
            resort: false,
            render: None,
            name: None,
        }
    }

    /// Replaces the plan by an order-preserving operator's one, keeping the order. When
    /// the operator removed or replaced a column the sort keys read (`project` without it,
    /// `extend k = ...`, `project-away k`), the column's old values travel on as a hidden
    /// column (`__kql_order_<name>`), and a renamed one is followed, so that window
    /// functions and the final re-sort still see the order. [`Planner::finish`] and the
    /// operators that drop the order remove hidden columns.
    pub(crate) fn with_plan(mut self, plan: LogicalPlan) -> Result<Tab> {
        let Some(order) = self.order.take() else {
            self.plan = plan;
            return Ok(self);
        };
        self.resort = true;
        let (plan, order) = carry_order(plan, order)?;
        self.plan = plan;
        self.order = Some(order);
        Ok(self)
    }

    /// This value without hidden order columns (before an operator that drops the order).
    pub(crate) fn without_order_columns(mut self) -> Result<Tab> {
        self.plan = without_order_columns(self.plan)?;
        self.order = None;
        self.resort = false;
        Ok(self)
    }

    pub(crate) fn row(&self) -> Row<'_> {
        Row {
            schema: self.plan.schema(),
            order: self.order.as_deref(),
        }
    }
}

/// Prefix of the hidden columns that carry sort keys an operator removed or replaced.
pub(crate) const ORDER_COLUMN: &str = "__kql_order_";

/// Whether `name` is a hidden order column (never shown, never expanded by `*`).
pub(crate) fn is_order_column(name: &str) -> bool {
    name.starts_with(ORDER_COLUMN)
}

/// Keeps the columns that `order` reads through the projection `plan` (see
/// [`Tab::with_plan`]); other plans keep every column, so they pass unchanged.
fn carry_order(plan: LogicalPlan, order: Vec<SortExpr>) -> Result<(LogicalPlan, Vec<SortExpr>)> {
    let LogicalPlan::Projection(p) = &plan else {
        return Ok((plan, order));
    };
    let mut refs: Vec<String> = Vec::new();
    for s in &order {
        for c in s.expr.column_refs() {
            if !refs.contains(&c.name) {
                refs.push(c.name.clone());
            }
        }
    }
    let schema = Arc::clone(plan.schema());
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    for c in &refs {
        let kept = p.expr.iter().enumerate().find_map(|(i, e)| {
            let mut e = e;
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            match e {
                Expr::Column(col) if col.name == *c => Some(schema.field(i).name().clone()),
                _ => None,
            }
        });
        match kept {
            Some(n) if n == *c => {}
            Some(n) => renames.push((c.clone(), n)),
            None => lost.push(c.clone()),
        }
    }
    if renames.is_empty() && lost.is_empty() {
        return Ok((plan, order));
    }
    let plan = if lost.is_empty() {
        plan
    } else {
        let hidden: Vec<String> = lost
            .iter()
            .map(|c| {
                if is_order_column(c) {
                    c.clone()
                } else {
                    format!("{ORDER_COLUMN}{c}")
                }
            })
            .collect();
        // A stale hidden column of an earlier order under the same name gives way.
        let mut exprs: Vec<Expr> = p
            .expr
            .iter()
            .enumerate()
            .filter(|(i, _)| !hidden.contains(schema.field(*i).name()))
            .map(|(_, e)| e.clone())
            .collect();
        for (c, h) in lost.iter().zip(hidden) {
            exprs.push(column(c).alias(h.clone()));
            renames.push((c.clone(), h));
        }
        let projection =
            datafusion_expr::Projection::try_new(exprs, Arc::clone(&p.input)).map_err(df(None))?;
        LogicalPlan::Projection(projection)
    };
    let order = order
        .into_iter()
        .map(|s| {
            let expr = s
                .expr
                .transform(|e| match &e {
                    Expr::Column(c) => match renames.iter().find(|(from, _)| *from == c.name) {
                        Some((_, to)) => Ok(Transformed::yes(column(to))),
                        None => Ok(Transformed::no(e)),
                    },
                    _ => Ok(Transformed::no(e)),
                })
                .map_err(df(None))?
                .data;
            Ok(SortExpr::new(expr, s.asc, s.nulls_first))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((plan, order))
}

/// Whether `name` is a hidden column: an order column or a hidden column of a table's rows
/// (`$IngestionTime`, ...).
pub(crate) fn is_hidden_column(name: &str) -> bool {
    is_order_column(name) || kql_functions::types::hidden::is_hidden(name)
}

/// `plan` without its hidden columns (order columns, the rows' hidden columns).
pub(crate) fn without_order_columns(plan: LogicalPlan) -> Result<LogicalPlan> {
    let fields = plan.schema().fields();
    if !fields.iter().any(|f| is_hidden_column(f.name())) {
        return Ok(plan);
    }
    let keep: Vec<Expr> = fields
        .iter()
        .filter(|f| !is_hidden_column(f.name()))
        .map(|f| column(f.name()))
        .collect();
    LogicalPlanBuilder::from(plan)
        .project(keep)
        .and_then(|b| b.build())
        .map_err(df(None))
}

/// Column names and KQL types of a plan.
pub(crate) fn kql_columns(plan: &LogicalPlan) -> Result<Vec<(String, KqlType)>> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| Ok((f.name().clone(), kql_type(f.data_type(), Span::default())?)))
        .collect()
}

/// Parses a stored function's `(params) { body }` text.
pub(crate) fn parse_stored_function(name: &str, text: &str, span: Span) -> Result<ast::Lambda> {
    let parsed = kql_syntax::parse(&format!("let {name} = {text}"));
    if let Some(d) = parsed.diagnostics.first() {
        return Err(semantic(
            span,
            format!("Stored function '{name}' does not parse: {}", d.message),
        ));
    }
    match parsed.query.statements.first().map(|s| &s.kind) {
        Some(StatementKind::Let {
            value: LetValue::Function(l) | LetValue::View(l),
            ..
        }) => Ok(l.clone()),
        _ => Err(semantic(
            span,
            format!("Stored function '{name}' is not a function"),
        )),
    }
}

fn not_tabular(e: &ast::Expr) -> crate::PlanError {
    semantic(
        e.span(),
        format!(
            "Expected a tabular expression: {}",
            crate::expr::truncate(&e.to_string())
        ),
    )
}

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
            crate::qualified::qualified(e).is_some_and(|q| p.qualified_is_tabular(&q))
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

    /// Plans a result statement.
    pub(crate) fn plan_result(&mut self, e: &ast::Expr) -> Result<(LogicalPlan, Option<Render>)> {
        if !is_tabular_syntax(e, self) {
            return Err(semantic(
                e.span(),
                "A query statement must be a tabular expression (did you mean print?)",
            ));
        }
        let t = self.tab(e)?;
        let render = t.render.clone();
        Ok((self.finish(t)?, render))
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

    fn tab_inner(&mut self, e: &ast::Expr) -> Result<Tab> {
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
                match crate::qualified::qualified(e) {
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
            OperatorKind::Raw { name, .. } if name == "__implicit_input" => {
                Err(not_implemented(span, "subqueries with an implicit input"))
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

/// Projects every column to its unqualified name (after scans, joins, subquery aliases).
pub(crate) fn unqualify(plan: LogicalPlan, span: Span) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    if schema.iter().all(|(q, _)| q.is_none()) {
        return Ok(plan);
    }
    let exprs: Vec<Expr> = schema
        .iter()
        .map(|(q, f)| {
            Expr::Column(datafusion_common::Column::new(q.cloned(), f.name()))
                .alias(f.name().clone())
        })
        .collect();
    LogicalPlanBuilder::from(plan)
        .project(exprs)
        .and_then(|b| b.build())
        .map_err(df(span))
}

/// The KQL name of an operator (for "not implemented" messages).
pub(crate) fn operator_name(op: &OperatorKind) -> String {
    match op {
        OperatorKind::Where { .. } => "where",
        OperatorKind::Project(_) => "project",
        OperatorKind::ProjectAway(_) => "project-away",
        OperatorKind::ProjectKeep(_) => "project-keep",
        OperatorKind::ProjectRename(_) => "project-rename",
        OperatorKind::ProjectReorder(_) => "project-reorder",
        OperatorKind::Extend(_) => "extend",
        OperatorKind::Summarize { .. } => "summarize",
        OperatorKind::Count(_) => "count",
        OperatorKind::Take { .. } => "take",
        OperatorKind::Sort { .. } => "sort",
        OperatorKind::Top { .. } => "top",
        OperatorKind::Distinct(_) => "distinct",
        OperatorKind::Union { .. } => "union",
        OperatorKind::Join { .. } => "join",
        OperatorKind::Lookup { .. } => "lookup",
        OperatorKind::As { .. } => "as",
        OperatorKind::GetSchema => "getschema",
        OperatorKind::Serialize(_) => "serialize",
        OperatorKind::Render { .. } => "render",
        OperatorKind::Print(_) => "print",
        OperatorKind::Range { .. } => "range",
        OperatorKind::Datatable { .. } => "datatable",
        OperatorKind::MvExpand { .. } => "mv-expand",
        OperatorKind::MvApply { .. } => "mv-apply",
        OperatorKind::Parse { filter: false, .. } => "parse",
        OperatorKind::Parse { filter: true, .. } => "parse-where",
        OperatorKind::ParseKv { .. } => "parse-kv",
        OperatorKind::MakeSeries { .. } => "make-series",
        OperatorKind::TopNested(_) => "top-nested",
        OperatorKind::TopHitters { .. } => "top-hitters",
        OperatorKind::Sample(_) => "sample",
        OperatorKind::SampleDistinct { .. } => "sample-distinct",
        OperatorKind::Search { .. } => "search",
        OperatorKind::Find { .. } => "find",
        OperatorKind::Evaluate { .. } => "evaluate",
        OperatorKind::Invoke(_) => "invoke",
        OperatorKind::Fork(_) => "fork",
        OperatorKind::Facet { .. } => "facet",
        OperatorKind::Partition { .. } => "partition",
        OperatorKind::Reduce { .. } => "reduce",
        OperatorKind::Consume(_) => "consume",
        OperatorKind::ExternalData { .. } => "externaldata",
        OperatorKind::AssertSchema(_) => "assert-schema",
        OperatorKind::Raw { name, .. } => return name.clone(),
    }
    .to_string()
}

/// A constant `usize` (take/top counts).
pub(crate) fn const_usize(v: &ScalarValue, span: Span) -> Result<usize> {
    let n = match v {
        ScalarValue::Int64(Some(n)) => *n,
        ScalarValue::Int32(Some(n)) => i64::from(*n),
        _ => return Err(semantic(span, "Expected a constant integer")),
    };
    usize::try_from(n.max(0)).map_err(|_| semantic(span, "The count is too large"))
}

#[allow(dead_code)]
pub(crate) fn is_const(x: &Expr) -> bool {
    strip_cast(x).is_some()
}
