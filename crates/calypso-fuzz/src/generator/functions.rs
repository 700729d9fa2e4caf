//! The functions the generator calls: the official catalog's signatures
//! (`signatures.txt`), instantiated with concrete argument types and kept when the planner
//! accepts them, with the result type it reports.

use kql_functions::{KqlType, Registry};

use super::Oracle;

/// Functions whose every call is either nondeterministic or needs what a fuzz run cannot
/// give (they are still called, but not by the calibration's literal arguments).
const SKIPPED: &[&str] = &["row_number", "prev", "next"];

/// What one argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// A value of this type.
    Value(KqlType),
    /// A dynamic array.
    Array,
    /// A dynamic property bag.
    Bag,
    /// A type literal `typeof(t)`.
    TypeLit,
}

/// A function with concrete argument kinds and its result type.
#[derive(Debug, Clone)]
pub struct Func {
    /// The KQL name.
    pub name: &'static str,
    /// The arguments, in order.
    pub args: Vec<Arg>,
    /// The type of the result (of the first result column for aggregates).
    pub ret: KqlType,
}

/// One parameter of a catalog signature.
#[derive(Debug, Clone)]
struct Param {
    class: String,
    optional: bool,
    repeat: bool,
}

/// The concrete kinds a catalog type class stands for, most common first.
fn kinds(class: &str) -> Vec<Arg> {
    use KqlType::*;
    let v = |ts: &[KqlType]| ts.iter().map(|t| Arg::Value(*t)).collect::<Vec<_>>();
    match class {
        "bool" => v(&[Bool]),
        "int" => v(&[Int]),
        "long" => v(&[Long]),
        "real" => v(&[Real]),
        "decimal" => v(&[Decimal]),
        "string" => v(&[String]),
        "datetime" => v(&[DateTime]),
        "timespan" => v(&[TimeSpan]),
        "guid" => v(&[Guid]),
        "integer" => v(&[Long, Int]),
        "number" => v(&[Long, Real, Int, Decimal]),
        "summable" => v(&[Long, Real, TimeSpan, Int, Decimal]),
        "orderable" | "commonorderable" => v(&[Long, String, DateTime, Real, TimeSpan]),
        "numberorbool" => v(&[Long, Real, Bool]),
        "dynamicarray" => vec![Arg::Array],
        "dynamicbag" => vec![Arg::Bag],
        "dynamic" => vec![Arg::Value(Dynamic), Arg::Array, Arg::Bag],
        "stringordynamic" => vec![Arg::Value(String), Arg::Value(Dynamic)],
        "stringorarray" => vec![Arg::Value(String), Arg::Array],
        "integerorarray" => vec![Arg::Value(Long), Arg::Array],
        "notdynamic" | "notrealorbool" => v(&[Long, String, DateTime, Real, Bool, Guid]),
        "type" => vec![Arg::TypeLit],
        // scalar, commonscalar, commonscalarordynamic, any
        _ => v(&[Long, String, Real, DateTime, TimeSpan, Bool, Dynamic, Guid]),
    }
}

fn parse_params(sig: &str) -> Option<Vec<Param>> {
    let inner = sig.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    for p in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let optional = p.starts_with('[');
        let p = p.trim_start_matches('[').trim_end_matches(']');
        let repeat = p.ends_with("...");
        let p = p.trim_end_matches("...");
        let (_, class) = p.split_once(':')?;
        if class == "tabular" {
            return None;
        }
        out.push(Param {
            class: class.to_string(),
            optional,
            repeat,
        });
    }
    Some(out)
}

