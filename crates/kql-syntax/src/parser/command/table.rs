//! Tables and columns: create, alter, drop, rename, show, clear.

use super::super::expr::{column_decl, comma_list_until};
use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, name_list, qname, string, with_props};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "CreateTable" | "CreateMergeTable" | "AlterTable" | "AlterMergeTable" => (|| {
            let verb = match verb {
                "create" => SchemaVerb::Create,
                "create-merge" => SchemaVerb::CreateMerge,
                "alter" => SchemaVerb::Alter,
                _ => SchemaVerb::AlterMerge,
            };
            expect_word(p, "table")?;
            let table = name(p)?;
            let columns = columns(p)?;
            let with = with_props(p)?;
            Ok(TableCommand::Schema {
                verb,
                table,
                columns,
                with,
            })
        })(),
        "CreateTables" | "CreateMergeTables" => (|| {
            expect_word(p, "tables")?;
            let mut tables = Vec::new();
            loop {
                let n = name(p)?;
                tables.push((n, columns(p)?));
                if !p.eat_punct(",") {
                    break;
                }
            }
            let with = with_props(p)?;
            Ok(TableCommand::CreateTables {
                merge: verb == "create-merge",
                tables,
                with,
            })
        })(),
        "CreateTableBasedOnAnother" => (|| {
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "based-on")?;
            let source = name(p)?;
            let if_not_exists = eat_word(p, "ifnotexists");
            let with = with_props(p)?;
            Ok(TableCommand::CreateBasedOn {
                table,
                source,
                if_not_exists,
                with,
            })
        })(),
        "DropTable" | "DropTables" => (|| {
            let plural = kind == "DropTables";
            let tables = if plural {
                expect_word(p, "tables")?;
                name_list(p)?
            } else {
                expect_word(p, "table")?;
                vec![name(p)?]
            };
            let if_exists = eat_word(p, "ifexists");
            Ok(TableCommand::Drop {
                tables,
                if_exists,
                plural,
            })
        })(),
        "RenameTable" => (|| {
            expect_word(p, "table")?;
            let from = name(p)?;
            expect_word(p, "to")?;
            let to = name(p)?;
            Ok(TableCommand::Rename {
                pairs: vec![(from, to)],
                plural: false,
            })
        })(),
        "RenameTables" => (|| {
            expect_word(p, "tables")?;
            let mut pairs = Vec::new();
            loop {
                let new = name(p)?;
                p.expect_punct("=")?;
                let old = name(p)?;
                pairs.push((old, new));
                if !p.eat_punct(",") {
                    break;
                }
            }
            Ok(TableCommand::Rename {
                pairs,
                plural: true,
            })
        })(),
        "AlterTableDocString" | "AlterTableFolder" => (|| {
            expect_word(p, "table")?;
            let table = name(p)?;
            if eat_word(p, "docstring") {
                Ok(TableCommand::AlterDocString {
                    table,
                    value: string(p)?,
                })
            } else {
                expect_word(p, "folder")?;
                Ok(TableCommand::AlterFolder {
                    table,
                    value: string(p)?,
                })
            }
        })(),
        "AlterTableColumnDocStrings" | "AlterMergeTableColumnDocStrings" => (|| {
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "column-docstrings")?;
            p.expect_punct("(")?;
            let docs = comma_list_until(p, ")", |p| {
                let c = name(p)?;
                p.expect_punct(":")?;
                Ok((c, string(p)?))
            })?;
            Ok(TableCommand::ColumnDocStrings {
                table,
                merge: verb == "alter-merge",
                docs,
            })
        })(),
        "AlterColumnType" => (|| {
            expect_word(p, "column")?;
            let column = qname(p)?;
            expect_word(p, "type")?;
            p.expect_punct("=")?;
            let ty = name(p)?;
            Ok(TableCommand::AlterColumnType {
                columns: vec![column],
                ty,
            })
        })(),
        "RenameColumn" => (|| {
            expect_word(p, "column")?;
            let column = qname(p)?;
            expect_word(p, "to")?;
            let new = name(p)?;
            Ok(TableCommand::RenameColumns {
                pairs: vec![(column, new)],
            })
        })(),
        "RenameColumns" => (|| {
            expect_word(p, "columns")?;
            let mut pairs = Vec::new();
            loop {
                let new = name(p)?;
                p.expect_punct("=")?;
                let old = qname(p)?;
                pairs.push((old, new));
                if !p.eat_punct(",") {
                    break;
                }
            }
            Ok(TableCommand::RenameColumns { pairs })
        })(),
        "DropColumn" => (|| {
            expect_word(p, "column")?;
            let c = qname(p)?;
            let table = match c.parent() {
                Some(t) => t.clone(),
                None => {
                    let t = p.peek().clone();
                    return Err(p.unexpected(&t, "'.' and a column name (T.c)"));
                }
            };
            Ok(TableCommand::DropColumns {
                table,
                columns: vec![c.last().clone()],
            })
        })(),
        "DropTableColumns" => (|| {
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "columns")?;
            Ok(TableCommand::DropColumns {
                table,
                columns: name_list(p)?,
            })
        })(),
        "ShowTables" | "ShowTablesDetails" => (|| {
            expect_word(p, "tables")?;
            let names = if p.peek().is_punct("(") {
                Some(name_list(p)?)
            } else {
                None
            };
            let details = eat_word(p, "details");
            Ok(TableCommand::ShowAll { names, details })
        })(),
        "ShowTable" | "ShowTableDetails" | "ShowTableCslSchema" | "ShowTableSchemaAsJson" => {
            (|| {
                expect_word(p, "table")?;
                let table = name(p)?;
                let flavor = match kind {
                    "ShowTableDetails" => {
                        expect_word(p, "details")?;
                        TableFlavor::Details
                    }
                    "ShowTableCslSchema" => {
                        if !eat_word(p, "kqlschema") {
                            expect_word(p, "cslschema")?;
                        }
                        TableFlavor::CslSchema
                    }
                    "ShowTableSchemaAsJson" => {
                        expect_word(p, "schema")?;
                        expect_word(p, "as")?;
                        expect_word(p, "json")?;
                        TableFlavor::SchemaAsJson
                    }
                    _ => TableFlavor::Columns,
                };
                Ok(TableCommand::Show { table, flavor })
            })()
        }
        "ClearTableData" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "table")?;
            let table = name(p)?;
            expect_word(p, "data")?;
            Ok(TableCommand::ClearData { is_async, table })
        })(),
        _ => return None,
    };
    Some(r.map(CommandKind::Table))
}

/// `(c1:type, c2:type, ...)`.
fn columns(p: &mut Parser<'_>) -> PResult<Vec<ColumnDecl>> {
    p.expect_punct("(")?;
    comma_list_until(p, ")", column_decl)
}
