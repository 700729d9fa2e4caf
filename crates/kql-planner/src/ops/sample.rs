//! Row picking by chance or by frequency: `sample`, `sample-distinct`, `top-hitters`.
//!
//! * `sample n`: up to n rows drawn at random (`sort by random() | take n`); the docs
//!   promise no particular distribution.
//! * `sample-distinct n of c`: up to n distinct values of `c`, drawn at random.
//! * `top-hitters n of v [by s]`: the n values of `v` with the largest count (or sum of
//!   `s`), as the docs' equivalent `summarize ... by v | top n by ... desc`; Kusto's
//!   sketch is approximate, this is exact. Columns `v` and `approximate_count_<v>` (or
//!   `approximate_sum_<s>`).

use datafusion_expr::{Expr, LogicalPlanBuilder, SortExpr, lit};
use datafusion_functions_aggregate as agg;
use kql_functions::KqlType;
use kql_syntax::Span;
use kql_syntax::ast::{self, NamedExpr};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{Tab, cast_to, column, const_usize};
use crate::naming::{expr_name, next_column_name, path_name};
use crate::planner::Planner;

const SAMPLE_KEY: &str = "__sample_key";

/// The first `n` rows of `plan` in a random order. The key is a column of its own, so that
/// the sort always has a column to carry (a `count` after it needs none).
fn random_rows(
    plan: datafusion_expr::LogicalPlan,
    n: usize,
    span: Span,
) -> Result<datafusion_expr::LogicalPlan> {
    let mut exprs: Vec<Expr> = plan
        .schema()
        .fields()
        .iter()
        .map(|f| column(f.name()))
        .collect();
    let keep = exprs.clone();
    exprs.push(datafusion_functions::math::expr_fn::random().alias(SAMPLE_KEY));
    build(
        LogicalPlanBuilder::from(plan)
            .project(exprs)
            .and_then(|b| b.sort(vec![SortExpr::new(column(SAMPLE_KEY), true, false)]))
            .and_then(|b| b.limit(0, Some(n)))
            .and_then(|b| b.project(keep)),
        span,
    )
}

impl Planner<'_> {
    fn count_of(&mut self, t: &Tab, n: &ast::Expr) -> Result<usize> {
        let v = self.const_value(n, t.row())?;
        const_usize(&v, n.span())
    }

    /// `sample n`.
    pub(crate) fn sample(&mut self, t: Tab, n: &ast::Expr, span: Span) -> Result<Tab> {
        let n = self.count_of(&t, n)?;
        Ok(Tab::new(random_rows(t.plan, n, span)?))
    }

    /// `sample-distinct n of c`.
    pub(crate) fn sample_distinct(
        &mut self,
        t: Tab,
        n: &ast::Expr,
        of: &ast::Expr,
        span: Span,
    ) -> Result<Tab> {
        let n = self.count_of(&t, n)?;
        let name = path_name(of).unwrap_or_else(|| "Column1".to_string());
        let x = self.scalar(of, t.row())?;
        let plan = build(
            LogicalPlanBuilder::from(t.plan).aggregate(vec![x.alias(name)], Vec::<Expr>::new()),
            span,
        )?;
        Ok(Tab::new(random_rows(plan, n, span)?))
    }

    /// `top-hitters n of v [by s]`.
    pub(crate) fn top_hitters(
        &mut self,
        t: Tab,
        n: &ast::Expr,
        of: &ast::Expr,
        by: Option<&NamedExpr>,
        span: Span,
    ) -> Result<Tab> {
        let n = self.count_of(&t, n)?;
        let row = t.row();
        let input: Vec<String> = row
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut counter = 0;
        let name = expr_name(of).unwrap_or_else(|| next_column_name(&mut counter, &input));
        let x = self.scalar(of, row)?;
        let (measure, mname) = match by {
            None => (
                agg::count::count(lit(1i64)),
                format!("approximate_count_{name}"),
            ),
            Some(b) => {
                let (s, st) = self.typed(&b.expr, row)?;
                if !st.is_numeric() {
                    return Err(semantic(
                        b.expr.span(),
                        format!("top-hitters: the summing expression must be numeric, not {st}"),
                    ));
                }
                let s = if st == KqlType::Int {
                    cast_to(s, st, KqlType::Long)
                } else {
                    s
                };
                let sname = match b.names.as_slice() {
                    [id] => id.name.clone(),
                    _ => {
                        expr_name(&b.expr).unwrap_or_else(|| next_column_name(&mut counter, &input))
                    }
                };
                (agg::sum::sum(s), format!("approximate_sum_{sname}"))
            }
        };
        let plan = build(
            LogicalPlanBuilder::from(t.plan)
                .aggregate(vec![x.alias(name)], vec![measure.alias(mname.clone())])
                .and_then(|b| b.sort(vec![SortExpr::new(column(&mname), false, false)]))
                .and_then(|b| b.limit(0, Some(n))),
            span,
        )?;
        let order = vec![SortExpr::new(column(&mname), false, false)];
        let mut t = Tab::new(plan);
        t.order = Some(order);
        Ok(t)
    }
}
