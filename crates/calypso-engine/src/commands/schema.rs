//! Database schemas: `.show database D schema [details] [if_later_than "v"] [as json | as
//! csl script]`, `.show database D cslschema`, `.show databases [(A, B)] schema [as json]`,
//! `.show schema [as json]` (show-schema-database.md).

use calypso_storage::{Catalog, Database, Function};
use kql_functions::KqlType;
use kql_syntax::ast::{
    CommandKind, DatabaseCommand, DatabaseSet, FunctionCommand, Param, ParamType, Property,
    SchemaFormat, StatementKind, prop,
};

use super::{TABLE_SCHEMA_COLS, csl_schema, db_of, schema_type_name, table_schema_json};
use crate::security::access::{self, Action, Need};
use crate::table::{Cell, table};
use crate::{Caller, Engine, EngineError, Result, ResultTable};

/// `vN.0`: a database's version is the catalog version that last changed it (Calypso keeps
/// one version for the whole catalog).
fn version(cat: &Catalog) -> String {
    format!("v{}.0", cat.version)
}

/// Whether the catalog's version is later than `v` (`"v12.3"`); an unreadable version
/// counts as older.
fn later_than(cat: &Catalog, v: &Option<String>) -> bool {
    let Some(v) = v else { return true };
    let t = v
        .trim()
        .trim_start_matches(['v', 'V'])
        .trim_start_matches('.');
    let mut parts = t.split('.').map(|p| p.trim().parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (cat.version, 0) > (major, minor)
}

/// The parameters of a stored function, parsed back from their text.
pub(crate) fn function_params(f: &Function) -> Vec<Param> {
    params_of(&f.parameters).0
}

/// The parameters of a parameter list's text, and the text they were parsed from (for the
/// spans of their defaults).
fn params_of(parameters: &str) -> (Vec<Param>, String) {
    let text = format!(".create function __f{parameters} {{ print 1 }}");
    let parsed = kql_syntax::parse(&text);
    let params = parsed
        .query
        .statements
        .into_iter()
        .find_map(|s| match s.kind {
            StatementKind::Command(c) => match c.kind {
                CommandKind::Function(FunctionCommand::Define { params, .. }) => Some(params),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default();
    (params, text)
}

/// `InputParameters` of `.show ... schema as json`: scalar parameters with their .NET and
/// Kusto types and default, tabular ones with their columns.
pub(crate) fn input_parameters(f: &Function) -> serde_json::Value {
    let (params, text) = params_of(&f.parameters);
    // A default as written (`'d1'`), from its span in the parsed text.
    let written = |e: &kql_syntax::ast::Expr| {
        let s = e.span.0;
        text.get(s.start as usize..s.end as usize)
            .map_or_else(|| e.to_string(), str::to_string)
    };
    let params: Vec<serde_json::Value> = params
        .into_iter()
        .map(|p| match &p.ty {
            ParamType::Scalar(t) => {
                let kt = KqlType::from_name(&t.name);
                serde_json::json!({
                    "Name": p.name.name,
                    "Type": kt.map_or("System.Object", schema_type_name),
                    "CslType": kt.map_or(t.name.clone(), |k| k.name().to_string()),
                    "CslDefaultValue": p.default.as_ref().map(written),
                })
            }
            ParamType::Tabular { columns: cols, .. } => {
                let columns: Vec<serde_json::Value> = cols
                    .iter()
                    .map(|c| {
                        let kt = KqlType::from_name(&c.ty.name);
                        serde_json::json!({"Name": c.name.name, "Type": kt.map_or("System.Object", schema_type_name), "CslType": c.ty.name})
                    })
                    .collect();
                serde_json::json!({"Name": p.name.name, "Columns": columns})
            }
        })
        .collect();
    serde_json::Value::Array(params)
}

fn wants(with: &[Property], key: &str) -> bool {
    let any = ["Tables", "ExternalTables", "MaterializedViews", "Functions"]
        .iter()
        .any(|k| prop(with, k).is_some());
    !any || prop(with, key).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn database_json(cat: &Catalog, d: &Database, with: &[Property]) -> serde_json::Value {
    let tables: serde_json::Map<String, serde_json::Value> = if wants(with, "Tables") {
        d.tables
            .values()
            .map(|t| (t.name.clone(), table_schema_json(t)))
            .collect()
    } else {
        serde_json::Map::new()
    };
    let functions: serde_json::Map<String, serde_json::Value> = if wants(with, "Functions") {
        d.functions
            .values()
            .map(|f| {
                (
                    f.name.clone(),
                    serde_json::json!({"Name": f.name, "InputParameters": input_parameters(f),
                        "Body": f.body, "Folder": f.folder, "DocString": f.docstring,
                        "FunctionKind": if f.view { "ViewFunction" } else { "Unknown" },
                        "OutputColumns": []}),
                )
            })
            .collect()
    } else {
        serde_json::Map::new()
    };
    serde_json::json!({"Name": d.name, "Tables": tables, "ExternalTables": {},
        "MaterializedViews": {}, "Functions": functions, "EntityGroups": {},
        "PrettyName": d.pretty_name, "MajorVersion": cat.version, "MinorVersion": 0,
        "DatabaseAccessMode": "ReadWrite"})
}

/// The script that recreates a database's schema (`.show database D schema as csl script`).
fn csl_script(d: &Database) -> String {
    let mut out = Vec::new();
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    for t in d.tables.values() {
        let mut with = Vec::new();
        if let Some(f) = &t.folder {
            with.push(format!("folder = {}", quote(f)));
        }
        if let Some(s) = &t.docstring {
            with.push(format!("docstring = {}", quote(s)));
        }
        let with = if with.is_empty() {
            String::new()
        } else {
            format!(" with ({})", with.join(", "))
        };
        out.push(format!(
            ".create-merge table {} ({}){with}",
            bracket(&t.name),
            t.columns
                .iter()
                .map(|c| format!("{}:{}", bracket(&c.name), c.kql_type.name()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for (name, policy) in &t.policies {
            out.push(format!(
                ".alter table {} policy {name} {}",
                bracket(&t.name),
                quote(&policy.to_string())
            ));
        }
    }
    for f in d.functions.values() {
        let mut with = Vec::new();
        if let Some(x) = &f.folder {
            with.push(format!("folder = {}", quote(x)));
        }
        if let Some(x) = &f.docstring {
            with.push(format!("docstring = {}", quote(x)));
        }
        if f.view {
            with.push("view = true".into());
        }
        let with = if with.is_empty() {
            String::new()
        } else {
            format!("with ({}) ", with.join(", "))
        };
        out.push(format!(
            ".create-or-alter function {with}{}{} {}",
            bracket(&f.name),
            f.parameters,
            f.body
        ));
    }
    out.join("\n")
}

/// `['name']` unless the name is a plain identifier.
fn bracket(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("['{}']", name.replace('\'', "\\'"))
    }
}

impl Engine {
    pub(crate) fn schema_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &DatabaseCommand,
    ) -> Result<ResultTable> {
        let DatabaseCommand::ShowSchema {
            databases,
            details: _,
            format,
            with,
        } = cmd
        else {
            return Err(EngineError::BadRequest("not a schema command".into()));
        };
        let cat = self.storage.catalog();
        let may_read = |d: &Database| {
            access::allowed(
                caller,
                &cat,
                &Action::new(
                    "DatabaseSchemaShowCommand",
                    Need::DatabaseMetadata {
                        database: d.name.clone(),
                    },
                ),
            )
        };
        // Named databases must exist; `.show schema` lists the ones the caller may read.
        let dbs: Vec<&Database> = match databases {
            DatabaseSet::One(n, v) => {
                let d = db_of(&cat, &n.name)?;
                if later_than(&cat, v) { vec![d] } else { vec![] }
            }
            DatabaseSet::Some(list) => {
                let mut out = Vec::new();
                for (n, v) in list {
                    let d = db_of(&cat, &n.name)?;
                    if later_than(&cat, v) {
                        out.push(d);
                    }
                }
                out
            }
            DatabaseSet::All => cat
                .databases
                .values()
                .map(|d| &**d)
                .filter(|d| may_read(d))
                .collect(),
            DatabaseSet::Current => vec![db_of(&cat, database)?],
        };
        match format {
            SchemaFormat::Json => {
                let mut out = serde_json::Map::new();
                for d in dbs {
                    out.insert(d.name.clone(), database_json(&cat, d, with));
                }
                let json = serde_json::json!({"Databases": out});
                table(
                    &[("DatabaseSchema", KqlType::String)],
                    vec![vec![json.to_string().into()]],
                )
            }
            SchemaFormat::CslScript => table(
                &[("DatabaseSchemaScript", KqlType::String)],
                dbs.iter().map(|d| vec![csl_script(d).into()]).collect(),
            ),
            SchemaFormat::CslSchema => {
                let mut rows = Vec::new();
                for d in dbs {
                    for t in d.tables.values() {
                        rows.push(vec![
                            t.name.clone().into(),
                            csl_schema(t).into(),
                            d.name.clone().into(),
                            t.folder.clone().into(),
                            t.docstring.clone().into(),
                        ]);
                    }
                }
                table(TABLE_SCHEMA_COLS, rows)
            }
            SchemaFormat::Table => {
                let mut rows = Vec::new();
                for d in dbs {
                    // The database's own row, then a row per table, then one per column.
                    rows.push(schema_row(d, "", "", "", false, &version(&cat), None, None));
                    for t in d.tables.values() {
                        rows.push(schema_row(
                            d,
                            &t.name,
                            "",
                            "",
                            true,
                            "",
                            t.folder.clone(),
                            t.docstring.clone(),
                        ));
                        for c in &t.columns {
                            rows.push(schema_row(
                                d,
                                &t.name,
                                &c.name,
                                schema_type_name(c.kql_type),
                                true,
                                "",
                                t.folder.clone(),
                                c.docstring.clone(),
                            ));
                        }
                    }
                }
                table(
                    &[
                        ("DatabaseName", KqlType::String),
                        ("TableName", KqlType::String),
                        ("ColumnName", KqlType::String),
                        ("ColumnType", KqlType::String),
                        ("IsDefaultTable", KqlType::Bool),
                        ("IsDefaultColumn", KqlType::Bool),
                        ("PrettyName", KqlType::String),
                        ("Version", KqlType::String),
                        ("Folder", KqlType::String),
                        ("DocString", KqlType::String),
                    ],
                    rows,
                )
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn schema_row(
    d: &Database,
    table_name: &str,
    column: &str,
    ty: &str,
    is_table: bool,
    version: &str,
    folder: Option<String>,
    docstring: Option<String>,
) -> Vec<Cell> {
    vec![
        d.name.clone().into(),
        table_name.into(),
        column.into(),
        ty.into(),
        Cell::Bool(is_table),
        Cell::Bool(false),
        if table_name.is_empty() {
            d.pretty_name.clone().into()
        } else {
            Cell::Str(String::new())
        },
        version.into(),
        folder.into(),
        docstring.into(),
    ]
}
