//! The recursive-descent / Pratt parser: tokens → AST plus diagnostics. It never panics
//! and never fails: errors become diagnostics and the statement is skipped.

mod command;
mod expr;
mod operator;

use crate::ast::{Ident, Query, Statement};
use crate::diagnostic::Diagnostic;
use crate::lexer::tokenize;
use crate::span::Span;
use crate::token::{Token, TokenKind};

/// Maximum nesting depth of expressions and subqueries.
pub const MAX_DEPTH: usize = 64;

/// The result of parsing: the AST (what could be parsed) and every diagnostic.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The query.
    pub query: Query,
    /// Lexical and syntax diagnostics, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when there are no errors.
    pub fn is_ok(&self) -> bool {
        self.diagnostics.is_empty()
    }
}

/// Parses a query or control command text.
pub fn parse(text: &str) -> Parsed {
    // `.ingest inline ... <| data`: the data is raw text, not tokens.
    let (head, inline_data) = split_inline_data(text);
    let (tokens, mut diagnostics) = tokenize(head);
    let mut p = Parser {
        text,
        tokens,
        pos: 0,
        depth: 0,
        inline_data,
        allow_materialize: false,
        search_terms: false,
    };
    let query = p.query(&mut diagnostics);
    Parsed { query, diagnostics }
}

/// A parse failure inside one statement.
pub(crate) type PResult<T> = Result<T, Diagnostic>;

pub(crate) struct Parser<'a> {
    pub(crate) text: &'a str,
    pub(crate) tokens: Vec<Token>,
    pub(crate) pos: usize,
    pub(crate) depth: usize,
    pub(crate) inline_data: Option<String>,
    pub(crate) allow_materialize: bool,
    /// Inside a `search` predicate: `column:"term"` is a column-scoped term.
    pub(crate) search_terms: bool,
}

/// Splits `.ingest inline into table T <| data` into the command head and the data.
pub(crate) fn split_inline_data(text: &str) -> (&str, Option<String>) {
    let trimmed = text.trim_start();
    let lead = text.len() - trimmed.len();
    let is_ingest_inline = trimmed.starts_with(".ingest")
        && trimmed[".ingest".len()..]
            .trim_start()
            .starts_with("inline");
    if !is_ingest_inline {
        return (text, None);
    }
    match trimmed.find("<|") {
        Some(i) => {
            let data = &trimmed[i + 2..];
            let data = data
                .strip_prefix("\r\n")
                .or_else(|| data.strip_prefix('\n'))
                .unwrap_or(data);
            let data = data.strip_prefix(' ').unwrap_or(data);
            (&text[..lead + i], Some(data.to_string()))
        }
        None => (text, None),
    }
}

