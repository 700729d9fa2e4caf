//! Window functions (valid only over serialized rows): `row_number`, `prev`, `next`
//! mapped onto DataFusion's, and the catalog's window UDFs, all over the rows' order.

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, ExprFunctionExt, SortExpr, WindowUDF, lit};
use kql_functions::KqlType;
use kql_functions::catalog::BuiltinWindow;
use kql_syntax::Span;
use kql_syntax::ast;

use crate::error::{Result, df, semantic};
use crate::leaf::{Row, cast_to};
use crate::planner::Planner;

/// A window function over rows in `order`. Serialized input without sort keys (`serialize`
/// of an unsorted table) gives no ORDER BY at all: the rows are taken as they come, in one
/// partition. (An empty ORDER BY would make DataFusion pick a RANGE frame, which needs a
/// sort key: "ORDER BY column cannot be empty".)
fn in_order(w: Expr, order: Vec<SortExpr>, span: Span) -> Result<Expr> {
    if order.is_empty() {
        Ok(w)
    } else {
        w.order_by(order).build().map_err(df(span))
    }
}

impl Planner<'_> {
    /// The sort keys of a serialized input, for window functions.
    fn require_serialized(&self, row: Row<'_>, span: Span) -> Result<Vec<SortExpr>> {
        match row.order {
            Some(o) => Ok(o.to_vec()),
            None => Err(semantic(
                span,
                "Function can only be used on serialized input (use serialize, sort, order by or top first)",
            )),
        }
    }

    /// A catalog window UDF called with the planned arguments over the rows' order.
    pub(crate) fn window_udf(
        &mut self,
        f: &std::sync::Arc<WindowUDF>,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        let order = self.require_serialized(row, span)?;
        let mut planned = Vec::new();
        for a in args {
            planned.push(self.scalar(a, row)?);
        }
        in_order(f.call(planned), order, span)
    }

    /// `row_number`, `prev`, `next`.
    pub(crate) fn builtin_window(
        &mut self,
        w: BuiltinWindow,
        args: &[ast::Expr],
        span: Span,
        row: Row<'_>,
    ) -> Result<Expr> {
        match w {
            BuiltinWindow::RowNumber => {
                if args.len() == 2 {
                    let order = self.require_serialized(row, span)?;
                    let (s, st) = self.typed(&args[0], row)?;
                    if !st.is_integer() {
                        return Err(semantic(
                            args[0].span(),
                            "row_number() start must be an integer",
                        ));
                    }
                    let restart = self.predicate(&args[1], row)?;
                    return in_order(
                        kql_functions::window::row_number_restart()
                            .call(vec![cast_to(s, st, KqlType::Long), restart]),
                        order,
                        span,
                    );
                }
                let start = match args.first() {
                    Some(a) => {
                        let (x, t) = self.typed(a, row)?;
                        if !t.is_integer() {
                            return Err(semantic(
                                a.span(),
                                "row_number() start must be an integer",
                            ));
                        }
                        Some(cast_to(x, t, KqlType::Long))
                    }
                    None => None,
                };
                let order = self.require_serialized(row, span)?;
                let w = in_order(
                    datafusion_functions_window::expr_fn::row_number(),
                    order,
                    span,
                )?;
                let w = Expr::Cast(datafusion_expr::Cast::new(
                    Box::new(w),
                    arrow::datatypes::DataType::Int64,
                ));
                Ok(match start {
                    Some(s) => w + s - lit(1i64),
                    None => w,
                })
            }
            BuiltinWindow::Prev | BuiltinWindow::Next => {
                let order = self.require_serialized(row, span)?;
                let (x, t) = self.typed(&args[0], row)?;
                let offset = match args.get(1) {
                    Some(o) => match self.const_value(o, row)? {
                        ScalarValue::Int64(Some(v)) => v,
                        ScalarValue::Int32(Some(v)) => i64::from(v),
                        _ => {
                            return Err(semantic(
                                o.span(),
                                "The offset must be a constant integer",
                            ));
                        }
                    },
                    None => 1,
                };
                let default = match args.get(2) {
                    Some(d) => {
                        let v = self.const_value(d, row)?;
                        let vt = crate::literal::scalar_type(&v).unwrap_or(t);
                        Some(if vt == t {
                            v
                        } else {
                            v.cast_to(&t.to_arrow()).map_err(df(d.span()))?
                        })
                    }
                    None => None,
                };
                let w = if w == BuiltinWindow::Prev {
                    datafusion_functions_window::expr_fn::lag(x, Some(offset), default)
                } else {
                    datafusion_functions_window::expr_fn::lead(x, Some(offset), default)
                };
                in_order(w, order, span)
            }
        }
    }
}
