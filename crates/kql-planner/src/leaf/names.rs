//! Names qualified by a database: `database("D").T`, `cluster("c").database("D").F(x)`,
//! as written (resolving them is the planner's `qualified` module).

use kql_syntax::Span;
use kql_syntax::ast::{self, ExprKind};

use crate::error::{Result, semantic};

/// `database(x)` or `cluster(c).database(x)`, as written.
pub(crate) struct DatabaseRef<'e> {
    /// The argument of `cluster()`, when there is one.
    pub(crate) cluster: Option<&'e [ast::Expr]>,
    /// The arguments of `database()`.
    pub(crate) database: &'e [ast::Expr],
    pub(crate) span: Span,
}

/// An entity of a named database: `<database ref>.name`, `<database ref>["name"]` or
/// `<database ref>.name(args)`.
pub(crate) struct Qualified<'e> {
    pub(crate) database: DatabaseRef<'e>,
    /// The table or function name.
    pub(crate) name: &'e str,
    /// The call's arguments (`None` for `.name` without parentheses).
    pub(crate) args: Option<&'e [ast::Expr]>,
}

/// `database(...)` or `cluster(...).database(...)`.
fn database_ref(e: &ast::Expr) -> Option<DatabaseRef<'_>> {
    match &e.kind {
        ExprKind::Call { name, args } if name.name == "database" => Some(DatabaseRef {
            cluster: None,
            database: args,
            span: e.span(),
        }),
        ExprKind::MethodCall { expr, name, args } if name.name == "database" => match &expr.kind {
            ExprKind::Call {
                name: c,
                args: cargs,
            } if c.name == "cluster" => Some(DatabaseRef {
                cluster: Some(cargs),
                database: args,
                span: e.span(),
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The qualified entity `e` names, if it is one.
pub(crate) fn qualified(e: &ast::Expr) -> Option<Qualified<'_>> {
    match &e.kind {
        ExprKind::Member { expr, name } => Some(Qualified {
            database: database_ref(expr)?,
            name: &name.name,
            args: None,
        }),
        ExprKind::Index { expr, index } => match &index.kind {
            ExprKind::Literal(ast::Literal::String { value, .. }) => Some(Qualified {
                database: database_ref(expr)?,
                name: value,
                args: None,
            }),
            _ => None,
        },
        ExprKind::MethodCall { expr, name, args } => Some(Qualified {
            database: database_ref(expr)?,
            name: &name.name,
            args: Some(args),
        }),
        _ => None,
    }
}

/// The only argument of `function()`, which must be there.
pub(crate) fn single_arg<'e>(
    args: &'e [ast::Expr],
    function: &str,
    span: Span,
) -> Result<&'e ast::Expr> {
    match args {
        [a] => Ok(a),
        _ => Err(semantic(
            span,
            format!("{function}() expects one string argument"),
        )),
    }
}
