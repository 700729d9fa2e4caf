//! The official kind of a command text (`ShowDatabaseSchemaAsJson`, `DropTable`): the names
//! of `Kusto.Language.EngineCommands.All`, recognized by the patterns of `kinds.txt`.
//!
//! Each line of `kinds.txt` is `<Kind><TAB><pattern>`; `#` starts a comment line. A
//! pattern is a space-separated sequence of:
//!
//! | element | matches |
//! |---|---|
//! | `.verb` (first) | the leading dot and the command word (`.show`, `.create-or-alter`) |
//! | `word` | one identifier, exactly (keywords are lower case in Kusto's grammar); touching `a-b` pieces are one word |
//! | `(` `)` `,` `=` `:` `<\|` `.` `*` `;` `{` `}` | that punctuation |
//! | `[ ... ]` | an optional sequence |
//! | `{ a \| b c }` | alternatives, each a sequence |
//! | `<name>` | an entity name: an identifier (keywords too), `['x']` or `["x"]` |
//! | `<qname>` | a name with dotted parts: `D.T`, `T.c`, `D.T.c` |
//! | `<names>` | `(` qname `,` ... `)` |
//! | `<string>` | one or more adjacent string literals of any form (`'x' "y" h'z'`) |
//! | `<strings>` | `(` string `,` ... `)` |
//! | `<value>` | one literal (number, string, bool, timespan, `datetime(...)`, `guid(...)`) or name |
//! | `<number>` | an integer or real literal |
//! | `<guid>` | a guid: bare (`0b1e...-...`), `guid(...)` or a string |
//! | `<group>` / `<braces>` | a balanced `( ... )` / `{ ... }` |
//! | `<rest>` | one or more tokens to the end of the text |
//!
//! A text has kind K when a pattern of K matches it whole, or all of it before a top-level
//! `|` (the operators piped after a command). When several patterns match, the one with the
//! most literal words and punctuation wins; ties go to the first in the file.

use std::sync::OnceLock;

use crate::lexer::tokenize;
use crate::token::{Token, TokenKind};

/// The pattern table (`kinds.txt`).
pub const KINDS_TXT: &str = include_str!("kinds.txt");

/// A command token, as the patterns see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CTok {
    /// An identifier or keyword; touching `a-b-c` pieces are one word.
    Word(String),
    /// `['x']` / `["x"]`.
    Quoted(String),
    /// A string literal.
    Str,
    /// A number.
    Number,
    /// Another literal: timespan, `datetime(...)`, `guid(...)`.
    Literal,
    /// Punctuation.
    Punct(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
enum El {
    Word(String),
    Punct(String),
    Opt(Vec<El>),
    Alt(Vec<Vec<El>>),
    Name,
    QName,
    Names,
    Str,
    Strs,
    Value,
    Number,
    Guid,
    Group,
    Braces,
    Rest,
}

#[derive(Debug)]
struct Pattern {
    kind: String,
    verb: String,
    els: Vec<El>,
}

/// The parsed table, with the problems of lines that could not be read.
#[derive(Debug)]
pub struct KindTable {
    patterns: Vec<Pattern>,
    /// `line N: message` for every malformed line (tests require none).
    pub errors: Vec<String>,
}

impl KindTable {
    /// Reads a table in the format of `kinds.txt`.
    pub fn parse(text: &str) -> KindTable {
        let mut patterns = Vec::new();
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((kind, pattern)) = line.split_once('\t') else {
                errors.push(format!("line {}: no TAB between kind and pattern", n + 1));
                continue;
            };
            let pattern = pattern.split('\t').next().unwrap_or_default();
            let words: Vec<&str> = pattern.split_whitespace().collect();
            let Some(verb) = words.first().and_then(|w| w.strip_prefix('.')) else {
                errors.push(format!("line {}: a pattern starts with `.verb`", n + 1));
                continue;
            };
            let mut pos = 1;
            match parse_seq(&words, &mut pos, &[]) {
                Ok(els) if pos == words.len() => patterns.push(Pattern {
                    kind: kind.trim().to_string(),
                    verb: verb.to_string(),
                    els,
                }),
                Ok(_) => errors.push(format!(
                    "line {}: unexpected `{}`",
                    n + 1,
                    words.get(pos).copied().unwrap_or_default()
                )),
                Err(e) => errors.push(format!("line {}: {e}", n + 1)),
            }
        }
        KindTable { patterns, errors }
    }

    /// The built-in table.
    pub fn global() -> &'static KindTable {
        static TABLE: OnceLock<KindTable> = OnceLock::new();
        TABLE.get_or_init(|| KindTable::parse(KINDS_TXT))
    }

    /// Every kind the table names, once each, in file order.
    pub fn kinds(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.patterns {
            if !out.contains(&p.kind.as_str()) {
                out.push(&p.kind);
            }
        }
        out
    }

    /// The kind of the command whose tokens are `toks` (starting at the leading `.`), and
    /// how many tokens the command spans (the rest is a `| ...` pipe).
    pub(crate) fn recognize(&self, toks: &[CTok]) -> Option<(&str, usize)> {
        let (Some(CTok::Punct(".")), Some(CTok::Word(verb))) = (toks.first(), toks.get(1)) else {
            return None;
        };
        let mut best: Option<(&str, usize, u32)> = None;
        for p in self.patterns.iter().filter(|p| &p.verb == verb) {
            for (end, lits) in ends(&p.els, toks, 2, 0) {
                let whole = end == toks.len() || matches!(toks[end], CTok::Punct("|"));
                if whole && best.is_none_or(|(_, _, l)| lits > l) {
                    best = Some((p.kind.as_str(), end, lits));
                }
            }
        }
        best.map(|(k, end, _)| (k, end))
    }
}

