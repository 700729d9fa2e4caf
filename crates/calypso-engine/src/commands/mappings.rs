//! Named ingestion mappings of tables and databases: `.create|.create-or-alter|.alter|
//! .alter-merge|.drop table T|database D ingestion <kind> mapping "name" ['json']` and
//! `.show table T|database D ingestion [<kind>] mapping[s] ["name"]`. Results have ADX's
//! columns `Name, Kind, Mapping, LastUpdatedOn, Database, Table`. An ingestion that names a
//! mapping the table does not have uses the database's mapping of that name.

use calypso_ingest::{Mapping, MappingKind};
use calypso_storage::{Catalog, EntityKind, Error as SErr, IngestionMapping};
use kql_functions::KqlType;
use kql_syntax::ast::{MappingCommand, MappingScope, MappingVerb};

use super::{Ddl, db_of, now_rfc3339, table_of};
use crate::table::{Cell, rfc3339_nanos, table};
use crate::{Engine, EngineError, Result, ResultTable};

const MAPPING_COLS: &[(&str, KqlType)] = &[
    ("Name", KqlType::String),
    ("Kind", KqlType::String),
    ("Mapping", KqlType::String),
    ("LastUpdatedOn", KqlType::DateTime),
    ("Database", KqlType::String),
    ("Table", KqlType::String),
];

fn rows(
    database: &str,
    owner: Option<&str>,
    list: &[IngestionMapping],
    kind: Option<MappingKind>,
    name: Option<&str>,
) -> Vec<Vec<Cell>> {
    list.iter()
        .filter(|m| kind.is_none_or(|k| m.kind.eq_ignore_ascii_case(k.name())))
        .filter(|m| name.is_none_or(|n| m.name == n))
        .map(|m| {
            let mut r = vec![
                m.name.clone().into(),
                m.kind.clone().into(),
                m.mapping.clone().into(),
                Cell::DateTime(rfc3339_nanos(&m.last_updated_on)),
                database.into(),
            ];
            if let Some(t) = owner {
                r.push(t.into());
            }
            r
        })
        .collect()
}

fn kind_error(e: calypso_ingest::IngestError) -> EngineError {
    EngineError::BadRequest(e.message)
}

/// The mapping list of a table or database.
fn list_of<'a>(
    cat: &'a Catalog,
    database: &str,
    scope: &MappingScope,
) -> Result<&'a [IngestionMapping]> {
    Ok(match scope {
        MappingScope::Table(t) => &table_of(db_of(cat, database)?, &t.name)?.ingestion_mappings,
        MappingScope::Database(d) => &db_of(cat, &d.name)?.ingestion_mappings,
        MappingScope::CurrentDatabase => &db_of(cat, database)?.ingestion_mappings,
    })
}

fn list_of_mut<'a>(
    cat: &'a mut Catalog,
    database: &str,
    scope: &MappingScope,
) -> calypso_storage::Result<&'a mut Vec<IngestionMapping>> {
    Ok(match scope {
        MappingScope::Table(t) => &mut cat.require_table_mut(database, &t.name)?.ingestion_mappings,
        MappingScope::Database(d) => &mut cat.require_database_mut(&d.name)?.ingestion_mappings,
        MappingScope::CurrentDatabase => {
            &mut cat.require_database_mut(database)?.ingestion_mappings
        }
    })
}

