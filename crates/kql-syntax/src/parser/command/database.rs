//! `.create|.drop|.alter database`, `.show database(s)`, schemas and entities.

use super::super::expr::comma_list_until;
use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, name_list, string, string_list, with_props};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, _verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "CreateDatabase" => create(p),
        "DetachDatabase" => (|| {
            expect_word(p, "database")?;
            let name = name(p)?;
            let if_exists = eat_word(p, "ifexists");
            Ok(DatabaseCommand::Drop { name, if_exists })
        })(),
        "AlterDatabasePrettyName" | "DropDatabasePrettyName" => (|| {
            expect_word(p, "database")?;
            let name = if super::at_word(p, "prettyname") {
                None
            } else {
                Some(name(p)?)
            };
            expect_word(p, "prettyname")?;
            let pretty = if kind == "AlterDatabasePrettyName" {
                Some(string(p)?)
            } else {
                None
            };
            Ok(DatabaseCommand::PrettyName { name, pretty })
        })(),
        "ShowDatabase"
        | "ShowDatabaseDetails"
        | "ShowDatabaseIdentity"
        | "ShowDatabasePolicies"
        | "ShowDatabaseDataStats"
        | "ShowDatabaseMetadata" => (|| {
            expect_word(p, "database")?;
            let flavor = flavor(p);
            Ok(DatabaseCommand::Show { name: None, flavor })
        })(),
        "ShowClusterDatabases"
        | "ShowClusterDatabasesDetails"
        | "ShowClusterDatabasesIdentity"
        | "ShowClusterDatabasesPolicies"
        | "ShowClusterDatabasesDataStats"
        | "ShowClusterDatabasesMetadata" => (|| {
            eat_word(p, "cluster");
            expect_word(p, "databases")?;
            let names = if p.peek().is_punct("(") {
                Some(name_list(p)?)
            } else {
                None
            };
            let flavor = flavor(p);
            Ok(DatabaseCommand::ShowAll { names, flavor })
        })(),
        "ShowDatabasesEntities" => (|| {
            expect_word(p, "databases")?;
            expect_word(p, "entities")?;
            Ok(DatabaseCommand::ShowEntities {
                with: with_props(p)?,
            })
        })(),
        "ShowDatabaseSchema"
        | "ShowDatabaseSchemaAsJson"
        | "ShowDatabaseSchemaAsCslScript"
        | "ShowDatabaseCslSchema"
        | "ShowDatabasesSchema"
        | "ShowDatabasesSchemaAsJson"
        | "ShowSchema" => schema(p),
        _ => return None,
    };
    Some(r.map(CommandKind::Database))
}

/// `.create database D [persist (...) | volatile] [ifnotexists] [with (...)]`.
fn create(p: &mut Parser<'_>) -> PResult<DatabaseCommand> {
    expect_word(p, "database")?;
    let name = name(p)?;
    let mut persist = Vec::new();
    let mut volatile = false;
    if eat_word(p, "persist") {
        persist = string_list(p)?;
    } else if eat_word(p, "volatile") {
        volatile = true;
    }
    let if_not_exists = eat_word(p, "ifnotexists");
    let with = with_props(p)?;
    Ok(DatabaseCommand::Create {
        name,
        persist,
        volatile,
        if_not_exists,
        with,
    })
}

/// `if_later_than "v1.2"` or nothing.
fn later_than(p: &mut Parser<'_>) -> PResult<Option<String>> {
    if eat_word(p, "if_later_than") {
        Ok(Some(string(p)?))
    } else {
        Ok(None)
    }
}

fn flavor(p: &mut Parser<'_>) -> DatabaseFlavor {
    for (w, f) in [
        ("details", DatabaseFlavor::Details),
        ("verbose", DatabaseFlavor::Details),
        ("identity", DatabaseFlavor::Identity),
        ("policies", DatabaseFlavor::Policies),
        ("datastats", DatabaseFlavor::DataStats),
        ("metadata", DatabaseFlavor::Metadata),
    ] {
        if eat_word(p, w) {
            return f;
        }
    }
    DatabaseFlavor::Plain
}

/// `.show database D schema [details] [as json | as csl script]`, `.show database D
/// cslschema [script]`, `.show databases [(A, B)] schema [details] [as json]`, `.show schema
/// [details] [as json]`, each with `with (...)`.
fn schema(p: &mut Parser<'_>) -> PResult<DatabaseCommand> {
    eat_word(p, "cluster");
    let databases = if eat_word(p, "database") {
        if ["schema", "cslschema", "kqlschema"]
            .iter()
            .any(|w| super::at_word(p, w))
        {
            DatabaseSet::Current
        } else {
            DatabaseSet::One(name(p)?, None)
        }
    } else if eat_word(p, "databases") {
        if p.eat_punct("(") {
            DatabaseSet::Some(comma_list_until(p, ")", |p| {
                let n = name(p)?;
                Ok((n, later_than(p)?))
            })?)
        } else {
            DatabaseSet::All
        }
    } else {
        DatabaseSet::All
    };
    if eat_word(p, "cslschema") || eat_word(p, "kqlschema") {
        eat_word(p, "script");
        return Ok(DatabaseCommand::ShowSchema {
            databases,
            details: false,
            format: SchemaFormat::CslSchema,
            with: with_props(p)?,
        });
    }
    expect_word(p, "schema")?;
    let mut databases = databases;
    let mut details = eat_word(p, "details");
    if let DatabaseSet::One(_, v) = &mut databases {
        *v = later_than(p)?;
    }
    details |= eat_word(p, "details");
    let format = if eat_word(p, "as") {
        if eat_word(p, "json") {
            SchemaFormat::Json
        } else {
            if !eat_word(p, "kql") {
                expect_word(p, "csl")?;
            }
            expect_word(p, "script")?;
            SchemaFormat::CslScript
        }
    } else {
        SchemaFormat::Table
    };
    let with = with_props(p)?;
    Ok(DatabaseCommand::ShowSchema {
        databases,
        details,
        format,
        with,
    })
}
