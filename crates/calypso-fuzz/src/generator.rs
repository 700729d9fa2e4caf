//! A grammar-based generator of KQL queries, driven by the fuzzer's bytes through
//! [`arbitrary::Unstructured`].
//!
//! The queries are syntactically valid and mostly well typed over the fixture's tables
//! (see [`crate::fixture`]): the generator asks an [`Oracle`] (the planner) for the schema
//! of each pipeline prefix it has written so far and continues from the real columns, and
//! it calls only the catalog functions the planner accepted with literal arguments
//! ([`Catalog::calibrate`]). When the bytes run out every choice takes its first, simplest
//! alternative, so generation always ends.

mod functions;
mod scalar;

use std::fmt::Write as _;

use arbitrary::Unstructured;
use kql_functions::KqlType;

pub use functions::{Arg, Catalog, Func};

/// Plans a query text and returns the columns of its (last) result, or `None` when it
/// does not plan.
pub type Oracle<'a> = &'a dyn Fn(&str) -> Option<Vec<(String, KqlType)>>;

/// Column names and types of a row.
pub type Schema = Vec<(String, KqlType)>;

/// The tables of the fixture every generated query may read.
pub const TABLES: &[&str] = &["T", "U"];

/// The most operators in one pipeline.
const MAX_OPS: usize = 8;
/// The deepest nesting of expressions and subqueries.
const MAX_DEPTH: usize = 4;

/// Generates one query.
pub fn query(u: &mut Unstructured<'_>, catalog: &Catalog, oracle: Oracle<'_>) -> String {
    let mut g = Gen {
        u,
        catalog,
        oracle,
        prefix: String::new(),
        scalars: Vec::new(),
        tabulars: Vec::new(),
        functions: Vec::new(),
        fresh: 0,
        depth: 0,
    };
    g.statements()
}

/// The generator's state.
pub(crate) struct Gen<'u, 'd, 'c> {
    pub(crate) u: &'u mut Unstructured<'d>,
    pub(crate) catalog: &'c Catalog,
    oracle: Oracle<'c>,
    /// `set` and `let` statements written so far (each ends with `;\n`).
    prefix: String,
    /// Scalar `let` names and their types.
    pub(crate) scalars: Schema,
    /// Tabular `let` names.
    tabulars: Vec<String>,
    /// User functions `(x: t) { ... }` by name and `t`.
    pub(crate) functions: Schema,
    fresh: usize,
    pub(crate) depth: usize,
}

/// Quotes a name when KQL needs it (`['x y']`).
pub(crate) fn ident(name: &str) -> String {
    let mut s = String::new();
    let _ = kql_syntax::printer::write_ident(&mut s, name);
    s
}

/// A string literal with KQL's escapes.
pub(crate) fn string_lit(value: &str) -> String {
    let mut s = String::new();
    let _ = kql_syntax::printer::write_string(&mut s, value, false);
    s
}

