//! A fast path for `dynamic` values given as text: checks strict JSON and writes its
//! compact form without building a `serde_json::Value`.
//!
//! The output is byte for byte what `serde_json` gives when it parses the text and prints
//! the value (numbers other than plain integers are printed by `serde_json` itself,
//! string escapes are written as `serde_json` writes them). Whatever the fast path does
//! not handle — invalid or lenient JSON, duplicate keys, deep nesting, big objects —
//! makes [`minify`] return `false`, and the caller takes the general path.

use std::fmt::Write as _;

use serde_json::Value;

/// Nesting deeper than this is left to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 100;
/// Objects with more keys are left to `serde_json` (duplicate keys are checked pairwise).
const MAX_KEYS: usize = 64;

/// Writes the compact JSON of `text` into `out` (cleared first); `false` when `text` is
/// not JSON the fast path handles (then `out` holds garbage).
pub(crate) fn minify(text: &str, out: &mut String) -> bool {
    out.clear();
    let mut m = Minifier {
        text,
        s: text.as_bytes(),
        pos: 0,
        out,
        depth: 0,
        keys: Vec::new(),
    };
    m.ws();
    if !m.value() {
        return false;
    }
    m.ws();
    m.pos == m.s.len()
}

struct Minifier<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    out: &'a mut String,
    depth: usize,
    /// Output ranges of the keys of the objects being read (innermost last).
    keys: Vec<(usize, usize)>,
}

impl Minifier<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn copy(&mut self, a: usize, b: usize) -> bool {
        match self.text.get(a..b) {
            Some(t) => {
                self.out.push_str(t);
                true
            }
            None => false,
        }
    }

    fn value(&mut self) -> bool {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &str) -> bool {
        if self.s.get(self.pos..self.pos + word.len()) != Some(word.as_bytes()) {
            return false;
        }
        self.pos += word.len();
        self.out.push_str(word);
        true
    }

    fn object(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return false;
        }
        self.pos += 1;
        self.out.push('{');
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.out.push('}');
            self.depth -= 1;
            return true;
        }
        let base = self.keys.len();
        loop {
            self.ws();
            let start = self.out.len();
            if self.peek() != Some(b'"') || !self.string() {
                return false;
            }
            let key = (start, self.out.len());
            if self.keys.len() - base >= MAX_KEYS || self.duplicate(base, key) {
                return false;
            }
            self.keys.push(key);
            self.ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.pos += 1;
            self.out.push(':');
            self.ws();
            if !self.value() {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(',');
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.out.push('}');
                    self.keys.truncate(base);
                    self.depth -= 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// Whether the key at `key` (an output range) equals an earlier key of its object.
    fn duplicate(&self, base: usize, key: (usize, usize)) -> bool {
        let k = self.out.get(key.0..key.1);
        self.keys
            .get(base..)
            .unwrap_or(&[])
            .iter()
            .any(|&(a, b)| self.out.get(a..b) == k)
    }

    fn array(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return false;
        }
        self.pos += 1;
        self.out.push('[');
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(']');
            self.depth -= 1;
            return true;
        }
        loop {
            self.ws();
            if !self.value() {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(',');
                }
                Some(b']') => {
                    self.pos += 1;
                    self.out.push(']');
                    self.depth -= 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// A string (at its opening quote), written with `serde_json`'s escapes.
    fn string(&mut self) -> bool {
        self.pos += 1;
        self.out.push('"');
        loop {
            let seg = self.pos;
            let rest = self.s.get(seg..).unwrap_or(&[]);
            let Some(n) = rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            else {
                return false;
            };
            self.pos += n;
            if !self.copy(seg, self.pos) {
                return false;
            }
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    self.out.push('"');
                    return true;
                }
                Some(b'\\') => {
                    if !self.escape() {
                        return false;
                    }
                }
                // A raw control character: invalid JSON.
                _ => return false,
            }
        }
    }

    /// An escape (at its backslash).
    fn escape(&mut self) -> bool {
        let Some(c) = self.s.get(self.pos + 1).copied() else {
            return false;
        };
        self.pos += 2;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let Some(hi) = self.hex4() else {
                    return false;
                };
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return false;
                    }
                    self.pos += 2;
                    match self.hex4() {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        }
                        _ => return false,
                    }
                } else {
                    hi
                };
                match char::from_u32(code) {
                    Some(ch) => ch,
                    None => return false,
                }
            }
            _ => return false,
        };
        push_escaped(self.out, ch);
        true
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.pos..self.pos + 4)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    /// A number: plain integers that fit 64 bits are copied, others are printed by
    /// `serde_json` (which normalizes reals: `1e2` → `100.0`).
    fn number(&mut self) -> bool {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.s.get(int_start) == Some(&b'0')) {
            return false;
        }
        let mut plain = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            plain = false;
            if self.digits() == 0 {
                return false;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            plain = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return false;
            }
        }
        let negative_zero = int_start > start && self.s.get(int_start) == Some(&b'0');
        if plain && int_digits <= 18 && !negative_zero {
            return self.copy(start, self.pos);
        }
        let Some(token) = self.text.get(start..self.pos) else {
            return false;
        };
        match serde_json::from_str::<Value>(token) {
            Ok(v @ Value::Number(_)) => write!(self.out, "{v}").is_ok(),
            _ => false,
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }
}

