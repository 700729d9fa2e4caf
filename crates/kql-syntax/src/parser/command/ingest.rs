//! `.ingest inline into table T <| data` and `.set|.append|.set-or-append|.set-or-replace`.

use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, sub_query, with_props};
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