impl Engine {
    /// Runs a mapping command of a table or a database.
    pub(crate) async fn mapping_command(
        &self,
        database: &str,
        cmd: &MappingCommand,
        ddl: &Ddl,
    ) -> Result<ResultTable> {
        match cmd {
            MappingCommand::Show {
                scope,
                mapping_kind,
                name,
            } => {
                let kind = mapping_kind
                    .as_deref()
                    .map(MappingKind::parse)
                    .transpose()
                    .map_err(kind_error)?;
                let cat = self.storage.catalog();
                let list = list_of(&cat, database, scope)?;
                if let (Some(n), Some(k)) = (name, kind)
                    && !list
                        .iter()
                        .any(|m| m.name == *n && m.kind.eq_ignore_ascii_case(k.name()))
                {
                    return Err(SErr::not_found(EntityKind::IngestionMapping, n.clone()).into());
                }
                let (db, owner) = owner_names(database, scope);
                table(
                    cols(scope),
                    rows(&db, owner.as_deref(), list, kind, name.as_deref()),
                )
            }
            MappingCommand::Change {
                verb,
                scope,
                mapping_kind,
                name,
                mapping,
                with: _,
            } => {
                let kind = MappingKind::parse(mapping_kind).map_err(kind_error)?;
                let cat = self.storage.catalog();
                let columns: Option<Vec<(String, KqlType)>> = match scope {
                    MappingScope::Table(t) => Some(
                        table_of(db_of(&cat, database)?, &t.name)?
                            .columns
                            .iter()
                            .map(|c| (c.name.clone(), c.kql_type))
                            .collect(),
                    ),
                    MappingScope::Database(d) => {
                        db_of(&cat, &d.name)?;
                        None
                    }
                    MappingScope::CurrentDatabase => {
                        db_of(&cat, database)?;
                        None
                    }
                };
                drop(cat);
                let entry = match (verb, mapping) {
                    (MappingVerb::Drop, _) => None,
                    (_, Some(json)) => {
                        let parsed = Mapping::parse(kind, json).map_err(EngineError::Ingest)?;
                        // A database mapping is checked against each table when it is used.
                        if let Some(columns) = &columns {
                            parsed.check_columns(columns).map_err(EngineError::Ingest)?;
                        }
                        Some(IngestionMapping {
                            name: name.clone(),
                            kind: kind.name().to_string(),
                            mapping: parsed.to_json(),
                            last_updated_on: now_rfc3339(),
                        })
                    }
                    (_, None) => {
                        return Err(EngineError::BadRequest(
                            "The mapping's JSON text is missing".into(),
                        ));
                    }
                };
                let (db, sc, v, n) = (database.to_string(), scope.clone(), *verb, name.clone());
                let (jdb, owner) = owner_names(database, scope);
                let journal = ddl.entry(
                    match v {
                        MappingVerb::Drop => "DROP-INGESTION-MAPPING",
                        _ => "ALTER-INGESTION-MAPPING",
                    },
                    &jdb,
                    owner.as_deref().unwrap_or_default(),
                    owner.as_deref().unwrap_or_default(),
                    String::new(),
                    entry
                        .as_ref()
                        .map(|e| e.mapping.clone())
                        .unwrap_or_default(),
                );
                self.storage
                    .commit(move |c| {
                        let list = list_of_mut(c, &db, &sc)?;
                        let pos = list
                            .iter()
                            .position(|m| m.name == n && m.kind.eq_ignore_ascii_case(kind.name()));
                        match (pos, v, entry) {
                            (Some(_), MappingVerb::Create, _) => {
                                return Err(SErr::already_exists(
                                    EntityKind::IngestionMapping,
                                    n.clone(),
                                ));
                            }
                            (
                                None,
                                MappingVerb::Alter | MappingVerb::AlterMerge | MappingVerb::Drop,
                                _,
                            ) => {
                                return Err(SErr::not_found(
                                    EntityKind::IngestionMapping,
                                    n.clone(),
                                ));
                            }
                            (Some(p), MappingVerb::Drop, _) => {
                                list.remove(p);
                            }
                            (Some(p), _, Some(e)) => list[p] = e,
                            (None, _, Some(e)) => list.push(e),
                            (_, _, None) => {}
                        }
                        c.record(journal);
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let list = list_of(&cat, database, scope)?;
                let shown = if *verb == MappingVerb::Drop {
                    None
                } else {
                    Some(name.as_str())
                };
                table(
                    cols(scope),
                    rows(&jdb, owner.as_deref(), list, Some(kind), shown),
                )
            }
        }
    }
}

/// The `Database` and `Table` columns of a mapping row (`Table` is empty for database
/// mappings).
fn owner_names(database: &str, scope: &MappingScope) -> (String, Option<String>) {
    match scope {
        MappingScope::Table(t) => (database.to_string(), Some(t.name.clone())),
        MappingScope::Database(d) => (d.name.clone(), None),
        MappingScope::CurrentDatabase => (database.to_string(), None),
    }
}

/// Database mappings have no `Table` column.
fn cols(scope: &MappingScope) -> &'static [(&'static str, KqlType)] {
    match scope {
        MappingScope::Table(_) => MAPPING_COLS,
        MappingScope::Database(_) | MappingScope::CurrentDatabase => &MAPPING_COLS[..5],
    }
}
