//! The KQL lexer: text → tokens. It never fails; problems become diagnostics.

use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::token::{Token, TokenKind};

/// Punctuation, longest first.
const PUNCTS: &[&str] = &[
    "<|", "==", "!=", "<>", "<=", ">=", "=~", "!~", "=>", "..", "|", "(", ")", "[", "]", "{", "}",
    ",", ";", ".", ":", "=", "<", ">", "+", "-", "*", "/", "%", "!", "~", "?", "@", "#", "&", "^",
];

/// Timespan unit suffixes and their length in nanoseconds.
pub const TIMESPAN_UNITS: &[(&str, i128)] = &[
    ("d", 86_400_000_000_000),
    ("day", 86_400_000_000_000),
    ("days", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("hr", 3_600_000_000_000),
    ("hrs", 3_600_000_000_000),
    ("hour", 3_600_000_000_000),
    ("hours", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("minute", 60_000_000_000),
    ("minutes", 60_000_000_000),
    ("s", 1_000_000_000),
    ("sec", 1_000_000_000),
    ("second", 1_000_000_000),
    ("seconds", 1_000_000_000),
    ("ms", 1_000_000),
    ("milli", 1_000_000),
    ("millis", 1_000_000),
    ("millisec", 1_000_000),
    ("millisecond", 1_000_000),
    ("milliseconds", 1_000_000),
    ("micro", 1_000),
    ("micros", 1_000),
    ("microsec", 1_000),
    ("microsecond", 1_000),
    ("microseconds", 1_000),
    ("nano", 1),
    ("nanos", 1),
    ("nanosec", 1),
    ("nanosecond", 1),
    ("nanoseconds", 1),
    ("tick", 100),
    ("ticks", 100),
];

/// Type words whose parenthesised argument is raw text rather than tokens.
const RAW_TYPES: &[&str] = &["datetime", "date", "timespan", "time", "guid"];

/// Splits `text` into tokens (the last one is [`TokenKind::Eof`]) and lexical diagnostics.
pub fn tokenize(text: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
        guids: is_command_text(text),
    };
    lx.run();
    (lx.tokens, lx.diags)
}

/// Whether a text is a control command: its first token (after blanks and `//` comments)
/// is `.`. Commands take bare guids (`.show operations 3f2504e0-4f89-...`), which the
/// lexer then reads as one `guid(...)` literal.
pub fn is_command_text(text: &str) -> bool {
    let mut rest = text.trim_start();
    while let Some(r) = rest.strip_prefix("//") {
        rest = r
            .split_once('\n')
            .map_or("", |(_, after)| after)
            .trim_start();
    }
    rest.starts_with('.')
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
    /// Read bare guids as literals (in command texts).
    guids: bool,
}

/// The length of a bare guid (8-4-4-4-12 hex digits) at the start of `s`, when it is not
/// part of a longer word.
fn bare_guid_len(s: &[u8]) -> Option<usize> {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (n, len) in GROUPS.iter().enumerate() {
        if n > 0 {
            if s.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
        for _ in 0..*len {
            if !s.get(i).is_some_and(u8::is_ascii_hexdigit) {
                return None;
            }
            i += 1;
        }
    }
    let ends_word = s
        .get(i)
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-'));
    ends_word.then_some(i)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c == '$' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl Lexer<'_> {
    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.src.get(pos..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, start: usize, end: usize, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::syntax("KS001", Span::new(start, end), msg));
    }

    fn run(&mut self) {
        while self.pos < self.bytes.len() {
            let Some(c) = self.peek_char() else { break };
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
                continue;
            }
            if self.src[self.pos..].starts_with("//") {
                while let Some(ch) = self.peek_char() {
                    if ch == '\n' {
                        break;
                    }
                    self.pos += ch.len_utf8();
                }
                continue;
            }
            if self.src[self.pos..].starts_with("```") || self.src[self.pos..].starts_with("~~~") {
                self.multiline_string(start);
                continue;
            }
            if c == '\'' || c == '"' {
                self.quoted_string(start, false);
                continue;
            }
            let after_word = start > 0 && {
                let prev = self.bytes[start - 1];
                prev.is_ascii_alphanumeric() || prev == b'_'
            };
            if self.guids
                && !after_word
                && let Some(len) = bare_guid_len(&self.bytes[start..])
            {
                self.pos += len;
                let raw = self.src[start..self.pos].to_string();
                self.push(
                    TokenKind::TypedRaw {
                        ty: "guid".into(),
                        raw,
                    },
                    start,
                );
                continue;
            }
            if c == '@' && matches!(self.char_at(self.pos + 1), Some('\'' | '"')) {
                self.pos += 1;
                self.verbatim_string(start, false);
                continue;
            }
            if (c == 'h' || c == 'H') && matches!(self.char_at(self.pos + 1), Some('\'' | '"')) {
                self.pos += 1;
                self.quoted_string(start, true);
                continue;
            }
            if (c == 'h' || c == 'H')
                && self.char_at(self.pos + 1) == Some('@')
                && matches!(self.char_at(self.pos + 2), Some('\'' | '"'))
            {
                self.pos += 2;
                self.verbatim_string(start, true);
                continue;
            }
            if c.is_ascii_digit() {
                self.number(start);
                continue;
            }
            if is_ident_start(c) {
                self.ident(start);
                continue;
            }
            if let Some(p) = PUNCTS
                .iter()
                .find(|p| self.src[self.pos..].starts_with(**p))
            {
                self.pos += p.len();
                self.push(TokenKind::Punct(p), start);
                continue;
            }
            self.pos += c.len_utf8();
            self.push(TokenKind::Unknown(c), start);
        }
        let end = self.bytes.len();
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(end, end),
        });
    }

    fn ident(&mut self, start: usize) {
        self.pos += self.peek_char().map_or(1, char::len_utf8);
        while let Some(ch) = self.peek_char() {
            if is_ident_char(ch) {
                self.pos += ch.len_utf8();
            } else {
                break;
            }
        }
        let word = &self.src[start..self.pos];
        if RAW_TYPES.contains(&word) {
            // `datetime(...)`: the argument is raw text up to the closing parenthesis.
            let mut p = self.pos;
            while let Some(ch) = self.char_at(p) {
                if ch == ' ' || ch == '\t' {
                    p += 1;
                } else {
                    break;
                }
            }
            if self.char_at(p) == Some('(')
                && let Some(close) = self.src[p + 1..].find([')', '\n', '|', ';'])
            {
                let close_at = p + 1 + close;
                if self.char_at(close_at) == Some(')') {
                    let raw = self.src[p + 1..close_at].trim().to_string();
                    self.pos = close_at + 1;
                    self.push(
                        TokenKind::TypedRaw {
                            ty: word.to_string(),
                            raw,
                        },
                        start,
                    );
                    return;
                }
            }
        }
        self.push(TokenKind::Ident(word.to_string()), start);
    }

    fn digits(&mut self) -> usize {
        let s = self.pos;
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - s
    }

    fn number(&mut self, start: usize) {
        if self.src[self.pos..].starts_with("0x") || self.src[self.pos..].starts_with("0X") {
            self.pos += 2;
            let s = self.pos;
            while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_hexdigit() {
                self.pos += 1;
            }
            if self.pos == s {
                self.error(start, self.pos, "Invalid hexadecimal literal");
            }
            let text = self.src[start..self.pos].to_string();
            self.push(TokenKind::Long(text), start);
            return;
        }
        self.digits();
        let mut real = false;
        if self.bytes.get(self.pos) == Some(&b'.')
            && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            self.digits();
            real = true;
        } else if self.bytes.get(self.pos) == Some(&b'.')
            && !self
                .bytes
                .get(self.pos + 1)
                .is_some_and(|b| *b == b'.' || b.is_ascii_alphabetic() || *b == b'_')
        {
            // `2.` is a real literal
            self.pos += 1;
            let text = self.src[start..self.pos].to_string();
            self.push(TokenKind::Real(text), start);
            return;
        }
        if matches!(self.bytes.get(self.pos), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.bytes.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() > 0 {
                real = true;
            } else {
                self.pos = save;
            }
        }
        // A unit suffix makes it a timespan literal.
        let suffix_start = self.pos;
        while let Some(ch) = self.peek_char() {
            if ch.is_ascii_alphabetic() {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos > suffix_start {
            let suffix = &self.src[suffix_start..self.pos];
            if TIMESPAN_UNITS.iter().any(|(u, _)| *u == suffix) {
                let text = self.src[start..self.pos].to_string();
                self.push(TokenKind::TimeSpan(text), start);
            } else {
                let end = self.pos;
                self.error(start, end, format!("Unexpected literal suffix '{suffix}'"));
                let text = self.src[start..end].to_string();
                self.push(TokenKind::Real(text), start);
            }
            return;
        }
        let text = self.src[start..self.pos].to_string();
        if real {
            self.push(TokenKind::Real(text), start);
        } else {
            self.push(TokenKind::Long(text), start);
        }
    }

    fn quoted_string(&mut self, start: usize, obfuscated: bool) {
        let Some(quote) = self.peek_char() else {
            return;
        };
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(ch) = self.peek_char() else {
                self.error(start, self.pos, "Unterminated string literal");
                break;
            };
            if ch == '\n' || ch == '\r' {
                self.error(start, self.pos, "Unterminated string literal");
                break;
            }
            self.pos += ch.len_utf8();
            if ch == quote {
                break;
            }
            if ch == '\\' {
                let esc_start = self.pos - 1;
                let Some(e) = self.peek_char() else {
                    self.error(start, self.pos, "Unterminated string literal");
                    break;
                };
                self.pos += e.len_utf8();
                match e {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    'a' => value.push('\u{7}'),
                    'b' => value.push('\u{8}'),
                    'f' => value.push('\u{c}'),
                    'v' => value.push('\u{b}'),
                    '\\' | '\'' | '"' | '/' | '?' => value.push(e),
                    'u' | 'U' | 'x' => {
                        let n = match e {
                            'u' => 4,
                            'U' => 8,
                            _ => 2,
                        };
                        let hex = self.src.get(self.pos..self.pos + n).unwrap_or("");
                        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                            Some(c) if hex.len() == n => {
                                value.push(c);
                                self.pos += n;
                            }
                            _ => self.error(esc_start, self.pos, "Invalid escape sequence"),
                        }
                    }
                    _ => self.error(esc_start, self.pos, "Invalid escape sequence"),
                }
                continue;
            }
            value.push(ch);
        }
        self.push(TokenKind::Str { value, obfuscated }, start);
    }

    fn verbatim_string(&mut self, start: usize, obfuscated: bool) {
        let Some(quote) = self.peek_char() else {
            return;
        };
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(ch) = self.peek_char() else {
                self.error(start, self.pos, "Unterminated string literal");
                break;
            };
            if ch == '\n' {
                self.error(start, self.pos, "Unterminated string literal");
                break;
            }
            self.pos += ch.len_utf8();
            if ch == quote {
                if self.peek_char() == Some(quote) {
                    self.pos += 1;
                    value.push(quote);
                    continue;
                }
                break;
            }
            value.push(ch);
        }
        self.push(TokenKind::Str { value, obfuscated }, start);
    }

    fn multiline_string(&mut self, start: usize) {
        let fence = &self.src[self.pos..self.pos + 3];
        self.pos += 3;
        match self.src[self.pos..].find(fence) {
            Some(end) => {
                let value = self.src[self.pos..self.pos + end].to_string();
                self.pos += end + 3;
                self.push(
                    TokenKind::Str {
                        value,
                        obfuscated: false,
                    },
                    start,
                );
            }
            None => {
                self.pos = self.bytes.len();
                self.error(start, self.pos, "Unterminated multi-line string literal");
                self.push(
                    TokenKind::Str {
                        value: String::new(),
                        obfuscated: false,
                    },
                    start,
                );
            }
        }
    }
}
