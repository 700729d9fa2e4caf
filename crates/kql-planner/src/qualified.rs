//! Qualified names: `database("D").T`, `database("D")["T"]`, `cluster("c").database("D").T`,
//! `database("D").F(x)` and `database("D").table("T")`, in tabular and scalar positions.
//!
//! A qualified entity is planned with that database as the planner's database: the names in
//! a stored function's body resolve in the function's own database. `cluster()` must name
//! this cluster ([`KqlContext::is_this_cluster`](crate::KqlContext::is_this_cluster)); any
//! other cluster is refused with a "not supported" error.

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlanBuilder};
use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind};

use crate::error::{Result, df, not_supported, semantic};
use crate::leaf::{DatabaseRef, Qualified, Row, Tab, parse_stored_function, single_arg, unqualify};
use crate::planner::Planner;
use crate::scope::Scope;
use crate::{StoredFunction, TableRef};

impl Planner<'_> {
    /// A table of the planner's database (the request's, or the one whose function is
    /// being planned).
    pub(crate) fn find_table(&self, name: &str) -> Option<TableRef> {
        match &self.database {
            Some(db) => self.ctx.database_table(db, name),
            None => self.ctx.table(name),
        }
    }

    /// Whether `name` is a table of the planner's database.
    pub(crate) fn has_table(&self, name: &str) -> bool {
        match &self.database {
            Some(db) => self.ctx.database_has_table(db, name),
            None => self.ctx.has_table(name),
        }
    }

    /// A stored function of the planner's database.
    pub(crate) fn find_function(&self, name: &str) -> Option<StoredFunction> {
        match &self.database {
            Some(db) => self.ctx.database_function(db, name),
            None => self.ctx.function(name),
        }
    }

    /// Runs `f` with `database` as the planner's database (`None`: unchanged).
    pub(crate) fn in_database<T>(
        &mut self,
        database: Option<String>,
        f: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let Some(db) = database else {
            return f(self);
        };
        let saved = self.database.replace(db);
        let r = f(self);
        self.database = saved;
        r
    }

    /// A constant string argument (`database("x")`, `database(dbName)` with a bound name).
    fn const_string(&mut self, e: &ast::Expr, function: &str) -> Result<String> {
        let schema = Self::empty_schema();
        let row = Row {
            schema: &schema,
            order: None,
        };
        match self.const_value(e, row) {
            Ok(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => Ok(s),
            _ => Err(semantic(
                e.span(),
                format!("{function}() expects a constant string"),
            )),
        }
    }

    /// The database a reference names (the cluster must be this one).
    fn resolve_database(&mut self, r: &DatabaseRef<'_>) -> Result<String> {
        if let Some(args) = r.cluster {
            let arg = single_arg(args, "cluster", r.span)?;
            let name = self.const_string(arg, "cluster")?;
            if !self.ctx.is_this_cluster(&name) {
                return Err(not_supported(
                    arg.span(),
                    format!(
                        "Cross-cluster queries are not supported: cluster('{name}') is not this cluster"
                    ),
                ));
            }
        }
        let arg = single_arg(r.database, "database", r.span)?;
        let name = self.const_string(arg, "database")?;
        self.ctx.database(&name).ok_or_else(|| {
            semantic(
                arg.span(),
                format!("The name '{name}' does not refer to any known database"),
            )
        })
    }

    /// Plans a qualified entity as a tabular expression.
    pub(crate) fn qualified_tab(&mut self, q: &Qualified<'_>, span: Span) -> Result<Tab> {
        let db = self.resolve_database(&q.database)?;
        let name = q.name;
        match q.args {
            None => self.in_database(Some(db), |p| p.database_entity(name, span)),
            Some(args) if name == "table" => {
                let arg = single_arg(args, "table", span)?;
                let table = self.const_string(arg, "table")?;
                self.in_database(Some(db), |p| p.database_entity(&table, span))
            }
            Some(args) => {
                let Some(f) = self.ctx.database_function(&db, name) else {
                    return Err(semantic(
                        span,
                        format!("Failed to resolve tabular function named '{name}'"),
                    ));
                };
                let l = parse_stored_function(name, &f.text, span)?;
                self.call_user_tabular(name, &l, Scope::default(), args, span, Some(db))
            }
        }
    }

    /// A table or parameterless stored function of the planner's database (no `let`
    /// names: those are the query's, not the database's).
    pub(crate) fn database_entity(&mut self, name: &str, span: Span) -> Result<Tab> {
        if let Some(t) = self.find_table(name) {
            let visible = crate::hidden::visible(&t.source.schema());
            let plan = LogicalPlanBuilder::scan(name, t.source, visible)
                .and_then(|b| b.build())
                .map_err(df(span))?;
            let mut tab = Tab::new(unqualify(plan, span)?);
            tab.name = Some(name.to_string());
            return Ok(tab);
        }
        if let Some(f) = self.find_function(name) {
            let l = parse_stored_function(name, &f.text, span)?;
            if l.params.is_empty() {
                return self.call_user_tabular(name, &l, Scope::default(), &[], span, None);
            }
        }
        Err(semantic(
            span,
            format!("Failed to resolve table or column expression named '{name}'"),
        ))
    }

    /// `database("D").F(args)` in a scalar position: a stored scalar function of `D`.
    pub(crate) fn qualified_scalar(
        &mut self,
        q: &Qualified<'_>,
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        let db = self.resolve_database(&q.database)?;
        let name = q.name;
        let (Some(args), Some(f)) = (q.args, self.ctx.database_function(&db, name)) else {
            return Err(semantic(
                span,
                format!("Failed to resolve scalar function named '{name}' in database '{db}'"),
            ));
        };
        let l = parse_stored_function(name, &f.text, span)?;
        self.call_user_scalar(name, &l, Scope::default(), args, span, row, Some(db))
    }

    /// Whether a qualified entity is (syntactically) tabular: a table, `table()`, or a
    /// function with a tabular body.
    pub(crate) fn qualified_is_tabular(&self, q: &Qualified<'_>) -> bool {
        if q.args.is_none() || q.name == "table" {
            return true;
        }
        let db = match q.database.database {
            [
                ast::Expr {
                    kind: ExprKind::Literal(ast::Literal::String { value, .. }),
                    ..
                },
            ] => self.ctx.database(value),
            _ => None,
        };
        match db.and_then(|db| self.ctx.database_function(&db, q.name)) {
            Some(f) => parse_stored_function(q.name, &f.text, q.database.span)
                .is_ok_and(|l| crate::planner::body_is_tabular(&l, self)),
            None => true,
        }
    }
}
