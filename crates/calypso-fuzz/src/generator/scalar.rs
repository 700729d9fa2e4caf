//! Scalar expressions of a wanted type: literals (edge values of every type), columns,
//! operators, catalog functions, conversions, `iff`/`case`, dynamic access, `toscalar`.

use kql_functions::KqlType;

use super::{Arg, Func, Gen, MAX_DEPTH, Schema, TABLES, string_lit};

const LONGS: &[&str] = &[
    "0",
    "1",
    "-1",
    "42",
    "9223372036854775807",
    "-9223372036854775807",
    "long(-9223372036854775808)",
    "long(null)",
    "0x7fffffffffffffff",
    "2147483648",
    "1000000",
];
const INTS: &[&str] = &[
    "int(0)",
    "int(1)",
    "int(-1)",
    "int(2147483647)",
    "int(-2147483648)",
    "int(null)",
];
const REALS: &[&str] = &[
    "0.0",
    "1.5",
    "-0.0",
    "1e308",
    "1.7976931348623157e308",
    "5e-324",
    "real(nan)",
    "real(+inf)",
    "real(-inf)",
    "real(null)",
    "0.1",
    "-2.5e10",
];
const DECIMALS: &[&str] = &[
    "decimal(0)",
    "decimal(1.5)",
    "decimal(-1.5)",
    "decimal(null)",
    "decimal(99999999999999999999)",
    "decimal(0.000000000000000001)",
    "decimal(12345678901234567890.123456789012345678)",
];
const STRINGS: &[&str] = &[
    "\"\"",
    "\"a\"",
    "\"Hello World\"",
    "\"a,b;c|d\"",
    "\"é𝄞\\u00e9\"",
    "\"line\\nbreak\\t\"",
    "@\"C:\\path\"",
    "'single'",
    "\"123\"",
    "\"-1.5e3\"",
    "\"2020-01-01T00:00:00Z\"",
    "\"{\\\"a\\\": [1, 2]}\"",
    "\"[1, 2, 3]\"",
    "\".*(a+)+$\"",
    "h\"secret\"",
    "\"6f3b9a2e-0c1d-4e5f-8a9b-0c1d2e3f4a5b\"",
    "\"true\"",
    "\"1.02:03:04\"",
];
const DATETIMES: &[&str] = &[
    "datetime(2020-01-01)",
    "datetime(2020-02-29 23:59:59.9999999)",
    "datetime(1970-01-01)",
    "datetime(null)",
    "datetime(1677-09-21 00:12:44)",
    "datetime(2262-04-11 23:47:16)",
    "datetime(0001-01-01)",
    "datetime(9999-12-31 23:59:59.9999999)",
    "datetime(2021-06-07T08:09:10.123Z)",
    "now()",
];
const TIMESPANS: &[&str] = &[
    "1d",
    "0s",
    "-1h",
    "1tick",
    "1.5h",
    "100ms",
    "timespan(null)",
    "time(10675199.02:48:05.4775807)",
    "time(-10675199.02:48:05.4775808)",
    "time(106751.23:47:16.8547758)",
    "time(-106751.23:47:16.8547758)",
    "365d",
    "time(1.02:03:04.5)",
];
const GUIDS: &[&str] = &[
    "guid(00000000-0000-0000-0000-000000000000)",
    "guid(6f3b9a2e-0c1d-4e5f-8a9b-0c1d2e3f4a5b)",
    "guid(ffffffff-ffff-ffff-ffff-ffffffffffff)",
    "guid(null)",
];
const DYNAMICS: &[&str] = &[
    "dynamic([1, 2, 3])",
    "dynamic({\"a\": 1, \"b\": \"x\"})",
    "dynamic(null)",
    "dynamic([])",
    "dynamic({})",
    "dynamic([1, \"a\", null, {\"b\": [2.5, true]}])",
    "dynamic(1.5)",
    "dynamic(\"s\")",
    "dynamic([[1, 2], [3]])",
    "dynamic({\"a\": {\"b\": {\"c\": [1, {\"d\": null}]}}})",
    "dynamic([9223372036854775807, -1e308])",
];