impl Parser<'_> {
    fn query(&mut self, diags: &mut Vec<Diagnostic>) -> Query {
        let mut statements = Vec::new();
        loop {
            if self.peek().is_punct(";") {
                let t = self.peek().clone();
                diags.push(self.unexpected(&t, "a statement"));
                self.bump();
                continue;
            }
            if self.at_eof() {
                break;
            }
            match self.statement() {
                Ok(s) => {
                    statements.push(s);
                    if !self.at_eof() && !self.peek().is_punct(";") {
                        let t = self.peek().clone();
                        diags.push(self.unexpected(&t, "';' or end of query"));
                        self.recover();
                    }
                    self.eat_punct(";");
                }
                Err(d) => {
                    diags.push(d);
                    self.recover();
                    self.eat_punct(";");
                }
            }
        }
        Query { statements }
    }

    /// Skips to the next top-level `;`.
    fn recover(&mut self) {
        let mut depth = 0i32;
        while !self.at_eof() {
            let t = self.peek();
            if depth <= 0 && t.is_punct(";") {
                return;
            }
            if t.is_punct("(") || t.is_punct("[") || t.is_punct("{") {
                depth += 1;
            } else if t.is_punct(")") || t.is_punct("]") || t.is_punct("}") {
                depth -= 1;
            }
            self.pos += 1;
        }
    }

    // ---- token cursor -------------------------------------------------------------

    pub(crate) fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    pub(crate) fn peek_at(&self, n: usize) -> &Token {
        let i = (self.pos + n).min(self.tokens.len().saturating_sub(1));
        &self.tokens[i]
    }

    pub(crate) fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len().saturating_sub(1) {
            self.pos += 1;
        }
        t
    }

    pub(crate) fn at_eof(&self) -> bool {
        matches!(self.peek().kind, TokenKind::Eof)
    }

    pub(crate) fn prev_span(&self) -> Span {
        if self.pos == 0 {
            Span::new(0, 0)
        } else {
            self.tokens[self.pos - 1].span
        }
    }

    pub(crate) fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek().is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek().is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.peek().is_punct(p) {
            Ok(self.bump().span)
        } else {
            let t = self.peek().clone();
            Err(self.unexpected(&t, &format!("'{p}'")))
        }
    }

    pub(crate) fn expect_kw(&mut self, kw: &str) -> PResult<Span> {
        if self.peek().is_kw(kw) {
            Ok(self.bump().span)
        } else {
            let t = self.peek().clone();
            Err(self.unexpected(&t, &format!("'{kw}'")))
        }
    }

    /// True when token `n` ahead directly touches the token before it (no whitespace).
    pub(crate) fn adjacent(&self, n: usize) -> bool {
        if n == 0 {
            return false;
        }
        self.peek_at(n - 1).span.end == self.peek_at(n).span.start
    }

    pub(crate) fn unexpected(&self, t: &Token, expected: &str) -> Diagnostic {
        let found = match &t.kind {
            TokenKind::Eof => "end of query".to_string(),
            _ => format!(
                "'{}'",
                &self.text[t.span.start as usize..t.span.end as usize]
            ),
        };
        Diagnostic::syntax(
            "KS002",
            t.span,
            format!("Expected {expected}, found {found}"),
        )
    }

    pub(crate) fn error_here(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::syntax("KS003", self.peek().span, message)
    }

    /// An identifier or `['quoted name']` / `["quoted"]` (adjacent string literals inside
    /// the brackets are concatenated: `['a' "b"]` is `ab`).
    pub(crate) fn ident(&mut self) -> PResult<Ident> {
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::Ident(s) => {
                self.bump();
                Ok(Ident::new(s.clone(), t.span))
            }
            TokenKind::Punct("[") if self.ident_len().is_some() => {
                self.bump();
                let mut name = String::new();
                while let TokenKind::Str { value, .. } = &self.peek().kind {
                    name.push_str(value);
                    self.bump();
                }
                let end = self.bump().span;
                Ok(Ident::new(name, t.span.to(end)))
            }
            _ => Err(self.unexpected(&t, "an identifier")),
        }
    }

    /// The number of tokens of the identifier at the cursor (1 for a word, 2 + n for
    /// `[`, n string literals and `]`), or `None` when no identifier starts there.
    pub(crate) fn ident_len(&self) -> Option<usize> {
        self.ident_len_at(0)
    }

    /// [`Parser::ident_len`] of the identifier starting `at` tokens after the cursor.
    pub(crate) fn ident_len_at(&self, at: usize) -> Option<usize> {
        match &self.peek_at(at).kind {
            TokenKind::Ident(_) => Some(1),
            TokenKind::Punct("[") => {
                let mut n = 1;
                while matches!(self.peek_at(at + n).kind, TokenKind::Str { .. }) {
                    n += 1;
                }
                (n > 1 && self.peek_at(at + n).is_punct("]")).then_some(n + 1)
            }
            _ => None,
        }
    }

    /// True if the next token can start an identifier.
    pub(crate) fn at_ident(&self) -> bool {
        self.ident_len().is_some()
    }

    /// A hyphenated word (`project-away`) made of adjacent identifiers and `-`.
    pub(crate) fn hyphenated_word(&mut self) -> Option<(String, Span)> {
        let first = self.peek().ident()?.to_string();
        let start = self.peek().span;
        self.bump();
        let mut word = first;
        let mut end = start;
        while self.peek().is_punct("-") && self.adjacent(1) && self.peek_at(1).ident().is_some() {
            // adjacency of '-' to the previous token too
            if self.prev_span().end != self.peek().span.start {
                break;
            }
            self.bump();
            let t = self.bump();
            word.push('-');
            word.push_str(t.ident().unwrap_or_default());
            end = t.span;
        }
        Some((word, start.to(end)))
    }

    /// Increments the nesting depth, failing beyond [`MAX_DEPTH`].
    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::syntax(
                "KS004",
                self.peek().span,
                format!("The query is nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Raw text of the token range `[from, to)`.
    pub(crate) fn text_of(&self, from: usize, to: usize) -> String {
        if from >= to || to > self.tokens.len() {
            return String::new();
        }
        let s = self.tokens[from].span.start as usize;
        let e = self.tokens[to - 1].span.end as usize;
        self.text[s..e].to_string()
    }

    /// Skips a balanced run of tokens until a top-level token for which `stop` holds.
    /// Returns the token range skipped.
    pub(crate) fn skip_balanced(
        &mut self,
        stop: impl Fn(&Token) -> bool,
    ) -> PResult<(usize, usize)> {
        let from = self.pos;
        let mut stack: Vec<&'static str> = Vec::new();
        loop {
            let t = self.peek().clone();
            if matches!(t.kind, TokenKind::Eof) {
                if let Some(close) = stack.last() {
                    return Err(self.unexpected(&t, &format!("'{close}'")));
                }
                break;
            }
            if stack.is_empty() && stop(&t) {
                break;
            }
            match &t.kind {
                TokenKind::Punct("(") => stack.push(")"),
                TokenKind::Punct("[") => stack.push("]"),
                TokenKind::Punct("{") => stack.push("}"),
                TokenKind::Punct(p @ (")" | "]" | "}")) => match stack.pop() {
                    Some(close) if close == *p => {}
                    _ => return Err(self.unexpected(&t, "a matching bracket")),
                },
                TokenKind::Unknown(_) => return Err(self.unexpected(&t, "a token")),
                _ => {}
            }
            self.bump();
        }
        Ok((from, self.pos))
    }

    fn statement(&mut self) -> PResult<Statement> {
        expr::statement(self)
    }
}
