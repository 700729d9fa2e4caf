//! A lenient JSON reader, close to what Kusto (Json.NET) accepts: single-quoted
//! strings, unquoted property names, trailing commas, `//` and `/* */` comments,
//! `NaN`/`Infinity` and a leading `+` on numbers.

use serde_json::{Map, Number, Value};

/// Parses `text` leniently; `None` when it is not (lenient) JSON.
pub fn parse(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        pos: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.skip_ws();
    if p.pos == p.s.len() { Some(v) } else { None }
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 512;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos < self.s.len() && !self.s[self.pos..].starts_with(b"*/") {
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.s.len());
                }
                _ => return,
            }
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' | b'\'' => self.string().map(Value::String),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            _ => {
                let word = self.ident();
                match word.as_str() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    "NaN" => Some(Value::String("NaN".into())),
                    "Infinity" => Some(Value::String("Infinity".into())),
                    _ => None,
                }
            }
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn object(&mut self) -> Option<Value> {
        self.enter()?;
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    break;
                }
                b',' if !map.is_empty() => {
                    self.pos += 1;
                    continue;
                }
                _ => {}
            }
            let key = match self.peek()? {
                b'"' | b'\'' => self.string()?,
                _ => {
                    let k = self.ident();
                    if k.is_empty() {
                        return None;
                    }
                    k
                }
            };
            self.skip_ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(Value::Object(map))
    }

    fn array(&mut self) -> Option<Value> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek()? == b']' {
                self.pos += 1;
                break;
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    break;
                }
                _ => return None,
            }
        }
        self.depth -= 1;
        Some(Value::Array(items))
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.src
            .get(start..self.pos)
            .unwrap_or_default()
            .to_string()
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.src.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        u32::from_str_radix(h, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(c) = self.peek() {
                if c == quote || c == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.src.get(start..self.pos)?);
            match self.peek()? {
                b'\\' => {
                    self.pos += 1;
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi)
                                && self.src.get(self.pos..self.pos + 2) == Some("\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            // Any other escaped character (", ', \, /) stands for itself.
                            let ch = self.src.get(self.pos - 1..)?.chars().next()?;
                            self.pos += ch.len_utf8() - 1;
                            out.push(ch);
                        }
                    }
                }
                _ => {
                    self.pos += 1;
                    return Some(out);
                }
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.pos;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        if self.src.get(self.pos..)?.starts_with("Infinity") {
            self.pos += "Infinity".len();
            let neg = self.s[start] == b'-';
            return Some(Value::String(
                if neg { "-Infinity" } else { "Infinity" }.into(),
            ));
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text = self.src.get(start..self.pos)?.trim_start_matches('+');
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::from(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Value::from(u));
        }
        let f = text.parse::<f64>().ok()?;
        Number::from_f64(f).map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_forms() {
        assert_eq!(
            parse("{'a': 'b', c: [1, 2,], }"),
            Some(json!({"a": "b", "c": [1, 2]}))
        );
        assert_eq!(parse("[1, /* x */ 2] // end"), Some(json!([1, 2])));
        assert_eq!(parse("'it\\'s'"), Some(json!("it's")));
        assert_eq!(parse(r#""\u00e9\n""#), Some(json!("é\n")));
        assert_eq!(parse("+1.5e2"), Some(json!(150.0)));
        assert_eq!(parse("[NaN, -Infinity]"), Some(json!(["NaN", "-Infinity"])));
        assert_eq!(parse("{'a' 1}"), None);
        assert_eq!(parse("hello world"), None);
        assert_eq!(parse("[1, 2"), None);
        assert_eq!(
            parse("{\"k\": {\"n\": null}}"),
            Some(json!({"k": {"n": null}}))
        );
    }
}