/// The argument lists to try for a signature: required parameters only and all of them,
/// each with the first and the second kind of every class.
fn instantiate(params: &[Param]) -> Vec<Vec<Arg>> {
    let mut out: Vec<Vec<Arg>> = Vec::new();
    for with_optional in [false, true] {
        for variant in 0..2 {
            let mut args = Vec::new();
            // A class written more than once in a signature is one common type.
            let mut common: Vec<(&str, Arg)> = Vec::new();
            for p in params {
                if p.optional && !with_optional {
                    continue;
                }
                let ks = kinds(&p.class);
                let k = match common.iter().find(|(c, _)| *c == p.class) {
                    Some((_, k)) => *k,
                    None => {
                        let k = ks[variant.min(ks.len() - 1)];
                        common.push((&p.class, k));
                        k
                    }
                };
                args.push(k);
            }
            // Repeated groups (`key:string..., value:scalar...`) once more.
            let repeated: Vec<Arg> = params
                .iter()
                .zip(args.iter())
                .filter(|(p, _)| p.repeat)
                .map(|(_, a)| *a)
                .collect();
            if !out.contains(&args) {
                out.push(args.clone());
            }
            if !repeated.is_empty() {
                let mut more = args.clone();
                more.extend(repeated);
                if !out.contains(&more) {
                    out.push(more);
                }
            }
        }
    }
    out
}

/// The literal the calibration passes for an argument kind.
pub fn sample_literal(a: Arg) -> &'static str {
    match a {
        Arg::Value(KqlType::Bool) => "true",
        Arg::Value(KqlType::Int) => "int(2)",
        Arg::Value(KqlType::Long) => "2",
        Arg::Value(KqlType::Real) => "2.5",
        Arg::Value(KqlType::Decimal) => "decimal(2.5)",
        Arg::Value(KqlType::String) => "\"a,b\"",
        Arg::Value(KqlType::DateTime) => "datetime(2020-01-02 03:04:05)",
        Arg::Value(KqlType::TimeSpan) => "1h",
        Arg::Value(KqlType::Guid) => "guid(6f3b9a2e-0c1d-4e5f-8a9b-0c1d2e3f4a5b)",
        Arg::Value(KqlType::Dynamic) => "dynamic([1, \"x\"])",
        Arg::Array => "dynamic([1, 2, 3])",
        Arg::Bag => "dynamic({\"a\": 1, \"b\": \"x\"})",
        Arg::TypeLit => "typeof(long)",
    }
}

/// The calibrated functions.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Scalar functions.
    pub scalars: Vec<Func>,
    /// Aggregates.
    pub aggregates: Vec<Func>,
}

impl Catalog {
    /// Reads `signatures.txt` and keeps the instantiations the planner accepts.
    pub fn calibrate(oracle: Oracle<'_>) -> Catalog {
        let registry = Registry::global();
        let mut cat = Catalog::default();
        for line in include_str!("../signatures.txt").lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Some((head, sigs)) = line.split_once('\t') else {
                continue;
            };
            let Some((kind, name)) = head.split_once(' ') else {
                continue;
            };
            let aggregate = kind == "a";
            // The function catalog knows every function the planner plans.
            let known = registry
                .function(name)
                .is_some_and(|f| f.is_aggregate() == aggregate && !f.is_internal());
            if !known || SKIPPED.contains(&name) {
                continue;
            }
            let name: &'static str = Box::leak(name.to_string().into_boxed_str());
            for sig in sigs.split(" ; ") {
                let Some(params) = parse_params(sig) else {
                    continue;
                };
                for args in instantiate(&params) {
                    let call = format!(
                        "{name}({})",
                        args.iter()
                            .map(|a| sample_literal(*a))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let text = if aggregate {
                        format!("print a = 1 | summarize x = {call}")
                    } else {
                        format!("print x = {call}")
                    };
                    let Some(cols) = oracle(&text) else {
                        continue;
                    };
                    let Some((_, ret)) = cols.first() else {
                        continue;
                    };
                    let f = Func {
                        name,
                        args,
                        ret: *ret,
                    };
                    if aggregate {
                        cat.aggregates.push(f);
                    } else {
                        cat.scalars.push(f);
                    }
                }
            }
        }
        cat
    }

    /// The scalar functions returning `t`.
    pub fn returning(&self, t: KqlType) -> impl Iterator<Item = &Func> {
        self.scalars.iter().filter(move |f| f.ret == t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_parse() {
        let p = parse_params("(key:string..., value:scalar..., [x:long])").unwrap_or_default();
        assert_eq!(p.len(), 3);
        assert!(p[0].repeat && p[1].repeat && p[2].optional);
        let v = instantiate(&p);
        assert!(v.iter().any(|a| a.len() == 2));
        assert!(v.iter().any(|a| a.len() == 5));
    }
}
