//! `fork` and `facet`: one input, several result tables (fork-operator.md,
//! facet-operator.md). Both end a query statement.
//!
//! The input is computed once (`KqlContext::materialize`) and each leg is planned over it
//! as a subquery without a source. `fork [name=](legs)`: a table per leg, named by `name=`
//! or by an `as` inside the leg. `facet by c1, c2 [with (legs)]`: the `with` leg's table,
//! then per column `summarize count_<c> = count() by c`.

use datafusion_expr::{LogicalPlan, LogicalPlanBuilder, lit};
use datafusion_functions_aggregate as agg;
use kql_syntax::Span;
use kql_syntax::ast::{self, Ident};

use super::build;
use crate::error::{Result, semantic};
use crate::leaf::{Leg, Tab, column, unqualify};
use crate::planner::Planner;

impl Planner<'_> {
    /// The input of a fork or facet, computed once when the context can cache it.
    fn shared_input(&mut self, input: &ast::Expr, span: Span) -> Result<LogicalPlan> {
        let t = self.tab(input)?;
        let plan = self.finish(t)?;
        match self.ctx.materialize(&plan) {
            Some(table) => {
                let scanned =
                    LogicalPlanBuilder::scan(format!("__fork_{}", span.start), table.source, None)
                        .and_then(|b| b.build())
                        .map_err(crate::error::df(span))?;
                unqualify(scanned, span)
            }
            None => Ok(plan),
        }
    }

    fn leg(&mut self, input: &LogicalPlan, leg: &ast::Expr, name: Option<String>) -> Result<Leg> {
        let t: Tab = self.over_input(input.clone(), leg)?;
        let name = name.or_else(|| t.name.clone());
        let render = t.render.clone();
        Ok((self.finish(t)?, render, name))
    }

    /// `T | fork [name=](leg) ...`.
    pub(crate) fn fork(
        &mut self,
        input: &ast::Expr,
        legs: &[(Option<Ident>, ast::Expr)],
        span: Span,
    ) -> Result<Vec<Leg>> {
        if legs.is_empty() {
            return Err(semantic(span, "fork needs at least one subquery"));
        }
        let shared = self.shared_input(input, span)?;
        let mut out = Vec::new();
        for (name, leg) in legs {
            out.push(self.leg(&shared, leg, name.as_ref().map(|n| n.name.clone()))?);
        }
        Ok(out)
    }

    /// `T | evaluate preview(n)` (preview-plugin.md): `T | take n`, then `T | count`.
    pub(crate) fn preview(
        &mut self,
        input: &ast::Expr,
        n: &ast::Expr,
        span: Span,
    ) -> Result<Vec<Leg>> {
        let shared = self.shared_input(input, span)?;
        let empty = Self::empty_schema();
        let row = crate::leaf::Row {
            schema: &empty,
            order: None,
        };
        let count = crate::leaf::const_usize(&self.const_value(n, row)?, n.span())?;
        let first = build(
            LogicalPlanBuilder::from(shared.clone()).limit(0, Some(count)),
            span,
        )?;
        let total = build(
            LogicalPlanBuilder::from(shared).aggregate(
                Vec::<datafusion_expr::Expr>::new(),
                vec![agg::count::count(lit(1i64)).alias("Count")],
            ),
            span,
        )?;
        Ok(vec![(first, None, None), (total, None, None)])
    }

    /// `T | facet by c1, ... [with (leg)]`.
    pub(crate) fn facet(
        &mut self,
        input: &ast::Expr,
        by: &[Ident],
        with: Option<&ast::Expr>,
        span: Span,
    ) -> Result<Vec<Leg>> {
        let shared = self.shared_input(input, span)?;
        let mut out = Vec::new();
        if let Some(w) = with {
            out.push(self.leg(&shared, w, None)?);
        }
        for c in by {
            if shared
                .schema()
                .field_with_unqualified_name(&c.name)
                .is_err()
            {
                return Err(semantic(c.span.0, format!("facet: no column '{}'", c.name)));
            }
            let plan = build(
                LogicalPlanBuilder::from(shared.clone()).aggregate(
                    vec![column(&c.name)],
                    vec![agg::count::count(lit(1i64)).alias(format!("count_{}", c.name))],
                ),
                span,
            )?;
            out.push((plan, None, None));
        }
        Ok(out)
    }
}
