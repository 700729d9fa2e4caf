//! Stored functions: define, alter docstring/folder, drop, show.

use super::super::expr::params_until_close;
use super::super::{PResult, Parser};
use super::{eat_word, expect_word, name, name_list, string, with_props};
use crate::ast::*;

pub(super) fn parse(p: &mut Parser<'_>, kind: &str, verb: &str) -> Option<PResult<CommandKind>> {
    let r = match kind {
        "CreateFunction" | "AlterFunction" | "CreateOrAlterFunction" => define(p, verb),
        "AlterFunctionDocString" | "AlterFunctionFolder" => (|| {
            expect_word(p, "function")?;
            let name = name(p)?;
            if eat_word(p, "docstring") {
                Ok(FunctionCommand::AlterDocString {
                    name,
                    value: string(p)?,
                })
            } else {
                expect_word(p, "folder")?;
                Ok(FunctionCommand::AlterFolder {
                    name,
                    value: string(p)?,
                })
            }
        })(),
        "DropFunction" | "DropFunctions" => (|| {
            let plural = kind == "DropFunctions";
            let names = if plural {
                expect_word(p, "functions")?;
                name_list(p)?
            } else {
                expect_word(p, "function")?;
                vec![name(p)?]
            };
            let if_exists = eat_word(p, "ifexists");
            Ok(FunctionCommand::Drop {
                names,
                if_exists,
                plural,
            })
        })(),
        "ShowFunctions" => (|| {
            expect_word(p, "functions")?;
            Ok(FunctionCommand::Show {
                name: None,
                with: with_props(p)?,
            })
        })(),
        "ShowFunction" => (|| {
            expect_word(p, "function")?;
            let name = Some(name(p)?);
            Ok(FunctionCommand::Show {
                name,
                with: with_props(p)?,
            })
        })(),
        _ => return None,
    };
    Some(r.map(CommandKind::Function))
}

/// `.create|.alter|.create-or-alter function [ifnotexists] [with (...)] F(params) { body }`.
fn define(p: &mut Parser<'_>, verb: &str) -> PResult<FunctionCommand> {
    let verb = match verb {
        "create" => FunctionVerb::Create,
        "alter" => FunctionVerb::Alter,
        _ => FunctionVerb::CreateOrAlter,
    };
    expect_word(p, "function")?;
    let if_not_exists = eat_word(p, "ifnotexists");
    let with = with_props(p)?;
    let name = name(p)?;
    let open_paren = p.expect_punct("(")?;
    let params = params_until_close(p)?;
    let params_text = p.text[open_paren.start as usize..p.prev_span().end as usize].to_string();
    let open = p.expect_punct("{")?;
    let (from, to) = p.skip_balanced(|t| t.is_punct("}"))?;
    let close = p.expect_punct("}")?;
    let raw = &p.text[open.end as usize..close.start as usize];
    let body = if from == to {
        String::new()
    } else {
        raw.trim().to_string()
    };
    // The body must itself parse; its diagnostics point into the command text.
    let lead = raw.len() - raw.trim_start().len();
    let inner = crate::parse(&body);
    if let Some(d) = inner.diagnostics.into_iter().next() {
        let at = open.end as usize + lead;
        return Err(crate::Diagnostic::syntax(
            d.code,
            crate::Span::new(at + d.span.start as usize, at + d.span.end as usize),
            d.message,
        ));
    }
    Ok(FunctionCommand::Define {
        verb,
        if_not_exists,
        with,
        name,
        params,
        params_text,
        body,
    })
}