fn parse_seq(words: &[&str], pos: &mut usize, stop: &[&str]) -> Result<Vec<El>, String> {
    let mut out = Vec::new();
    while let Some(w) = words.get(*pos) {
        if stop.contains(w) {
            break;
        }
        *pos += 1;
        let el = match *w {
            "[" => {
                let inner = parse_seq(words, pos, &["]"])?;
                if words.get(*pos) != Some(&"]") {
                    return Err("`[` without `]`".into());
                }
                *pos += 1;
                El::Opt(inner)
            }
            "{" if words.get(*pos).is_some_and(|n| *n != "}") && is_alt(words, *pos) => {
                let mut alts = Vec::new();
                loop {
                    alts.push(parse_seq(words, pos, &["|", "}"])?);
                    match words.get(*pos) {
                        Some(&"|") => *pos += 1,
                        Some(&"}") => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err("`{` without `}`".into()),
                    }
                }
                El::Alt(alts)
            }
            "<name>" => El::Name,
            "<qname>" => El::QName,
            "<names>" => El::Names,
            "<string>" => El::Str,
            "<strings>" => El::Strs,
            "<value>" => El::Value,
            "<number>" => El::Number,
            "<guid>" => El::Guid,
            "<group>" => El::Group,
            "<braces>" => El::Braces,
            "<rest>" => El::Rest,
            "]" | "|" => return Err(format!("unexpected `{w}`")),
            p if p.starts_with('<') && p.ends_with('>') && p.len() > 2 && p != "<|" => {
                return Err(format!("unknown placeholder `{p}`"));
            }
            p if p
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
            {
                El::Word(p.to_string())
            }
            p => El::Punct(p.to_string()),
        };
        out.push(el);
    }
    Ok(out)
}

