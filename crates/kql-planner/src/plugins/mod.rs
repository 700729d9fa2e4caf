//! `evaluate plugin(args)`: the plugins of the function catalog (`FunctionKind::Plugin`),
//! one file per family. A plugin takes the pipe's input and gives a table.

mod activity;
mod activity_metrics;
mod bag_unpack;
mod common;
mod funnel;
mod narrow;
mod pivot;
mod rows_near;

use kql_functions::Registry;
use kql_functions::catalog::{FunctionKind, Plugin};
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl, ExprKind, OpParam};

use crate::error::{Result, semantic};
use crate::leaf::Tab;
use crate::planner::Planner;

/// A plugin call's arguments: positional ones in order, named ones by name.
pub(crate) struct Args<'a> {
    pub(crate) positional: Vec<&'a ast::Expr>,
    pub(crate) named: Vec<(&'a str, &'a ast::Expr)>,
}

impl<'a> Args<'a> {
    fn new(args: &'a [ast::Expr]) -> Args<'a> {
        let mut positional = Vec::new();
        let mut named = Vec::new();
        for a in args {
            match &a.kind {
                ExprKind::NamedArg { name, value } => named.push((name.name.as_str(), &**value)),
                _ => positional.push(a),
            }
        }
        Args { positional, named }
    }

    /// Argument `name`, given by name or at position `at`.
    pub(crate) fn get(&self, name: &str, at: usize) -> Option<&'a ast::Expr> {
        self.named
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, e)| *e)
            .or_else(|| self.positional.get(at).copied())
    }
}

impl Planner<'_> {
    /// `T | evaluate [hints] plugin(args) [: (schema)]`.
    pub(crate) fn evaluate(
        &mut self,
        t: Tab,
        params: &[OpParam],
        call: &ast::Expr,
        schema: Option<&(bool, Vec<ColumnDecl>)>,
        span: Span,
    ) -> Result<Tab> {
        if let Some(p) = params.iter().find(|p| !p.name.starts_with("hint.")) {
            return Err(semantic(
                p.value.span(),
                format!("Unknown evaluate parameter '{}'", p.name),
            ));
        }
        let ExprKind::Call { name, args } = &call.kind else {
            return Err(semantic(call.span(), "evaluate expects a plugin call"));
        };
        let n = name.name.as_str();
        let Some(f) = Registry::global().function(n) else {
            return Err(semantic(name.span.0, format!("Unknown plugin: '{n}'")));
        };
        let FunctionKind::Plugin(plugin) = &f.kind else {
            return Err(semantic(name.span.0, format!("'{n}' is not a plugin")));
        };
        if !f.arity.accepts(args.len()) {
            return Err(semantic(
                call.span(),
                format!(
                    "Plugin '{n}' expects {} arguments, got {}",
                    f.arity.describe(),
                    args.len()
                ),
            ));
        }
        let a = Args::new(args);
        match plugin {
            Plugin::BagUnpack => self.bag_unpack(t, &a, schema, span),
            Plugin::Narrow => self.narrow(t, span),
            Plugin::Identity => Ok(t),
            Plugin::EstimateRowsCount => self.estimate_rows_count(t, span),
            Plugin::Pivot => self.pivot(t, &a, schema, span),
            Plugin::RowsNear => self.rows_near(t, &a, span),
            Plugin::Preview => Err(semantic(
                span,
                "preview gives two tables: it must end a query statement",
            )),
            Plugin::SessionCount => self.session_count(t, &a, span),
            Plugin::SlidingWindowCounts => self.sliding_window_counts(t, &a, span),
            Plugin::ActivityCountsMetrics => self.activity_counts_metrics(t, &a, span),
            Plugin::ActivityMetrics => self.activity_metrics(t, &a, span),
            Plugin::NewActivityMetrics => self.new_activity_metrics(t, &a, span),
            Plugin::ActiveUsersCount => self.active_users_count(t, &a, span),
            Plugin::FunnelSequence => self.funnel_sequence(t, &a, span),
            Plugin::FunnelSequenceCompletion => self.funnel_sequence_completion(t, &a, span),
            Plugin::RollingPercentile => self.rolling_percentile(t, &a, span),
        }
    }
}
