//! Tokens produced by the lexer.

use crate::span::Span;

/// The kind of a token, with its decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An identifier or keyword (`where`, `T`, `$left`); hyphenated names are joined by the parser.
    Ident(String),
    /// An integer literal as written (`42`, `0x1F`).
    Long(String),
    /// A real literal as written (`1.5`, `1e3`).
    Real(String),
    /// A timespan literal as written (`1d`, `1.5h`, `10microsecond`).
    TimeSpan(String),
    /// A string literal, decoded. `obfuscated` for `h'…'`; `verbatim` for `@'…'`;
    /// `multiline` for ```` ```…``` ````.
    Str {
        /// Decoded value.
        value: String,
        /// Written with the `h` prefix.
        obfuscated: bool,
    },
    /// `datetime(…)`, `timespan(…)`, `guid(…)` and their aliases: the type word and the raw text inside.
    TypedRaw {
        /// The type keyword as written, lower case.
        ty: String,
        /// The text between the parentheses, trimmed.
        raw: String,
    },
    /// Punctuation and operators (`|`, `==`, `=~`, `(`, …).
    Punct(&'static str),
    /// A character no token starts with.
    Unknown(char),
    /// End of input.
    Eof,
}

/// A token with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

impl Token {
    /// The identifier text, if the token is an identifier.
    pub fn ident(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// True if the token is the punctuation `p`.
    pub fn is_punct(&self, p: &str) -> bool {
        matches!(&self.kind, TokenKind::Punct(q) if *q == p)
    }

    /// True if the token is the identifier `kw` (case-sensitive, as KQL keywords are).
    pub fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(s) if s == kw)
    }
}