const CONVERSIONS: [(KqlType, &str); 10] = [
    (KqlType::Bool, "tobool"),
    (KqlType::Int, "toint"),
    (KqlType::Long, "tolong"),
    (KqlType::Real, "toreal"),
    (KqlType::Decimal, "todecimal"),
    (KqlType::String, "tostring"),
    (KqlType::DateTime, "todatetime"),
    (KqlType::TimeSpan, "totimespan"),
    (KqlType::Guid, "toguid"),
    (KqlType::Dynamic, "todynamic"),
];

fn numeric(t: KqlType) -> bool {
    matches!(
        t,
        KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal
    )
}

impl Gen<'_, '_, '_> {
    /// A literal of type `t`: an edge value or one made of the fuzzer's bytes.
    pub(crate) fn literal(&mut self, t: KqlType) -> String {
        let table = match t {
            KqlType::Bool => &["true", "false", "bool(null)"][..],
            KqlType::Int => INTS,
            KqlType::Long => LONGS,
            KqlType::Real => REALS,
            KqlType::Decimal => DECIMALS,
            KqlType::String => STRINGS,
            KqlType::DateTime => DATETIMES,
            KqlType::TimeSpan => TIMESPANS,
            KqlType::Guid => GUIDS,
            KqlType::Dynamic => DYNAMICS,
        };
        if self.chance(3, 4) {
            return self.one(table).to_string();
        }
        match t {
            KqlType::Long => self.u.arbitrary::<i32>().unwrap_or(0).to_string(),
            KqlType::Int => format!("int({})", self.u.arbitrary::<i32>().unwrap_or(0)),
            KqlType::Real => {
                let v = self.u.arbitrary::<f64>().unwrap_or(0.0);
                if v.is_finite() {
                    format!("real({v:e})")
                } else {
                    "real(nan)".to_string()
                }
            }
            KqlType::String => {
                let len = self.pick(12);
                let s: String = (0..len)
                    .map(|_| self.u.arbitrary::<char>().unwrap_or('a'))
                    .collect();
                string_lit(&s)
            }
            KqlType::DateTime => format!(
                "datetime({:04}-{:02}-{:02} {:02}:{:02}:{:02})",
                if self.chance(1, 8) {
                    self.int(1, 9999)
                } else {
                    self.int(1678, 2261)
                },
                self.int(1, 12),
                self.int(1, 28),
                self.int(0, 23),
                self.int(0, 59),
                self.int(0, 59)
            ),
            KqlType::TimeSpan => format!(
                "{}{}",
                self.int(-100_000, 100_000),
                self.one(&["d", "h", "m", "s", "ms", "microsecond", "tick"])
            ),
            _ => self.one(table).to_string(),
        }
    }

    /// An expression of type `t` over the columns of `row`.
    pub(crate) fn expr(&mut self, t: KqlType, row: &Schema) -> String {
        if self.depth >= MAX_DEPTH + 3 {
            return self.leaf(t, row);
        }
        self.depth += 1;
        let e = match self.pick(12) {
            0 => self.literal(t),
            1..=3 => self.leaf(t, row),
            4..=6 => self.typed_op(t, row),
            7 | 8 => self.catalog_call(t, row),
            9 => {
                let c = self.expr(KqlType::Bool, row);
                let a = self.expr(t, row);
                let b = self.expr(t, row);
                if self.chance(1, 3) {
                    let c2 = self.expr(KqlType::Bool, row);
                    let a2 = self.expr(t, row);
                    format!("case({c}, {a}, {c2}, {a2}, {b})")
                } else {
                    format!("iff({c}, {a}, {b})")
                }
            }
            10 => {
                let from = self.scalar_type();
                let inner = self.expr(from, row);
                let conv = CONVERSIONS
                    .iter()
                    .find(|(ct, _)| *ct == t)
                    .map_or("tostring", |(_, n)| n);
                format!("{conv}({inner})")
            }
            _ => self.special(t, row),
        };
        self.depth -= 1;
        e
    }

    /// A column, `let` name or literal of type `t`.
    fn leaf(&mut self, t: KqlType, row: &Schema) -> String {
        if self.chance(1, 6) {
            let lets: Vec<String> = self
                .scalars
                .iter()
                .filter(|(_, st)| *st == t)
                .map(|(n, _)| n.clone())
                .collect();
            if !lets.is_empty() {
                let i = self.pick(lets.len());
                return lets[i].clone();
            }
        }
        match self.column(row, Some(t)) {
            Some(c) if self.chance(4, 5) => c,
            _ => self.literal(t),
        }
    }

    /// Operators whose result is `t`.
    fn typed_op(&mut self, t: KqlType, row: &Schema) -> String {
        match t {
            KqlType::Bool => self.predicate(row),
            KqlType::Long | KqlType::Real | KqlType::Decimal | KqlType::Int => {
                let op = self.one(&["+", "-", "*", "/", "%"]);
                let other = if t == KqlType::Long && self.chance(1, 3) {
                    KqlType::Int
                } else {
                    t
                };
                let a = self.expr(t, row);
                let b = self.expr(other, row);
                if self.chance(1, 6) {
                    format!("-({a})")
                } else {
                    format!("({a} {op} {b})")
                }
            }
            KqlType::TimeSpan => match self.pick(4) {
                0 => {
                    let a = self.expr(KqlType::DateTime, row);
                    let b = self.expr(KqlType::DateTime, row);
                    format!("({a} - {b})")
                }
                1 => {
                    let a = self.expr(KqlType::TimeSpan, row);
                    let n = self.expr(KqlType::Long, row);
                    format!("({a} {} {n})", self.one(&["*", "/"]))
                }
                2 => format!("-({})", self.expr(KqlType::TimeSpan, row)),
                _ => {
                    let a = self.expr(KqlType::TimeSpan, row);
                    let b = self.expr(KqlType::TimeSpan, row);
                    format!("({a} {} {b})", self.one(&["+", "-"]))
                }
            },
            KqlType::DateTime => {
                let a = self.expr(KqlType::DateTime, row);
                let b = self.expr(KqlType::TimeSpan, row);
                format!("({a} {} {b})", self.one(&["+", "-"]))
            }
            KqlType::String => {
                let a = self.expr(KqlType::String, row);
                let b = self.expr(KqlType::String, row);
                format!("strcat({a}, {b})")
            }
            KqlType::Dynamic => {
                let d = self.expr(KqlType::Dynamic, row);
                match self.pick(4) {
                    0 => format!("{d}.a"),
                    1 => format!("{d}[{}]", self.int(-2, 3)),
                    2 => format!("{d}[\"b\"]"),
                    _ => self.dynamic_array(row),
                }
            }
            KqlType::Guid => "new_guid()".to_string(),
        }
    }

    /// A boolean condition: comparisons, string operators, `in`, `between`, logic.
    fn predicate(&mut self, row: &Schema) -> String {
        match self.pick(7) {
            0 | 1 => {
                let t = self.scalar_type();
                let t = if t == KqlType::Dynamic {
                    KqlType::Long
                } else {
                    t
                };
                let a = self.expr(t, row);
                let b = self.expr(t, row);
                let op = self.one(&["==", "!=", "<", "<=", ">", ">="]);
                format!("{a} {op} {b}")
            }
            2 | 3 => {
                let a = self.expr(KqlType::String, row);
                let b = self.expr(KqlType::String, row);
                let op = self.one(&[
                    "has",
                    "contains",
                    "==",
                    "=~",
                    "!~",
                    "!has",
                    "!contains",
                    "startswith",
                    "endswith",
                    "has_cs",
                    "contains_cs",
                    "hasprefix",
                    "hassuffix",
                    "!startswith",
                    "matches regex",
                    "like",
                ]);
                format!("{a} {op} {b}")
            }
            4 => {
                let t = self.scalar_type();
                let a = self.expr(t, row);
                let n = 1 + self.pick(3);
                let items: Vec<String> = (0..n).map(|_| self.expr(t, row)).collect();
                let op = if t == KqlType::String {
                    self.one(&["in", "!in", "in~", "!in~", "has_any", "has_all"])
                } else {
                    self.one(&["in", "!in"])
                };
                format!("{a} {op} ({})", items.join(", "))
            }
            5 => {
                let t = self.one_of_types(&[
                    KqlType::Long,
                    KqlType::Real,
                    KqlType::DateTime,
                    KqlType::TimeSpan,
                ]);
                let a = self.expr(t, row);
                let lo = self.expr(t, row);
                let hi = self.expr(t, row);
                let op = self.one(&["between", "!between"]);
                format!("{a} {op} ({lo} .. {hi})")
            }
            _ => {
                let a = self.expr(KqlType::Bool, row);
                let b = self.expr(KqlType::Bool, row);
                match self.pick(3) {
                    0 => format!("({a} and {b})"),
                    1 => format!("({a} or {b})"),
                    _ => format!("not({a})"),
                }
            }
        }
    }

    fn one_of_types(&mut self, ts: &[KqlType]) -> KqlType {
        ts[self.pick(ts.len())]
    }

    /// A dynamic array: a literal, `pack_array`, `split`, `range`.
    pub(crate) fn dynamic_array(&mut self, row: &Schema) -> String {
        match self.pick(5) {
            0 => self
                .one(&[
                    "dynamic([1, 2, 3])",
                    "dynamic([])",
                    "dynamic([\"a\", null, {\"b\": 1}])",
                ])
                .to_string(),
            1 => {
                let t = self.scalar_type();
                let a = self.expr(t, row);
                let b = self.expr(t, row);
                format!("pack_array({a}, {b})")
            }
            2 => format!("split({}, \",\")", self.expr(KqlType::String, row)),
            3 => format!(
                "series_add(dynamic([1, 2]), dynamic([{}]))",
                self.int(0, 20)
            ),
            _ => format!("bag_keys({})", self.bag(row)),
        }
    }

    fn bag(&mut self, row: &Schema) -> String {
        match self.pick(3) {
            0 => "dynamic({\"a\": 1, \"b\": \"x\"})".to_string(),
            1 => {
                let t = self.scalar_type();
                format!("bag_pack(\"k\", {})", self.expr(t, row))
            }
            _ => format!("parse_json({})", self.expr(KqlType::String, row)),
        }
    }

    /// An argument of a catalog function.
    fn argument(&mut self, a: Arg, row: &Schema) -> String {
        match a {
            Arg::Value(t) => self.expr(t, row),
            Arg::Array => self.dynamic_array(row),
            Arg::Bag => self.bag(row),
            Arg::TypeLit => {
                let t = self.scalar_type();
                format!("typeof({})", t.name())
            }
        }
    }

    /// A call of `f` with arguments over the row.
    pub(crate) fn call(&mut self, f: &Func, row: &Schema) -> String {
        let args: Vec<String> = f.args.iter().map(|a| self.argument(*a, row)).collect();
        format!("{}({})", f.name, args.join(", "))
    }

    /// A catalog function returning `t` (a literal when there is none).
    fn catalog_call(&mut self, t: KqlType, row: &Schema) -> String {
        let candidates: Vec<Func> = self.catalog.returning(t).cloned().collect();
        if candidates.is_empty() {
            return self.literal(t);
        }
        let f = candidates[self.pick(candidates.len())].clone();
        self.call(&f, row)
    }

    /// User functions, `toscalar`, `strrep`-sized strings and other rarer forms.
    fn special(&mut self, t: KqlType, row: &Schema) -> String {
        match self.pick(5) {
            0 => {
                let fs: Vec<String> = self
                    .functions
                    .iter()
                    .filter(|(_, ft)| *ft == t)
                    .map(|(n, _)| n.clone())
                    .collect();
                if fs.is_empty() {
                    return self.literal(t);
                }
                let f = fs[self.pick(fs.len())].clone();
                format!("{f}({})", self.expr(t, row))
            }
            1 => {
                let table = self.one(TABLES);
                match self.column(&fixture_columns(table), Some(t)) {
                    Some(c) => match self.pick(3) {
                        0 => format!("toscalar({table} | project {c} | take 1)"),
                        1 => format!("toscalar({table} | summarize take_any({c}))"),
                        _ => format!("toscalar({table} | top 1 by {c} | project {c})"),
                    },
                    None => self.literal(t),
                }
            }
            2 if t == KqlType::String => {
                let s = self.expr(KqlType::String, row);
                format!(
                    "strrep({s}, {})",
                    self.one(&["3", "1000", "0", "-1", "100000000"])
                )
            }
            3 if numeric(t) => {
                let c = self.column(row, Some(t)).unwrap_or_else(|| self.literal(t));
                format!("bin({c}, {})", self.literal(t))
            }
            _ => {
                let p = self.expr(KqlType::Bool, row);
                format!(
                    "iff(isnull({p}), {}, {})",
                    self.literal(t),
                    self.leaf(t, row)
                )
            }
        }
    }
}

/// The columns of the fixture's tables, for `toscalar` subqueries.
fn fixture_columns(table: &str) -> Schema {
    crate::fixture::table_columns(table)
}