/// Whether the `{` before `pos` opens alternatives (it has a `|` at its own level before its
/// `}`), rather than being literal punctuation followed by more pattern.
fn is_alt(words: &[&str], pos: usize) -> bool {
    let mut depth = 0;
    for w in &words[pos..] {
        match *w {
            "{" | "[" => depth += 1,
            "]" => depth -= 1,
            "}" if depth == 0 => return true,
            "}" => depth -= 1,
            "|" if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// Every (end position, literal count) at which `els` can end when started at `at`.
fn ends(els: &[El], toks: &[CTok], at: usize, lits: u32) -> Vec<(usize, u32)> {
    let mut cur = vec![(at, lits)];
    for el in els {
        let mut next = Vec::new();
        for (pos, l) in cur {
            for e in one(el, toks, pos, l) {
                if !next.contains(&e) {
                    next.push(e);
                }
            }
        }
        if next.is_empty() {
            return next;
        }
        cur = next;
    }
    cur
}

fn one(el: &El, toks: &[CTok], at: usize, lits: u32) -> Vec<(usize, u32)> {
    let t = toks.get(at);
    let single = |ok: bool| if ok { vec![(at + 1, lits)] } else { Vec::new() };
    match el {
        El::Word(w) => match t {
            Some(CTok::Word(x)) if x == w => vec![(at + 1, lits + 1)],
            _ => Vec::new(),
        },
        El::Punct(p) => match t {
            Some(CTok::Punct(x)) if x == p => vec![(at + 1, lits + 1)],
            _ => Vec::new(),
        },
        El::Opt(inner) => {
            let mut out = vec![(at, lits)];
            out.extend(ends(inner, toks, at, lits));
            out
        }
        El::Alt(alts) => alts.iter().flat_map(|a| ends(a, toks, at, lits)).collect(),
        El::Name => single(matches!(t, Some(CTok::Word(_) | CTok::Quoted(_)))),
        El::QName => qname(toks, at).map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Names => list(toks, at, qname).map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Str => strings(toks, at).map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Strs => list(toks, at, strings).map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Value => match t {
            Some(CTok::Str) => strings(toks, at).map_or(Vec::new(), |e| vec![(e, lits)]),
            Some(CTok::Punct("-")) if matches!(toks.get(at + 1), Some(CTok::Number)) => {
                vec![(at + 2, lits)]
            }
            Some(CTok::Word(_) | CTok::Quoted(_) | CTok::Number | CTok::Literal) => {
                vec![(at + 1, lits)]
            }
            _ => Vec::new(),
        },
        El::Number => single(matches!(t, Some(CTok::Number))),
        El::Guid => match t {
            Some(CTok::Str | CTok::Literal | CTok::Word(_) | CTok::Number) => {
                vec![(at + 1, lits)]
            }
            _ => Vec::new(),
        },
        El::Group => balanced(toks, at, "(", ")").map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Braces => balanced(toks, at, "{", "}").map_or(Vec::new(), |e| vec![(e, lits)]),
        El::Rest => {
            if at < toks.len() {
                vec![(toks.len(), lits)]
            } else {
                Vec::new()
            }
        }
    }
}

fn qname(toks: &[CTok], at: usize) -> Option<usize> {
    let is_name = |i: usize| matches!(toks.get(i), Some(CTok::Word(_) | CTok::Quoted(_)));
    if !is_name(at) {
        return None;
    }
    let mut end = at + 1;
    while matches!(toks.get(end), Some(CTok::Punct("."))) && is_name(end + 1) {
        end += 2;
    }
    Some(end)
}

fn strings(toks: &[CTok], at: usize) -> Option<usize> {
    let mut end = at;
    while matches!(toks.get(end), Some(CTok::Str)) {
        end += 1;
    }
    (end > at).then_some(end)
}

fn list(toks: &[CTok], at: usize, item: fn(&[CTok], usize) -> Option<usize>) -> Option<usize> {
    if !matches!(toks.get(at), Some(CTok::Punct("("))) {
        return None;
    }
    let mut pos = item(toks, at + 1)?;
    loop {
        match toks.get(pos) {
            Some(CTok::Punct(")")) => return Some(pos + 1),
            Some(CTok::Punct(",")) => pos = item(toks, pos + 1)?,
            _ => return None,
        }
    }
}

fn balanced(toks: &[CTok], at: usize, open: &str, close: &str) -> Option<usize> {
    if !matches!(toks.get(at), Some(CTok::Punct(p)) if *p == open) {
        return None;
    }
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(at) {
        match t {
            CTok::Punct("(" | "[" | "{") => depth += 1,
            CTok::Punct(")" | "]" | "}") => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return matches!(t, CTok::Punct(p) if *p == close).then_some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The command tokens of lexer tokens, with the index of the lexer token each starts at.
/// Touching `a-b` identifiers become one word and `['x']` one quoted name (the lexer reads a
/// command's bare guids as `guid(...)` literals).
pub(crate) fn command_tokens(tokens: &[Token]) -> Vec<(CTok, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    let touching = |a: usize, b: usize| tokens[a].span.end == tokens[b].span.start;
    while i < tokens.len() {
        let start = i;
        let t = &tokens[i];
        let tok = match &t.kind {
            TokenKind::Eof => break,
            TokenKind::Ident(s) => {
                let mut word = s.clone();
                while i + 2 < tokens.len()
                    && tokens[i + 1].is_punct("-")
                    && touching(i, i + 1)
                    && touching(i + 1, i + 2)
                    && tokens[i + 2].ident().is_some()
                {
                    word.push('-');
                    word.push_str(tokens[i + 2].ident().unwrap_or_default());
                    i += 2;
                }
                CTok::Word(word)
            }
            TokenKind::Punct("[") => {
                match (tokens.get(i + 1).map(|t| &t.kind), tokens.get(i + 2)) {
                    (Some(TokenKind::Str { value, .. }), Some(close)) if close.is_punct("]") => {
                        i += 2;
                        CTok::Quoted(value.clone())
                    }
                    _ => CTok::Punct("["),
                }
            }
            TokenKind::Str { .. } => CTok::Str,
            TokenKind::Long(_) | TokenKind::Real(_) => CTok::Number,
            TokenKind::TimeSpan(_) | TokenKind::TypedRaw { .. } => CTok::Literal,
            TokenKind::Punct(p) => CTok::Punct(p),
            TokenKind::Unknown(_) => CTok::Punct("?"),
        };
        out.push((tok, start));
        i += 1;
    }
    out
}

/// The official kind of a command text (`.show tables` → `ShowTables`), or `None` when the
/// text is not a command the table knows. Only the kind: [`crate::parse`] checks the rest.
pub fn command_kind(text: &str) -> Option<&'static str> {
    let (head, data) = crate::parser::split_inline_data(text);
    let (tokens, _) = tokenize(head);
    let mut ctoks: Vec<CTok> = command_tokens(&tokens)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    if data.is_some() {
        ctoks.extend([CTok::Punct("<|"), CTok::Literal]);
    }
    KindTable::global().recognize(&ctoks).map(|(k, _)| k)
}