/// Appends `ch` inside a JSON string as `serde_json` writes it.
fn push_escaped(out: &mut String, ch: char) {
    match ch {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fast(s: &str) -> Option<String> {
        let mut out = String::new();
        minify(s, &mut out).then_some(out)
    }

    fn slow(s: &str) -> Option<String> {
        serde_json::from_str::<Value>(s).ok().map(|v| v.to_string())
    }

    /// The fast path agrees with serde_json whenever it answers.
    fn check(s: &str) {
        if let Some(f) = fast(s) {
            assert_eq!(Some(f), slow(s), "{s:?}");
        }
    }

    #[test]
    fn handles_ordinary_json() {
        for s in [
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "x y"}}"#,
            " [ 1 , -2 , 0 , 123456789012345678 ] ",
            r#""plain""#,
            r#""esc \" \\ \n \t \r \b \f \/ \u0041 \u00e9 \u001f \ud83d\ude00""#,
            "1.5",
            "-0.25e3",
            "1E2",
            "12345678901234567890",
            "-9223372036854775808",
            "-0",
            "[]",
            "{}",
            "null",
            "{\"k\":{\"k\":{\"k\":[[[]]]}}}",
            "\"ünïcødé 😀\"",
        ] {
            assert!(fast(s).is_some(), "{s:?}");
            check(s);
        }
    }

    #[test]
    fn leaves_the_rest_to_serde() {
        for s in [
            "",
            "   ",
            "{'a': 1}",
            "{a: 1}",
            "[1,]",
            "01",
            "1.",
            ".5",
            "+1",
            "-",
            "1e",
            "NaN",
            "\"unterminated",
            "\"bad \\x escape\"",
            "\"lone \\ud800 surrogate\"",
            "\"raw \u{1} control\"",
            "{\"a\":1,\"a\":2}",
            "[1] [2]",
            "tru",
            "nul",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "hello",
        ] {
            check(s);
            assert!(
                fast(s).is_none() || slow(s).is_some(),
                "{s:?} should not be accepted"
            );
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(fast(&deep).is_none());
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(fast(&format!("{{{}}}", many.join(","))).is_none());
    }

    #[test]
    fn agrees_with_serde_on_generated_json() {
        let mut seed = 7u64;
        let mut rand = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        fn generate(rand: &mut dyn FnMut(u64) -> u64, depth: u32, out: &mut String) {
            let ws = [" ", "", "\n", "\t", "\r\n  "];
            let pick = if depth > 3 { rand(6) } else { rand(8) };
            match pick {
                0 => out.push_str(["true", "false", "null"][rand(3) as usize]),
                1 => {
                    let nums = [
                        "0",
                        "-1",
                        "42",
                        "1.5",
                        "1e3",
                        "-2.5E-3",
                        "1.0",
                        "99999999999999999999",
                        "3.141592653589793238",
                    ];
                    out.push_str(nums[rand(nums.len() as u64) as usize]);
                }
                2..=5 => {
                    let parts = [
                        "a",
                        "\\\"",
                        "\\\\",
                        "\\/",
                        "\\n",
                        "\\u0041",
                        "\\u0007",
                        "é",
                        "\\ud83d\\ude00",
                        " ",
                        "\\t",
                    ];
                    out.push('"');
                    for _ in 0..rand(5) {
                        out.push_str(parts[rand(parts.len() as u64) as usize]);
                    }
                    out.push('"');
                }
                6 => {
                    out.push('[');
                    let n = rand(4);
                    for i in 0..n {
                        out.push_str(ws[rand(5) as usize]);
                        generate(rand, depth + 1, out);
                        out.push_str(ws[rand(5) as usize]);
                        if i + 1 < n {
                            out.push(',');
                        }
                    }
                    out.push(']');
                }
                _ => {
                    out.push('{');
                    let n = rand(4);
                    for i in 0..n {
                        out.push_str(ws[rand(5) as usize]);
                        let _ = write!(out, "\"k{}\"", rand(3));
                        out.push_str(ws[rand(5) as usize]);
                        out.push(':');
                        generate(rand, depth + 1, out);
                        if i + 1 < n {
                            out.push(',');
                        }
                    }
                    out.push('}');
                }
            }
        }
        let mut answered = 0;
        for _ in 0..5000 {
            let mut s = String::new();
            generate(&mut rand, 0, &mut s);
            check(&s);
            if fast(&s).is_some() {
                answered += 1;
            } else {
                // Only duplicate keys are left to serde_json in this corpus.
                assert!(s.contains('{'), "{s:?}");
            }
        }
        assert!(answered > 3000, "{answered}");
    }
}
