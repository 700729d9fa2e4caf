//! `.get ingestion resources [with (...)]`, `.get kusto identity token` and `.show export
//! containers` (see
//! [`crate::command::dm`]): recognized before the pattern table, which holds only the
//! engine's official command kinds.

use super::super::expr::span_from;
use super::super::{PResult, Parser};
use super::{eat_word, with_props};
use crate::ast::*;

/// The data-management command at the cursor (a `.`), `None` (cursor unmoved) when the
/// text is not one.
pub(super) fn command(p: &mut Parser<'_>) -> Option<PResult<Command>> {
    let verb = p.peek_at(1).ident();
    let words: Vec<Option<&str>> = (2..5).map(|i| p.peek_at(i).ident()).collect();
    let is = match verb {
        Some("get") => matches!(
            words.as_slice(),
            [Some("ingestion"), Some("resources"), _]
                | [Some("kusto"), Some("identity"), Some("token")]
        ),
        Some("show") => matches!(words.as_slice(), [Some("export"), Some("containers"), _]),
        _ => false,
    };
    if !is {
        return None;
    }
    let start = p.peek().span;
    let start_tok = p.pos;
    p.bump(); // .
    p.bump(); // get | show
    Some((|| {
        let kind = if eat_word(p, "export") {
            eat_word(p, "containers");
            DmCommand::ShowExportContainers
        } else if eat_word(p, "ingestion") {
            eat_word(p, "resources");
            DmCommand::GetIngestionResources {
                with: with_props(p)?,
            }
        } else {
            eat_word(p, "kusto");
            eat_word(p, "identity");
            eat_word(p, "token");
            DmCommand::GetKustoIdentityToken
        };
        let text = p.text_of(start_tok, p.pos);
        let mut pipe = Vec::new();
        while p.eat_punct("|") {
            pipe.push(super::super::operator::operator(p)?);
        }
        if !p.at_eof() && !p.peek().is_punct(";") {
            let t = p.peek().clone();
            return Err(p.unexpected(&t, "the end of the command"));
        }
        Ok(Command {
            name: kind.name(),
            text,
            kind: CommandKind::DataManagement(kind),
            pipe,
            span: NodeSpan(span_from(p, start)),
        })
    })())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use crate::ast::{CommandKind, DmCommand, StatementKind};

    fn command(text: &str) -> crate::ast::Command {
        let parsed = crate::parse(text);
        assert!(parsed.is_ok(), "{text}: {:?}", parsed.diagnostics);
        match &parsed.query.statements[0].kind {
            StatementKind::Command(c) => c.clone(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn the_sdks_data_management_commands_parse() {
        for text in [
            ".get ingestion resources",
            ".get ingestion resources ",
            ".get ingestion resources with (EnableBlobCors='true', EnableQueueCors='true', EnableTableCors='true')",
        ] {
            let c = command(text);
            assert!(
                matches!(
                    c.kind,
                    CommandKind::DataManagement(DmCommand::GetIngestionResources { .. })
                ),
                "{text}"
            );
            // Not an engine command: Kusto.Language has no kind for it.
            assert_eq!(c.official_kind(), None);
            assert_eq!(c.name, "GetIngestionResources");
        }
        let c = command(".get kusto identity token");
        assert_eq!(
            c.kind,
            CommandKind::DataManagement(DmCommand::GetKustoIdentityToken)
        );
        assert!(!crate::parse(".get kusto identity token extra").is_ok());
        assert!(!crate::parse(".get ingestion stuff").is_ok());
        let c = command(".show export containers");
        assert_eq!(
            c.kind,
            CommandKind::DataManagement(DmCommand::ShowExportContainers)
        );
        assert_eq!(c.official_kind(), None);
        // `.show export` followed by anything else is not this command.
        assert!(!crate::parse(".show export stuff").is_ok());
    }
}
