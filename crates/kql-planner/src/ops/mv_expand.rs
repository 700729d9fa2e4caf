//! `mv-expand`: each element of a dynamic array or property bag becomes a row.
//!
//! Planned as one projection that turns every expanded value into a list of its elements
//! (`__mv_items`: arrays' elements; bags' entries as one-entry bags, or `[key, value]`
//! with `kind=array`; a null value one null; an empty array or bag nothing; `limit` per
//! row), then DataFusion's `Unnest` of all the lists at once, which expands them "in
//! parallel" and pads the shorter with nulls, as Kusto does. `with_itemindex` unnests
//! `[0, ..., n - 1]` beside them. An expanded column keeps its place; a new name is added
//! after the input's columns, the index last; `to typeof(T)` keeps only elements of type T
//! (cast-only, others become null).

use datafusion_expr::{Expr, LogicalPlanBuilder, lit, when};
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind, MvExpandItem, OpParam};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{Tab, call_udf, column, const_usize, conversion_of};
use crate::naming::{expr_name, next_column_name};
use crate::planner::Planner;

/// The JSON kinds (`__dyn_kind`) an element may have to be kept by `to typeof(t)`.
fn kinds_of(t: KqlType) -> &'static [&'static str] {
    match t {
        KqlType::Bool => &["bool"],
        KqlType::Int | KqlType::Long => &["long"],
        KqlType::Real | KqlType::Decimal => &["long", "real"],
        KqlType::String | KqlType::DateTime | KqlType::TimeSpan | KqlType::Guid => &["string"],
        KqlType::Dynamic => &[],
    }
}

/// An expanded element (dynamic) as `t`: null unless it has one of `t`'s JSON kinds.
fn typed_element(x: Expr, t: KqlType, span: Span) -> Result<Expr> {
    let Some(conv) = conversion_of(t)
        .or(Some("tostring"))
        .filter(|_| t != KqlType::Dynamic)
    else {
        return Ok(x);
    };
    let kind = call_udf("__dyn_kind", vec![x.clone()], span)?;
    let ok = kinds_of(t)
        .iter()
        .map(|k| kind.clone().eq(lit(*k)))
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    let converted = call_udf(conv, vec![x], span)?;
    let null = Expr::Literal(
        datafusion_common::ScalarValue::try_from(&t.to_arrow()).map_err(crate::error::df(span))?,
        None,
    );
    when(ok, converted)
        .otherwise(null)
        .map_err(crate::error::df(span))
}

/// One expanded item: its output name and element type.
struct Item {
    name: String,
    to: KqlType,
}

impl Planner<'_> {
    /// `mv-expand [kind=bag|array] [with_itemindex=I] items [limit n]`.
    pub(crate) fn mv_expand(
        &mut self,
        t: Tab,
        params: &[OpParam],
        items: &[MvExpandItem],
        limit: Option<&ast::Expr>,
        span: Span,
    ) -> Result<Tab> {
        let mut bags_as_arrays = false;
        let mut index: Option<String> = None;
        for p in params {
            let value = match &p.value.kind {
                ExprKind::Name(id) => id.name.clone(),
                _ => String::new(),
            };
            match p.name.as_str() {
                "kind" | "bagexpansion" => match value.as_str() {
                    "bag" => bags_as_arrays = false,
                    "array" => bags_as_arrays = true,
                    _ => {
                        return Err(semantic(
                            p.value.span(),
                            format!("mv-expand {}= must be bag or array", p.name),
                        ));
                    }
                },
                "with_itemindex" if !value.is_empty() => index = Some(value),
                _ => {
                    return Err(semantic(
                        p.value.span(),
                        format!("Unknown mv-expand parameter '{}'", p.name),
                    ));
                }
            }
        }
        let row = t.row();
        let limit = match limit {
            Some(l) => {
                let v = self.const_value(l, row)?;
                i64::try_from(const_usize(&v, l.span())?).unwrap_or(i64::MAX)
            }
            None => i64::from(i32::MAX),
        };
        let input: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut counter = 0usize;
        let mut planned: Vec<Item> = Vec::new();
        let mut first: Vec<Expr> = input.iter().map(|n| column(n)).collect();
        for (i, it) in items.iter().enumerate() {
            let e = &it.item.expr;
            let name = match it.item.names.as_slice() {
                [n] => n.name.clone(),
                _ => expr_name(e).unwrap_or_else(|| next_column_name(&mut counter, &input)),
            };
            let (x, xt) = self.typed(e, row)?;
            if xt != KqlType::Dynamic {
                return Err(semantic(
                    e.span(),
                    "mv-expand: the expression must have the type dynamic",
                ));
            }
            let to = match &it.to_type {
                Some(id) => KqlType::from_name(&id.name)
                    .ok_or_else(|| semantic(id.span.0, format!("Unknown type '{}'", id.name)))?,
                None => KqlType::Dynamic,
            };
            let list = call_udf("__mv_items", vec![x, lit(bags_as_arrays), lit(limit)], span)?;
            first.push(list.alias(format!("__mvx{i}")));
            planned.push(Item { name, to });
        }
        let lists: Vec<String> = (0..planned.len()).map(|i| format!("__mvx{i}")).collect();
        let mut plan = build(LogicalPlanBuilder::from(t.plan).project(first), span)?;
        let mut unnest = lists.clone();
        if index.is_some() {
            let mut exprs: Vec<Expr> = plan
                .schema()
                .fields()
                .iter()
                .map(|f| column(f.name()))
                .collect();
            let idx = call_udf(
                "__mv_index",
                lists.iter().map(|l| column(l)).collect(),
                span,
            )?;
            exprs.push(idx.alias("__mvx_index"));
            plan = build(LogicalPlanBuilder::from(plan).project(exprs), span)?;
            unnest.push("__mvx_index".to_string());
        }
        let plan = build(
            LogicalPlanBuilder::from(plan).unnest_columns_with_options(
                unnest
                    .iter()
                    .map(|c| datafusion_common::Column::new_unqualified(c.clone()))
                    .collect(),
                datafusion_common::UnnestOptions::new().with_preserve_nulls(true),
            ),
            span,
        )?;
        // Input columns in place (an expanded one replaced), new ones after, index last.
        let mut out: Vec<Expr> = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        let element = |i: usize, it: &Item| typed_element(column(&lists[i]), it.to, span);
        for n in &input {
            match planned.iter().rposition(|it| &it.name == n) {
                Some(i) => out.push(element(i, &planned[i])?.alias(n.clone())),
                None => out.push(column(n)),
            }
            taken.push(n.clone());
        }
        for (i, it) in planned.iter().enumerate() {
            if taken.contains(&it.name) {
                continue;
            }
            out.push(element(i, it)?.alias(it.name.clone()));
            taken.push(it.name.clone());
        }
        if let Some(ix) = index {
            out.push(column("__mvx_index").alias(ix));
        }
        let plan = build(LogicalPlanBuilder::from(plan).project(out), span)?;
        Ok(Tab::new(plan))
    }
}