impl Gen<'_, '_, '_> {
    /// An index below `n` (0 when the bytes are used up or `n` is 0).
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.u.choose_index(n).unwrap_or(0)
    }

    /// True with probability about `num / den` (false when the bytes are used up).
    pub(crate) fn chance(&mut self, num: u8, den: u8) -> bool {
        self.u.ratio(num, den).unwrap_or(false)
    }

    /// An integer in `lo..=hi` (`lo` when the bytes are used up).
    pub(crate) fn int(&mut self, lo: i64, hi: i64) -> i64 {
        self.u.int_in_range(lo..=hi).unwrap_or(lo)
    }

    /// One of `items` (the first when the bytes are used up).
    pub(crate) fn one<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.pick(items.len());
        items.get(i).copied().unwrap_or("")
    }

    /// A fresh column name.
    pub(crate) fn fresh(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}{}", self.fresh)
    }

    /// The columns of a tabular expression written after the current prefix.
    fn schema_of(&self, tabular: &str) -> Option<Schema> {
        (self.oracle)(&format!("{}{tabular}", self.prefix))
    }

    /// `set`/`let` statements, then one or two result statements.
    fn statements(&mut self) -> String {
        let n = self.pick(4);
        for _ in 0..n {
            let before = (
                self.prefix.len(),
                self.scalars.len(),
                self.tabulars.len(),
                self.functions.len(),
            );
            self.statement();
            // A statement that does not plan spoils the query; keep one once in a while.
            if self.schema_of("print 1").is_none() && !self.chance(1, 8) {
                self.prefix.truncate(before.0);
                self.scalars.truncate(before.1);
                self.tabulars.truncate(before.2);
                self.functions.truncate(before.3);
            }
        }
        let (first, _) = self.pipeline();
        let mut out = format!("{}{first}", self.prefix);
        if self.chance(1, 6) {
            let (second, _) = self.pipeline();
            let _ = write!(out, ";\n{second}");
        }
        out
    }

    /// One `let` or `set` statement, appended to the prefix.
    fn statement(&mut self) {
        {
            match self.pick(5) {
                0 => {
                    let name = self.fresh("s");
                    let t = self.scalar_type();
                    let e = self.expr(t, &Vec::new());
                    let _ = writeln!(self.prefix, "let {name} = {e};");
                    self.scalars.push((name, t));
                }
                1 => {
                    let name = self.fresh("V");
                    let (body, _) = self.pipeline();
                    let _ = writeln!(self.prefix, "let {name} = {body};");
                    self.tabulars.push(name);
                }
                2 => {
                    let name = self.fresh("M");
                    let (body, _) = self.pipeline();
                    let _ = writeln!(self.prefix, "let {name} = materialize({body});");
                    self.tabulars.push(name);
                }
                3 => {
                    let name = self.fresh("f");
                    let t = self.scalar_type();
                    let body = self.expr(t, &vec![("x".to_string(), t)]);
                    let _ = writeln!(self.prefix, "let {name} = (x: {}) {{ {body} }};", t.name());
                    self.functions.push((name, t));
                }
                _ => {
                    let opt = self.one(&[
                        "notruncation",
                        "truncationmaxrecords = 3",
                        "query_now = datetime(2021-06-07 08:09:10)",
                        "max_memory_consumption_per_query_per_node = 68719476736",
                        "query_datascope = \"all\"",
                    ]);
                    let _ = writeln!(self.prefix, "set {opt};");
                }
            }
        }
    }

    /// A KQL type for a value.
    pub(crate) fn scalar_type(&mut self) -> KqlType {
        const ORDER: [KqlType; 10] = [
            KqlType::Long,
            KqlType::String,
            KqlType::Bool,
            KqlType::Real,
            KqlType::DateTime,
            KqlType::TimeSpan,
            KqlType::Dynamic,
            KqlType::Int,
            KqlType::Decimal,
            KqlType::Guid,
        ];
        ORDER[self.pick(ORDER.len())]
    }

    /// A source and operators; returns the text and the columns the planner gave it
    /// (empty when it does not plan).
    pub(crate) fn pipeline(&mut self) -> (String, Schema) {
        self.depth += 1;
        let mut text = self.source();
        let mut schema = self.schema_of(&text).unwrap_or_default();
        let ops = if self.depth > MAX_DEPTH {
            0
        } else {
            self.pick(MAX_OPS + 1)
        };
        for _ in 0..ops {
            if schema.is_empty() {
                break;
            }
            let op = self.operator(&schema);
            let next = format!("{text}\n| {op}");
            match self.schema_of(&next) {
                Some(s) => {
                    text = next;
                    schema = s;
                }
                // Keep the failing operator once in a while: its error is a test too.
                None if self.chance(1, 8) => {
                    text = next;
                    schema = Vec::new();
                }
                None => {}
            }
        }
        self.depth -= 1;
        (text, schema)
    }

    /// A tabular source.
    fn source(&mut self) -> String {
        match self.pick(12) {
            0 | 1 => "T".to_string(),
            2 => "U".to_string(),
            3 => {
                let n = 1 + self.pick(3);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let t = self.scalar_type();
                        let name = self.fresh("p");
                        format!("{name} = {}", self.expr(t, &Vec::new()))
                    })
                    .collect();
                format!("print {}", items.join(", "))
            }
            4 => self.range(),
            5 => self.datatable(),
            6 if !self.tabulars.is_empty() => {
                let i = self.pick(self.tabulars.len());
                self.tabulars[i].clone()
            }
            7 if self.depth <= MAX_DEPTH => {
                let (a, _) = self.pipeline();
                let kind = self.one(&["", "kind=inner ", "kind=outer ", "withsource=src "]);
                let b = self.one(TABLES);
                format!("union {kind}({a}), {b}")
            }
            8 if self.depth <= MAX_DEPTH => {
                let (p, _) = self.pipeline();
                format!("({p})")
            }
            9 => {
                let t = self.one(TABLES);
                let via = self.one(&[
                    "database(\"NetDefaultDB\").",
                    "cluster(\"localhost\").database(\"NetDefaultDB\").",
                    "database(\"nope\").",
                ]);
                format!("{via}{t}")
            }
            10 => "T | where false".to_string(),
            _ => "union T, U".to_string(),
        }
    }

    fn range(&mut self) -> String {
        let c = self.fresh("r");
        match self.pick(4) {
            0 => {
                let to = self.int(0, 20);
                format!("range {c} from 1 to {to} step 1")
            }
            1 => {
                let from = self.int(-1000, 1000);
                let to = self.int(-1000, 1000);
                let step = self.one(&["1", "-1", "7", "0", "100", "2.5"]);
                format!("range {c} from {from} to {to} step {step}")
            }
            2 => {
                let step = self.one(&["1d", "1h", "7d", "-1d", "0s", "365d"]);
                format!("range {c} from datetime(2020-01-01) to datetime(2020-03-01) step {step}")
            }
            _ => {
                let from = self.expr(KqlType::Long, &Vec::new());
                let to = self.expr(KqlType::Long, &Vec::new());
                format!("range {c} from {from} to {from} + min_of({to}, 50) step 1")
            }
        }
    }

    fn datatable(&mut self) -> String {
        let n = 1 + self.pick(3);
        let cols: Vec<(String, KqlType)> = (0..n)
            .map(|_| (self.fresh("c"), self.scalar_type()))
            .collect();
        let rows = self.pick(4);
        let mut values = Vec::new();
        for _ in 0..rows {
            for (_, t) in &cols {
                values.push(self.literal(*t));
            }
        }
        let decl: Vec<String> = cols
            .iter()
            .map(|(c, t)| format!("{c}: {}", t.name()))
            .collect();
        format!("datatable({}) [{}]", decl.join(", "), values.join(", "))
    }

    /// A column of the row (any when `t` is `None`), if there is one.
    pub(crate) fn column(&mut self, row: &Schema, t: Option<KqlType>) -> Option<String> {
        let candidates: Vec<&String> = row
            .iter()
            .filter(|(_, ct)| t.is_none_or(|t| *ct == t))
            .map(|(n, _)| n)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let i = self.pick(candidates.len());
        Some(ident(candidates[i]))
    }

    fn any_column(&mut self, row: &Schema) -> String {
        self.column(row, None).unwrap_or_else(|| "x".to_string())
    }

    /// A count for `take`, `top`, `sample`: mostly small, sometimes an edge value.
    fn count(&mut self) -> String {
        match self.pick(6) {
            0..=2 => self.int(0, 10).to_string(),
            3 => self
                .one(&["0", "1", "9223372036854775807", "-1", "int(2147483647)"])
                .to_string(),
            4 => "toscalar(T | count)".to_string(),
            _ => self.expr(KqlType::Long, &Vec::new()),
        }
    }

    /// A sort key over the row.
    fn sort_key(&mut self, row: &Schema) -> String {
        let key = if self.chance(3, 4) {
            self.any_column(row)
        } else {
            let t = self.scalar_type();
            self.expr(t, row)
        };
        let dir = self.one(&["", " asc", " desc"]);
        let nulls = self.one(&["", "", " nulls first", " nulls last"]);
        format!("{key}{dir}{nulls}")
    }

    /// One tabular operator over `row`.
    fn operator(&mut self, row: &Schema) -> String {
        match self.pick(30) {
            0..=2 => format!("where {}", self.expr(KqlType::Bool, row)),
            3..=5 => {
                let n = 1 + self.pick(3);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let t = self.scalar_type();
                        let e = self.expr(t, row);
                        match self.pick(3) {
                            0 => format!("{} = {e}", self.fresh("e")),
                            1 => format!("{} = {e}", self.any_column(row)),
                            _ => e,
                        }
                    })
                    .collect();
                format!("extend {}", items.join(", "))
            }
            6 | 7 => {
                let n = 1 + self.pick(4);
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        if self.chance(2, 3) {
                            self.any_column(row)
                        } else {
                            let t = self.scalar_type();
                            format!("{} = {}", self.fresh("q"), self.expr(t, row))
                        }
                    })
                    .collect();
                format!("project {}", items.join(", "))
            }
            8 => {
                let c = self.any_column(row);
                let op = self.one(&["project-away", "project-keep", "project-reorder"]);
                let wild = self.one(&["", "*"]);
                format!("{op} {c}{wild}")
            }
            9 => format!(
                "project-rename {} = {}",
                self.fresh("n"),
                self.any_column(row)
            ),
            10..=12 => self.summarize(row),
            13 => "count".to_string(),
            14 => format!("{} {}", self.one(&["take", "limit"]), self.count()),
            15 | 16 => {
                let n = 1 + self.pick(2);
                let keys: Vec<String> = (0..n).map(|_| self.sort_key(row)).collect();
                format!("{} by {}", self.one(&["sort", "order"]), keys.join(", "))
            }
            17 => format!("top {} by {}", self.count(), self.sort_key(row)),
            18 => {
                if self.chance(1, 4) {
                    "distinct *".to_string()
                } else {
                    format!("distinct {}", self.any_column(row))
                }
            }
            19 | 20 => self.join(row),
            21 => {
                let (p, _) = self.pipeline();
                let kind = self.one(&["", "kind=inner ", "kind=outer ", "withsource=src "]);
                format!("union {kind}({p})")
            }
            22 => self.mv_expand(row),
            23 => self.parse_op(row),
            24 => self.make_series(row),
            25 => {
                let f = self.one(&["row_number()", "row_number(10)", "prev(", "next("]);
                let e = if f.ends_with('(') {
                    format!("{f}{})", self.any_column(row))
                } else {
                    f.to_string()
                };
                format!("serialize | extend {} = {e}", self.fresh("w"))
            }
            26 => self
                .one(&[
                    "getschema",
                    "render timechart",
                    "render table with (title = \"t\")",
                    "as X",
                    "sample 2",
                    "count as n",
                ])
                .to_string(),
            27 => {
                let c = self.any_column(row);
                match self.pick(3) {
                    0 => format!("top-nested 2 of {c} by count()"),
                    1 => format!("sample-distinct 2 of {c}"),
                    _ => format!("top-hitters 2 of {c}"),
                }
            }
            28 => format!(
                "lookup kind={} ({}) on {}",
                self.one(&["leftouter", "inner"]),
                self.one(TABLES),
                self.any_column(row)
            ),
            _ => format!(
                "extend {} = toscalar({} | summarize count())",
                self.fresh("z"),
                self.one(TABLES)
            ),
        }
    }

    fn summarize(&mut self, row: &Schema) -> String {
        let keys = self.pick(3);
        let n = if keys == 0 {
            1 + self.pick(2)
        } else {
            self.pick(3)
        };
        let mut aggs = Vec::new();
        for _ in 0..n {
            let call = self.aggregate(row);
            aggs.push(match self.pick(3) {
                0 => call,
                1 => format!("{} = {call}", self.fresh("a")),
                _ => format!("{} = tostring({call})", self.fresh("a")),
            });
        }
        let mut by = Vec::new();
        for _ in 0..keys {
            by.push(match self.pick(4) {
                0 | 1 => self.any_column(row),
                2 => {
                    let (t, step) = match self.pick(3) {
                        0 => (KqlType::DateTime, "1d"),
                        1 => (KqlType::Long, "10"),
                        _ => (KqlType::Real, "0.5"),
                    };
                    match self.column(row, Some(t)) {
                        Some(c) => format!("{} = bin({c}, {step})", self.fresh("b")),
                        None => self.any_column(row),
                    }
                }
                _ => {
                    let t = self.scalar_type();
                    format!("{} = {}", self.fresh("k"), self.expr(t, row))
                }
            });
        }
        let params = self.one(&["", "", "hint.strategy=shuffle "]);
        let mut s = format!("summarize {params}{}", aggs.join(", "));
        if !by.is_empty() {
            let _ = write!(s, " by {}", by.join(", "));
        }
        s
    }

    /// An aggregate call over the row.
    fn aggregate(&mut self, row: &Schema) -> String {
        let n = self.catalog.aggregates.len();
        if n == 0 || self.chance(1, 5) {
            return "count()".to_string();
        }
        let f = self.catalog.aggregates[self.pick(n)].clone();
        if (f.name == "arg_max" || f.name == "arg_min") && self.chance(1, 2) {
            return format!("{}({}, *)", f.name, self.any_column(row));
        }
        self.call(&f, row)
    }

    fn join(&mut self, row: &Schema) -> String {
        let kind = self.one(&[
            "",
            "kind=inner ",
            "kind=leftouter ",
            "kind=rightouter ",
            "kind=fullouter ",
            "kind=leftsemi ",
            "kind=leftanti ",
            "kind=rightsemi ",
            "kind=rightanti ",
            "kind=innerunique ",
        ]);
        let (right, rschema) = if self.depth <= MAX_DEPTH && self.chance(1, 2) {
            self.pipeline()
        } else {
            let t = self.one(TABLES);
            (t.to_string(), self.schema_of(t).unwrap_or_default())
        };
        // A column both sides have, or `$left.a == $right.b` of one type.
        let common: Vec<&(String, KqlType)> = row
            .iter()
            .filter(|c| rschema.iter().any(|r| r == *c))
            .collect();
        let on = if !common.is_empty() && self.chance(1, 2) {
            let i = self.pick(common.len());
            ident(&common[i].0)
        } else {
            let pairs: Vec<(String, String)> = row
                .iter()
                .flat_map(|(l, lt)| {
                    rschema
                        .iter()
                        .filter(move |(_, rt)| rt == lt)
                        .map(move |(r, _)| (l.clone(), r.clone()))
                })
                .collect();
            if pairs.is_empty() {
                self.any_column(row)
            } else {
                let (l, r) = pairs[self.pick(pairs.len())].clone();
                format!("$left.{} == $right.{}", ident(&l), ident(&r))
            }
        };
        format!("join {kind}({right}) on {on}")
    }

    fn mv_expand(&mut self, row: &Schema) -> String {
        let target = match self.column(row, Some(KqlType::Dynamic)) {
            Some(c) if self.chance(2, 3) => c,
            _ => format!("{} = {}", self.fresh("m"), self.dynamic_array(row)),
        };
        let params = self.one(&["", "with_itemindex=ix ", "bagexpansion=array ", "kind=bag "]);
        let to = self.one(&[
            "",
            " to typeof(long)",
            " to typeof(string)",
            " to typeof(dynamic)",
        ]);
        let limit = self.one(&["", " limit 2"]);
        if self.chance(1, 5) {
            return format!("mv-apply {target}{to} on (take 1)");
        }
        format!("mv-expand {params}{target}{to}{limit}")
    }

    fn parse_op(&mut self, row: &Schema) -> String {
        let src = self
            .column(row, Some(KqlType::String))
            .unwrap_or_else(|| "\"a=1, b=x\"".to_string());
        let (a, b) = (self.fresh("pa"), self.fresh("pb"));
        let pattern = match self.pick(4) {
            0 => format!("\"a=\" {a}:long \", b=\" {b}"),
            1 => format!("* \",\" {a} *"),
            2 => format!("{a}:string \" \" {b}:datetime"),
            _ => format!("\"x\" {a}:real"),
        };
        let head = self.one(&[
            "parse",
            "parse kind=regex",
            "parse kind=relaxed",
            "parse-where",
        ]);
        if self.chance(1, 6) {
            return format!(
                "parse-kv {src} as ({a}: long, {b}: string) with (pair_delimiter=',', kv_delimiter='=')"
            );
        }
        format!("{head} {src} with {pattern}")
    }

    fn make_series(&mut self, row: &Schema) -> String {
        let axis = self
            .column(row, Some(KqlType::DateTime))
            .unwrap_or_else(|| "d".to_string());
        let agg = self.aggregate(row);
        let by = self
            .column(row, Some(KqlType::String))
            .map(|c| format!(" by {c}"))
            .unwrap_or_default();
        format!(
            "make-series {} = {agg} default = 0 on {axis} from datetime(2019-01-01) to datetime(2021-01-01) step 30d{by}",
            self.fresh("ms")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_ends_on_empty_input() {
        let cat = Catalog::default();
        let oracle = |_: &str| Some(vec![("a".to_string(), KqlType::Long)]);
        let mut u = Unstructured::new(&[]);
        let q = query(&mut u, &cat, &oracle);
        assert!(kql_syntax::parse(&q).is_ok(), "{q}");
    }
}
