//! Named ingestion mappings of tables: `.create|.create-or-alter|.alter|.drop table T
//! ingestion <kind> mapping "name" ['json']` and `.show table T ingestion [<kind>]
//! mapping[s] ["name"]`. Results have ADX's columns `Name, Kind, Mapping, LastUpdatedOn,
//! Database, Table`.

use calypso_ingest::{Mapping, MappingKind};
use calypso_storage::{EntityKind, Error as SErr, IngestionMapping, Table};
use kql_functions::KqlType;

use super::{W, db_of, is, name_at, not_supported, now_rfc3339, table_of};
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

/// Whether `ws` (the words of a command, `ws[0]` being the dot) is a table mapping
/// command: `.<verb> table T ingestion ...`.
pub(crate) fn is_mapping_command(ws: &[W]) -> bool {
    is(ws.get(2), "table") && is(ws.get(4), "ingestion")
}

fn rows(
    database: &str,
    t: &Table,
    kind: Option<MappingKind>,
    name: Option<&str>,
) -> Vec<Vec<Cell>> {
    t.ingestion_mappings
        .iter()
        .filter(|m| kind.is_none_or(|k| m.kind.eq_ignore_ascii_case(k.name())))
        .filter(|m| name.is_none_or(|n| m.name == n))
        .map(|m| {
            vec![
                m.name.clone().into(),
                m.kind.clone().into(),
                m.mapping.clone().into(),
                Cell::DateTime(rfc3339_nanos(&m.last_updated_on)),
                database.into(),
                t.name.clone().into(),
            ]
        })
        .collect()
}

fn kind_error(e: calypso_ingest::IngestError) -> EngineError {
    EngineError::BadRequest(e.message)
}

impl Engine {
    /// Runs a table mapping command (see [`is_mapping_command`]).
    pub(crate) async fn mapping_command(
        &self,
        database: &str,
        ws: &[W],
        text: &str,
    ) -> Result<ResultTable> {
        let verb = match ws.get(1) {
            Some(W::Word(v)) => v.to_ascii_lowercase(),
            _ => return Err(not_supported(text)),
        };
        let tname = name_at(ws, 3).ok_or_else(|| not_supported(text))?;
        // `ingestion [<kind>] mapping[s] ["name"] ['json']`
        let mut i = 5;
        let kind = match ws.get(i) {
            Some(W::Word(k))
                if !k.eq_ignore_ascii_case("mapping") && !k.eq_ignore_ascii_case("mappings") =>
            {
                i += 1;
                Some(MappingKind::parse(k).map_err(kind_error)?)
            }
            _ => None,
        };
        let plural = is(ws.get(i), "mappings");
        if !plural && !is(ws.get(i), "mapping") {
            return Err(not_supported(text));
        }
        let name = name_at(ws, i + 1);
        let json = match ws.get(i + 2) {
            Some(W::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let cat = self.storage.catalog();
        let t = table_of(db_of(&cat, database)?, &tname)?;
        match verb.as_str() {
            "show" => {
                let name = if plural { None } else { name.as_deref() };
                if !plural && name.is_none() {
                    return Err(not_supported(text));
                }
                if let (Some(n), Some(k)) = (name, kind)
                    && t.ingestion_mapping(k.name(), n).is_none()
                {
                    return Err(SErr::not_found(EntityKind::IngestionMapping, n.to_string()).into());
                }
                table(MAPPING_COLS, rows(database, t, kind, name))
            }
            "create" | "create-or-alter" | "alter" => {
                let (Some(kind), Some(name), Some(json), false) = (kind, name, json, plural) else {
                    return Err(EngineError::BadRequest(format!(
                        "Expected `.{verb} table {tname} ingestion <csv|json> mapping \"name\" '<mapping json>'`"
                    )));
                };
                let parsed = Mapping::parse(kind, &json).map_err(EngineError::Ingest)?;
                let columns: Vec<(String, KqlType)> = t
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.kql_type))
                    .collect();
                parsed
                    .check_columns(&columns)
                    .map_err(EngineError::Ingest)?;
                let entry = IngestionMapping {
                    name: name.clone(),
                    kind: kind.name().to_string(),
                    mapping: parsed.to_json(),
                    last_updated_on: now_rfc3339(),
                };
                let (db, tn, verb2) = (database.to_string(), tname.clone(), verb.clone());
                self.storage
                    .commit(move |c| {
                        let t = c.require_table_mut(&db, &tn)?;
                        let pos = t
                            .ingestion_mappings
                            .iter()
                            .position(|m| m.name == entry.name && m.kind == entry.kind);
                        match (pos, verb2.as_str()) {
                            (Some(_), "create") => Err(SErr::already_exists(
                                EntityKind::IngestionMapping,
                                entry.name.clone(),
                            )),
                            (None, "alter") => Err(SErr::not_found(
                                EntityKind::IngestionMapping,
                                entry.name.clone(),
                            )),
                            (Some(p), _) => {
                                t.ingestion_mappings[p] = entry.clone();
                                Ok(())
                            }
                            (None, _) => {
                                t.ingestion_mappings.push(entry.clone());
                                Ok(())
                            }
                        }
                    })
                    .await?;
                let cat = self.storage.catalog();
                let t = table_of(db_of(&cat, database)?, &tname)?;
                table(MAPPING_COLS, rows(database, t, Some(kind), Some(&name)))
            }
            "drop" => {
                let (Some(kind), Some(name), false) = (kind, name, plural) else {
                    return Err(EngineError::BadRequest(format!(
                        "Expected `.drop table {tname} ingestion <csv|json> mapping \"name\"`"
                    )));
                };
                let (db, tn, n) = (database.to_string(), tname.clone(), name.clone());
                self.storage
                    .commit(move |c| {
                        let t = c.require_table_mut(&db, &tn)?;
                        let before = t.ingestion_mappings.len();
                        t.ingestion_mappings
                            .retain(|m| !(m.name == n && m.kind.eq_ignore_ascii_case(kind.name())));
                        if t.ingestion_mappings.len() == before {
                            return Err(SErr::not_found(EntityKind::IngestionMapping, n.clone()));
                        }
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let t = table_of(db_of(&cat, database)?, &tname)?;
                table(MAPPING_COLS, rows(database, t, Some(kind), None))
            }
            _ => Err(not_supported(text)),
        }
    }
}
