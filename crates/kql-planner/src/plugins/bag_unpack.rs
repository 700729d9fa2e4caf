//! `bag_unpack(column [, prefix] [, columnsConflict] [, ignoredProperties]) [: (schema)]`:
//! each top-level slot of a property bag becomes a column (bag-unpack-plugin.md).
//!
//! The input's columns come first (without the unpacked one), then a column per slot in
//! name order, typed as the slot's values when they all have one type, else dynamic; the
//! optional prefix is added to each slot's name. A slot named as an input column is an
//! error (`columnsConflict='error'`, the default), replaces it (`'replace_source'`) or is
//! dropped (`'keep_source'`). With an output schema only the declared columns come out
//! (`*` first: the input's columns, then these), and the data need not be read.
//!
//! Without a schema the slots depend on the data: planning asks for one probe row,
//! `buildschema(column)` over the input (`PlanErrorKind::NeedsProbe`), and lays the
//! columns out from it. Each column is a projection `column.slot` converted to its type.

use datafusion_common::ScalarValue;
use datafusion_expr::{Expr, LogicalPlanBuilder, lit};
use kql_functions::{KqlType, Registry};
use kql_syntax::Span;
use kql_syntax::ast::{self, ColumnDecl};
use serde_json::Value;

use super::Args;
use crate::error::{Result, df, internal, needs_probe, semantic};
use crate::leaf::{Tab, call_udf, cast_to, column, visible_columns};
use crate::planner::Planner;

/// The most slots a bag_unpack without a schema turns into columns.
const MAX_SLOTS: usize = 10_000;

#[derive(Clone, Copy, PartialEq)]
enum Conflict {
    Error,
    ReplaceSource,
    KeepSource,
}

/// A slot's KQL type from its `buildschema` entry.
fn slot_type(schema: &Value) -> KqlType {
    match schema.as_str() {
        Some("long") => KqlType::Long,
        Some("double") => KqlType::Real,
        Some("string") => KqlType::String,
        Some("bool") => KqlType::Bool,
        _ => KqlType::Dynamic,
    }
}

