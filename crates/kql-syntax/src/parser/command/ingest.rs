//! `.ingest inline into table T <| data`, `.ingest [async] into table T (sources)` and `.set|.append|.set-or-append|.set-or-replace`.

use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, single_string, sub_query, with_props};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "IngestInlineIntoTable" => (|| {
            expect_word(p, "inline")?;
            expect_word(p, "into")?;
            expect_word(p, "table")?;
            let table = name(p)?;
            let with = with_props(p)?;
            if !p.at_eof() {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'<|'"));
            }
            let Some(data) = p.inline_data.clone() else {
                let t = p.peek().clone();
                return Err(p.unexpected(&t, "'<|'"));
            };
            Ok(IngestCommand::Inline { table, with, data })
        })(),
        "IngestIntoTable" => (|| {
            let is_async = eat_word(p, "async");
            expect_word(p, "into")?;
            expect_word(p, "table")?;
            let table = name(p)?;
            let sources = if p.eat_punct("(") {
                let mut list = vec![single_string(p)?];
                while p.eat_punct(",") {
                    list.push(single_string(p)?);
                }
                p.expect_punct(")")?;
                list
            } else {
                vec![single_string(p)?]
            };
            let with = with_props(p)?;
            Ok(IngestCommand::FromStorage {
                is_async,
                table,
                sources,
                with,
            })
        })(),
        "SetTable" | "AppendTable" | "SetOrAppendTable" | "SetOrReplaceTable" => (|| {
            let verb = match verb {
                "set" => SetVerb::Set,
                "append" => SetVerb::Append,
                "set-or-append" => SetVerb::SetOrAppend,
                _ => SetVerb::SetOrReplace,
            };
            let is_async = eat_word(p, "async");
            let table = name(p)?;
            let with = with_props(p)?;
            p.expect_punct("<|")?;
            let query = sub_query(p)?;
            Ok(IngestCommand::FromQuery {
                verb,
                is_async,
                table,
                with,
                query: Box::new(query),
            })
        })(),
        _ => return None,
    };
    Some(r.map(CommandKind::Ingest))
}
