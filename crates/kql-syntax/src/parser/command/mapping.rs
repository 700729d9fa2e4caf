//! Ingestion mappings of tables and databases.

use super::super::{PResult, Parser};
use super::{at_string, eat_word, expect_word, name, peek_word, string, with_props};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    if !kind.ends_with("IngestionMapping") && !kind.ends_with("IngestionMappings") {
        return None;
    }
    if kind == "ShowIngestionMappings" {
        return None;
    }
    let r = (|| {
        let scope = if eat_word(p, "table") {
            MappingScope::Table(name(p)?)
        } else {
            expect_word(p, "database")?;
            if super::at_word(p, "ingestion") {
                MappingScope::CurrentDatabase
            } else {
                MappingScope::Database(name(p)?)
            }
        };
        expect_word(p, "ingestion")?;
        if verb == "show" {
            let mapping_kind = match peek_word(p) {
                Some((w, n)) if w != "mapping" && w != "mappings" => {
                    p.pos += n;
                    Some(w)
                }
                _ => None,
            };
            if !eat_word(p, "mappings") {
                expect_word(p, "mapping")?;
            }
            let name = if at_string(p) {
                Some(super::single_string(p)?)
            } else {
                None
            };
            return Ok(MappingCommand::Show {
                scope,
                mapping_kind,
                name,
            });
        }
        let verb = match verb {
            "create" => MappingVerb::Create,
            "create-or-alter" => MappingVerb::CreateOrAlter,
            "alter" => MappingVerb::Alter,
            "alter-merge" => MappingVerb::AlterMerge,
            _ => MappingVerb::Drop,
        };
        let (mapping_kind, n) = peek_word(p).ok_or_else(|| {
            let t = p.peek().clone();
            p.unexpected(&t, "a mapping kind (csv, json, ...)")
        })?;
        p.pos += n;
        expect_word(p, "mapping")?;
        // The name is one literal; the mapping may be several adjacent ones.
        let name = super::single_string(p)?;
        let mapping = if verb == MappingVerb::Drop {
            None
        } else {
            Some(string(p)?)
        };
        let with = with_props(p)?;
        Ok(MappingCommand::Change {
            verb,
            scope,
            mapping_kind,
            name,
            mapping,
            with,
        })
    })();
    Some(r.map(CommandKind::Mapping))
}