impl Planner<'_> {
    fn string_arg(&mut self, e: &ast::Expr, what: &str) -> Result<String> {
        let empty = Self::empty_schema();
        let row = crate::leaf::Row {
            schema: &empty,
            order: None,
        };
        match self.const_value(e, row)? {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => Ok(s),
            _ => Err(semantic(
                e.span(),
                format!("bag_unpack(): {what} must be a constant string"),
            )),
        }
    }

    /// `evaluate bag_unpack(...)`.
    pub(crate) fn bag_unpack(
        &mut self,
        t: Tab,
        args: &Args<'_>,
        schema: Option<&(bool, Vec<ColumnDecl>)>,
        span: Span,
    ) -> Result<Tab> {
        let Some(col) = args.get("column", 0) else {
            return Err(semantic(span, "bag_unpack() needs the column to unpack"));
        };
        let row = t.row();
        let (bag, bt) = self.typed(col, row)?;
        if bt != KqlType::Dynamic {
            return Err(semantic(
                col.span(),
                "bag_unpack(): the column must be dynamic",
            ));
        }
        let source = match &col.kind {
            ast::ExprKind::Name(id) => Some(id.name.clone()),
            _ => None,
        };
        let prefix = match args.get("OutputColumnPrefix", 1) {
            Some(e) => self.string_arg(e, "the prefix")?,
            None => String::new(),
        };
        let conflict = match args.get("columnsConflict", 2) {
            None => Conflict::Error,
            Some(e) => match self.string_arg(e, "columnsConflict")?.as_str() {
                "error" => Conflict::Error,
                "replace_source" => Conflict::ReplaceSource,
                "keep_source" => Conflict::KeepSource,
                other => {
                    return Err(semantic(
                        e.span(),
                        format!(
                            "bag_unpack(): columnsConflict must be error, replace_source or keep_source, not '{other}'"
                        ),
                    ));
                }
            },
        };
        let ignored: Vec<String> = match args.get("ignoredProperties", 3) {
            None => Vec::new(),
            Some(e) => match self.const_value(e, row)? {
                ScalarValue::LargeUtf8(Some(text)) => match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Array(items)) => items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    _ => {
                        return Err(semantic(
                            e.span(),
                            "bag_unpack(): ignoredProperties must be a dynamic array of names",
                        ));
                    }
                },
                _ => {
                    return Err(semantic(
                        e.span(),
                        "bag_unpack(): ignoredProperties must be a dynamic array of names",
                    ));
                }
            },
        };
        let inputs: Vec<String> = visible_columns(row.schema)
            .into_iter()
            .filter(|n| Some(n) != source.as_ref())
            .collect();

        // The slots: declared, or read from the data.
        let (star, slots): (bool, Vec<(String, String, KqlType)>) = match schema {
            Some((star, cols)) => {
                let mut out = Vec::new();
                for c in cols {
                    let ty = KqlType::from_name(&c.ty.name).ok_or_else(|| {
                        semantic(c.ty.span.0, format!("Unknown type '{}'", c.ty.name))
                    })?;
                    let slot = c
                        .name
                        .name
                        .strip_prefix(prefix.as_str())
                        .unwrap_or(&c.name.name);
                    out.push((c.name.name.clone(), slot.to_string(), ty));
                }
                (*star, out)
            }
            None => {
                let udaf = Registry::global()
                    .aggregate_udaf("buildschema")
                    .ok_or_else(|| internal("buildschema is not registered"))?;
                let probe = LogicalPlanBuilder::from(t.plan.clone())
                    .aggregate(
                        Vec::<Expr>::new(),
                        vec![udaf.call(vec![bag.clone()]).alias("schema")],
                    )
                    .and_then(|b| b.build())
                    .map_err(df(span))?;
                let Some(batches) = self.ctx.probed(&probe) else {
                    return Err(needs_probe(span, "bag_unpack()", probe));
                };
                let text = batches
                    .iter()
                    .find(|b| b.num_rows() > 0)
                    .and_then(|b| {
                        let a = b.column(0);
                        (!a.is_null(0))
                            .then(|| kql_functions::dynamic::dynamic_to_json(a.as_ref(), 0))
                    })
                    .unwrap_or(Value::Null);
                let mut out: Vec<(String, String, KqlType)> = match text {
                    Value::Object(m) => m
                        .iter()
                        .filter(|(k, _)| {
                            k.as_str() != kql_functions::aggregate::buildschema::INDEXER
                        })
                        .filter(|(k, _)| !ignored.contains(k))
                        .map(|(k, v)| (format!("{prefix}{k}"), k.clone(), slot_type(v)))
                        .collect(),
                    _ => Vec::new(),
                };
                if out.len() > MAX_SLOTS {
                    return Err(semantic(
                        span,
                        format!(
                            "bag_unpack(): {} slots are more than the limit of {MAX_SLOTS} columns",
                            out.len()
                        ),
                    ));
                }
                out.sort_by(|a, b| a.0.cmp(&b.0));
                (true, out)
            }
        };

        // Conflicts between slots and input columns.
        let mut keep_inputs: Vec<String> = if star { inputs.clone() } else { Vec::new() };
        let mut columns: Vec<(String, String, KqlType)> = Vec::new();
        for (name, slot, ty) in slots {
            if ignored.contains(&slot) && schema.is_some() {
                continue;
            }
            if keep_inputs.contains(&name) {
                match conflict {
                    Conflict::Error => {
                        return Err(semantic(
                            span,
                            format!(
                                "bag_unpack(): the slot '{name}' conflicts with the input column '{name}' (use columnsConflict)"
                            ),
                        ));
                    }
                    Conflict::ReplaceSource => keep_inputs.retain(|n| n != &name),
                    Conflict::KeepSource => continue,
                }
            }
            columns.push((name, slot, ty));
        }
        let mut exprs: Vec<Expr> = keep_inputs.iter().map(|n| column(n)).collect();
        for (name, slot, ty) in columns {
            let v = call_udf("__dyn_get", vec![bag.clone(), lit(slot)], span)?;
            exprs.push(cast_to(v, KqlType::Dynamic, ty).alias(name));
        }
        let plan = LogicalPlanBuilder::from(t.plan)
            .project(exprs)
            .and_then(|b| b.build())
            .map_err(df(span))?;
        Ok(Tab::new(plan))
    }
}
