//! Prints the AST as KQL text. `parse(print(ast)) == ast` for every AST the parser makes.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;

const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "by",
    "on",
    "with",
    "in",
    "between",
    "asc",
    "desc",
    "true",
    "false",
    "null",
    "let",
    "set",
    "declare",
    "from",
    "to",
    "step",
    "of",
    "nulls",
    "first",
    "last",
    "as",
    "kind",
    "where",
    "project",
    "extend",
    "summarize",
    "print",
    "range",
    "datatable",
    "union",
    "search",
    "find",
    "evaluate",
    "has",
    "contains",
    "startswith",
    "endswith",
    "hasprefix",
    "hassuffix",
    "matches",
    "like",
    "not",
    "dynamic",
    "typeof",
    "default",
    "limit",
    "view",
    "alias",
    "restrict",
    "externaldata",
    "has_any",
    "has_all",
];

/// Writes an identifier, quoting it as `['name']` when it is not a plain identifier.
pub fn write_ident(f: &mut dyn Write, name: &str) -> fmt::Result {
    let mut chars = name.chars();
    let simple = match chars.next() {
        Some(c) if c == '_' || c == '$' || c.is_alphabetic() => {
            chars.all(|c| c == '_' || c.is_alphanumeric())
        }
        _ => false,
    };
    if simple && !KEYWORDS.contains(&name) && !name.contains('$')
        || name == "$left"
        || name == "$right"
    {
        f.write_str(name)
    } else {
        f.write_str("['")?;
        for c in name.chars() {
            match c {
                '\'' => f.write_str("\\'")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        f.write_str("']")
    }
}

/// Writes a string literal with escapes.
pub fn write_string(f: &mut dyn Write, value: &str, obfuscated: bool) -> fmt::Result {
    if obfuscated {
        f.write_char('h')?;
    }
    f.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

struct Id<'a>(&'a str);
impl Display for Id<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_ident(f, self.0)
    }
}

fn list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    mut each: impl FnMut(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, it)?;
    }
    Ok(())
}

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, s) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str(";\n")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StatementKind::Let { name, value } => {
                write!(f, "let {} = ", Id(&name.name))?;
                match value {
                    LetValue::Expr(e) => write!(f, "{e}"),
                    LetValue::Function(l) => write!(f, "{l}"),
                    LetValue::View(l) => write!(f, "view {l}"),
                }
            }
            StatementKind::DeclareQueryParameters(params) => {
                f.write_str("declare query_parameters(")?;
                list(f, params, |f, p| write!(f, "{p}"))?;
                f.write_str(")")
            }
            StatementKind::Set { name, value } => {
                write!(f, "set {name}")?;
                if let Some(v) = value {
                    write!(f, " = {v}")?;
                }
                Ok(())
            }
            StatementKind::Alias { name, target } => {
                write!(f, "alias database {} = {target}", Id(&name.name))
            }
            StatementKind::Restrict(items) => {
                f.write_str("restrict access to (")?;
                list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            StatementKind::Expr(e) => write!(f, "{e}"),
            StatementKind::Command(c) => write!(f, "{c}"),
        }
    }
}

impl Display for Lambda {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        list(f, &self.params, |f, p| write!(f, "{p}"))?;
        f.write_str(") { ")?;
        for (i, s) in self.body.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{s}")?;
        }
        f.write_str(" }")
    }
}

impl Display for Param {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", Id(&self.name.name))?;
        match &self.ty {
            ParamType::Scalar(t) => f.write_str(&t.name)?,
            ParamType::Tabular { columns, any } => {
                f.write_str("(")?;
                list(f, columns, |f, c| write!(f, "{c}"))?;
                if *any {
                    if !columns.is_empty() {
                        f.write_str(", ")?;
                    }
                    f.write_str("*")?;
                }
                f.write_str(")")?;
            }
        }
        if let Some(d) = &self.default {
            write!(f, " = {d}")?;
        }
        Ok(())
    }
}

impl Display for ColumnDecl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", Id(&self.name.name), self.ty.name)
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Long(s) | Literal::Real(s) | Literal::TimeSpan(s) => f.write_str(s),
            Literal::String { value, obfuscated } => write_string(f, value, *obfuscated),
            Literal::TypedRaw { ty, raw } => write!(f, "{ty}({raw})"),
            Literal::Typed { ty, value } => write!(f, "{ty}({value})"),
            Literal::Dynamic(d) => write!(f, "dynamic({d})"),
            Literal::Null => f.write_str("null"),
        }
    }
}

impl Display for Dynamic {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Dynamic::Null => f.write_str("null"),
            Dynamic::Scalar(l) => write!(f, "{l}"),
            Dynamic::Neg(d) => write!(f, "-{d}"),
            Dynamic::Array(items) => {
                f.write_str("[")?;
                list(f, items, |f, d| write!(f, "{d}"))?;
                f.write_str("]")
            }
            Dynamic::Object(items) => {
                f.write_str("{")?;
                list(f, items, |f, (k, v)| {
                    write_string(f, k, false)?;
                    write!(f, ": {v}")
                })?;
                f.write_str("}")
            }
        }
    }
}

fn is_implicit_input(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Source(op) if matches!(&op.kind, OperatorKind::Raw { name, .. } if name == "__implicit_input"))
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Literal(l) => write!(f, "{l}"),
            ExprKind::Name(id) => write_ident(f, &id.name),
            ExprKind::Star => f.write_str("*"),
            ExprKind::Paren(e) => write!(f, "({e})"),
            ExprKind::Unary { op, expr } => {
                let o = match op {
                    UnaryOp::Neg => "-",
                    UnaryOp::Plus => "+",
                };
                write!(f, "{o}{expr}")
            }
            ExprKind::Binary { op, left, right } => write!(f, "{left} {} {right}", op.as_str()),
            ExprKind::List { op, expr, items } => {
                write!(f, "{expr} {} (", op.as_str())?;
                list(f, items, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            ExprKind::Between {
                negated,
                expr,
                low,
                high,
            } => {
                let kw = if *negated { "!between" } else { "between" };
                write!(f, "{expr} {kw} ({low} .. {high})")
            }
            ExprKind::Call { name, args } if name.name == "entity_group" => {
                f.write_str("entity_group [")?;
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_str("]")
            }
            ExprKind::Call { name, args } if name.name == SEARCH_COLUMN && args.len() == 2 => {
                write!(f, "{}:{}", args[0], args[1])
            }
            ExprKind::Call { name, args } => {
                write_ident(f, &name.name)?;
                f.write_str("(")?;
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            ExprKind::NamedArg { name, value } => write!(f, "{} = {value}", name.name),
            ExprKind::Member { expr, name } => {
                write!(f, "{expr}{}{}", dot_after(expr), Id(&name.name))
            }
            ExprKind::Index { expr, index } => write!(f, "{expr}[{index}]"),
            ExprKind::MethodCall { expr, name, args } => {
                write!(f, "{expr}{}{}(", dot_after(expr), Id(&name.name))?;
                list(f, args, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            ExprKind::Pipe { input, op } => {
                if is_implicit_input(input) {
                    write!(f, "{op}")
                } else {
                    write!(f, "{input}\n| {op}")
                }
            }
            ExprKind::Source(op) => write!(f, "{op}"),
            ExprKind::TypeOf {
                columns,
                star,
                scalar,
            } => {
                f.write_str("typeof(")?;
                if let Some(s) = scalar {
                    f.write_str(&s.name)?;
                } else {
                    if *star {
                        f.write_str("*")?;
                        if !columns.is_empty() {
                            f.write_str(", ")?;
                        }
                    }
                    list(f, columns, |f, c| write!(f, "{c}"))?;
                }
                f.write_str(")")
            }
        }
    }
}

impl Display for NamedExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.paren_names {
            f.write_str("(")?;
            list(f, &self.names, |f, n| write_ident(f, &n.name))?;
            f.write_str(") = ")?;
        } else if let Some(n) = self.names.first() {
            write!(f, "{} = ", Id(&n.name))?;
        }
        write!(f, "{}", self.expr)
    }
}

impl Display for SortKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)?;
        match self.asc {
            Some(true) => f.write_str(" asc")?,
            Some(false) => f.write_str(" desc")?,
            None => {}
        }
        match self.nulls_first {
            Some(true) => f.write_str(" nulls first")?,
            Some(false) => f.write_str(" nulls last")?,
            None => {}
        }
        Ok(())
    }
}

fn params(f: &mut Formatter<'_>, ps: &[OpParam]) -> fmt::Result {
    for p in ps {
        write!(f, " {}={}", p.name, p.value)?;
    }
    Ok(())
}

fn paren_params(f: &mut Formatter<'_>, ps: &[OpParam]) -> fmt::Result {
    f.write_str("(")?;
    list(f, ps, |f, p| write!(f, "{}={}", p.name, p.value))?;
    f.write_str(")")
}

fn patterns(f: &mut Formatter<'_>, ids: &[Ident]) -> fmt::Result {
    list(f, ids, |f, id| write_pattern(f, &id.name))
}

/// Writes a name with `*` wildcards as the parser reads one (`prefix*`, `['a b']*`): a first
/// piece, quoted if need be, then `*`s and plain words written adjacent to it; any other
/// name is quoted whole (`['x*y z']`), which the parser reads back as the same name.
fn write_pattern(f: &mut dyn Write, name: &str) -> fmt::Result {
    let Some(star) = name.find('*') else {
        return write_ident(f, name);
    };
    let (first, rest) = name.split_at(star);
    let plain_word = |w: &str| {
        let mut cs = w.chars();
        w.is_empty()
            || cs.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && cs.all(|c| c == '_' || c.is_alphanumeric())
    };
    if !rest.split('*').all(plain_word) {
        return write_ident(f, name);
    }
    if !first.is_empty() {
        write_ident(f, first)?;
    }
    f.write_str(rest)
}

/// A table of `union`, `search in (...)`, `find in (...)`: a name may have wildcards.
fn table(f: &mut Formatter<'_>, e: &Expr) -> fmt::Result {
    match &e.kind {
        ExprKind::Name(id) => write_pattern(f, &id.name),
        _ => write!(f, "{e}"),
    }
}

/// The `.` of a member access after `expr`: ` .` after a number, which `2.` would make a
/// real literal of.
fn dot_after(expr: &Expr) -> &'static str {
    match &expr.kind {
        ExprKind::Literal(Literal::Long(_) | Literal::Real(_)) => " .",
        _ => ".",
    }
}

fn mv_items(f: &mut Formatter<'_>, items: &[MvExpandItem]) -> fmt::Result {
    list(f, items, |f, it| {
        write!(f, "{}", it.item)?;
        if let Some(t) = &it.to_type {
            write!(f, " to typeof({})", t.name)?;
        }
        Ok(())
    })
}

impl Display for Operator {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            OperatorKind::Where { filter, predicate } => {
                write!(
                    f,
                    "{} {predicate}",
                    if *filter { "filter" } else { "where" }
                )
            }
            OperatorKind::Project(items) => {
                f.write_str("project ")?;
                list(f, items, |f, i| write!(f, "{i}"))
            }
            OperatorKind::ProjectAway(ids) => {
                f.write_str("project-away ")?;
                patterns(f, ids)
            }
            OperatorKind::ProjectKeep(ids) => {
                f.write_str("project-keep ")?;
                patterns(f, ids)
            }
            OperatorKind::ProjectRename(pairs) => {
                f.write_str("project-rename ")?;
                list(f, pairs, |f, (a, b)| {
                    write!(f, "{} = {}", Id(&a.name), Id(&b.name))
                })
            }
            OperatorKind::ProjectReorder(items) => {
                f.write_str("project-reorder ")?;
                list(f, items, |f, (c, dir)| {
                    patterns(f, std::slice::from_ref(c))?;
                    match dir {
                        Some(d) => write!(f, " {d}"),
                        None => Ok(()),
                    }
                })
            }
            OperatorKind::Extend(items) => {
                f.write_str("extend ")?;
                list(f, items, |f, i| write!(f, "{i}"))
            }
            OperatorKind::Summarize {
                params: ps,
                aggs,
                by,
            } => {
                f.write_str("summarize")?;
                params(f, ps)?;
                if !aggs.is_empty() {
                    f.write_str(" ")?;
                    list(f, aggs, |f, i| write!(f, "{i}"))?;
                }
                if !by.is_empty() {
                    f.write_str(" by ")?;
                    list(f, by, |f, i| write!(f, "{i}"))?;
                }
                Ok(())
            }
            OperatorKind::Count(alias) => {
                f.write_str("count")?;
                if let Some(a) = alias {
                    write!(f, " as {}", Id(&a.name))?;
                }
                Ok(())
            }
            OperatorKind::Take { limit, count } => {
                write!(f, "{} {count}", if *limit { "limit" } else { "take" })
            }
            OperatorKind::Sort {
                order,
                params: ps,
                keys,
            } => {
                f.write_str(if *order { "order" } else { "sort" })?;
                params(f, ps)?;
                f.write_str(" by ")?;
                list(f, keys, |f, k| write!(f, "{k}"))
            }
            OperatorKind::Top { count, key } => write!(f, "top {count} by {key}"),
            OperatorKind::Distinct(items) => {
                f.write_str("distinct ")?;
                list(f, items, |f, e| write!(f, "{e}"))
            }
            OperatorKind::Union { params: ps, tables } => {
                f.write_str("union")?;
                params(f, ps)?;
                f.write_str(" ")?;
                list(f, tables, table)
            }
            OperatorKind::Join {
                params: ps,
                right,
                on,
            } => {
                f.write_str("join")?;
                params(f, ps)?;
                write!(f, " {right} on ")?;
                list(f, on, |f, e| write!(f, "{e}"))
            }
            OperatorKind::Lookup {
                params: ps,
                right,
                on,
            } => {
                f.write_str("lookup")?;
                params(f, ps)?;
                write!(f, " {right} on ")?;
                list(f, on, |f, e| write!(f, "{e}"))
            }
            OperatorKind::As { params: ps, name } => {
                f.write_str("as")?;
                params(f, ps)?;
                write!(f, " {}", Id(&name.name))
            }
            OperatorKind::GetSchema => f.write_str("getschema"),
            OperatorKind::Serialize(items) => {
                f.write_str("serialize")?;
                if !items.is_empty() {
                    f.write_str(" ")?;
                    list(f, items, |f, i| write!(f, "{i}"))?;
                }
                Ok(())
            }
            OperatorKind::Render { chart, props, with } => {
                write!(f, "render {}", Id(&chart.name))?;
                if *with {
                    f.write_str(" with ")?;
                    paren_params(f, props)
                } else {
                    params(f, props)
                }
            }
            OperatorKind::Print(items) => {
                f.write_str("print")?;
                if !items.is_empty() {
                    f.write_str(" ")?;
                    list(f, items, |f, i| write!(f, "{i}"))?;
                }
                Ok(())
            }
            OperatorKind::Range {
                column,
                from,
                to,
                step,
            } => write!(
                f,
                "range {} from {from} to {to} step {step}",
                Id(&column.name)
            ),
            OperatorKind::Datatable { columns, values } => {
                f.write_str("datatable(")?;
                list(f, columns, |f, c| write!(f, "{c}"))?;
                f.write_str(") [")?;
                list(f, values, |f, v| write!(f, "{v}"))?;
                f.write_str("]")
            }
            OperatorKind::MvExpand {
                params: ps,
                items,
                limit,
            } => {
                f.write_str("mv-expand")?;
                params(f, ps)?;
                f.write_str(" ")?;
                mv_items(f, items)?;
                if let Some(l) = limit {
                    write!(f, " limit {l}")?;
                }
                Ok(())
            }
            OperatorKind::MvApply {
                params: ps,
                items,
                limit,
                subquery,
            } => {
                f.write_str("mv-apply")?;
                params(f, ps)?;
                f.write_str(" ")?;
                mv_items(f, items)?;
                if let Some(l) = limit {
                    write!(f, " limit {l}")?;
                }
                write!(f, " on {subquery}")
            }
            OperatorKind::Parse {
                filter,
                params: ps,
                expr,
                pattern,
            } => {
                f.write_str(if *filter { "parse-where" } else { "parse" })?;
                params(f, ps)?;
                write!(f, " {expr} with")?;
                for part in pattern {
                    f.write_str(" ")?;
                    match part {
                        ParsePart::Text(t) => write_string(f, t, false)?,
                        ParsePart::Star => f.write_str("*")?,
                        ParsePart::Column { name, ty } => {
                            write_ident(f, &name.name)?;
                            if let Some(t) = ty {
                                write!(f, ":{}", t.name)?;
                            }
                        }
                    }
                }
                Ok(())
            }
            OperatorKind::ParseKv {
                expr,
                columns,
                with,
            } => {
                write!(f, "parse-kv {expr} as (")?;
                list(f, columns, |f, c| write!(f, "{c}"))?;
                f.write_str(")")?;
                if !with.is_empty() {
                    f.write_str(" with ")?;
                    paren_params(f, with)?;
                }
                Ok(())
            }
            OperatorKind::MakeSeries {
                params: ps,
                aggs,
                on,
                range,
                by,
            } => {
                f.write_str("make-series")?;
                params(f, ps)?;
                f.write_str(" ")?;
                list(f, aggs, |f, (a, d)| {
                    write!(f, "{a}")?;
                    if let Some(d) = d {
                        write!(f, " default = {d}")?;
                    }
                    Ok(())
                })?;
                write!(f, " on {on}")?;
                match range {
                    MakeSeriesRange::FromTo { from, to, step } => {
                        if let Some(x) = from {
                            write!(f, " from {x}")?;
                        }
                        if let Some(x) = to {
                            write!(f, " to {x}")?;
                        }
                        write!(f, " step {step}")?;
                    }
                    MakeSeriesRange::InRange(args) => {
                        f.write_str(" in range(")?;
                        list(f, args, |f, e| write!(f, "{e}"))?;
                        f.write_str(")")?;
                    }
                }
                if !by.is_empty() {
                    f.write_str(" by ")?;
                    list(f, by, |f, i| write!(f, "{i}"))?;
                }
                Ok(())
            }
            OperatorKind::TopNested(clauses) => list(f, clauses, |f, c| {
                f.write_str("top-nested")?;
                if let Some(n) = &c.count {
                    write!(f, " {n}")?;
                }
                write!(f, " of {}", c.of)?;
                if let Some(o) = &c.others {
                    write!(f, " with others = {o}")?;
                }
                write!(f, " by {}", c.by)?;
                match c.asc {
                    Some(true) => f.write_str(" asc"),
                    Some(false) => f.write_str(" desc"),
                    None => Ok(()),
                }
            }),
            OperatorKind::TopHitters { count, of, by } => {
                write!(f, "top-hitters {count} of {of}")?;
                if let Some(b) = by {
                    write!(f, " by {b}")?;
                }
                Ok(())
            }
            OperatorKind::Sample(n) => write!(f, "sample {n}"),
            OperatorKind::SampleDistinct { count, of } => {
                write!(f, "sample-distinct {count} of {of}")
            }
            OperatorKind::Search {
                params: ps,
                tables,
                predicate,
            } => {
                f.write_str("search")?;
                params(f, ps)?;
                if !tables.is_empty() {
                    f.write_str(" in (")?;
                    list(f, tables, table)?;
                    f.write_str(")")?;
                }
                write!(f, " {predicate}")
            }
            OperatorKind::Find {
                params: ps,
                tables,
                predicate,
                project,
            } => {
                f.write_str("find")?;
                params(f, ps)?;
                if !tables.is_empty() {
                    f.write_str(" in (")?;
                    list(f, tables, table)?;
                    f.write_str(")")?;
                }
                write!(f, " where {predicate}")?;
                if let Some(cols) = project {
                    f.write_str(" project")?;
                    if !cols.is_empty() {
                        f.write_str(" ")?;
                        list(f, cols, |f, e| write!(f, "{e}"))?;
                    }
                }
                Ok(())
            }
            OperatorKind::Evaluate {
                params: ps,
                call,
                schema,
            } => {
                f.write_str("evaluate")?;
                params(f, ps)?;
                write!(f, " {call}")?;
                if let Some((star, cols)) = schema {
                    f.write_str(" : (")?;
                    let mut first = true;
                    if *star {
                        f.write_str("*")?;
                        first = false;
                    }
                    for c in cols {
                        if !first {
                            f.write_str(", ")?;
                        }
                        first = false;
                        write!(f, "{}: {}", c.name.name, c.ty.name)?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            OperatorKind::Invoke(call) => write!(f, "invoke {call}"),
            OperatorKind::Fork(branches) => {
                f.write_str("fork")?;
                for (name, q) in branches {
                    f.write_str(" ")?;
                    if let Some(n) = name {
                        write!(f, "{} = ", Id(&n.name))?;
                    }
                    write!(f, "{q}")?;
                }
                Ok(())
            }
            OperatorKind::Facet { by, with } => {
                f.write_str("facet by ")?;
                list(f, by, |f, i| write_ident(f, &i.name))?;
                if let Some(w) = with {
                    write!(f, " with {w}")?;
                }
                Ok(())
            }
            OperatorKind::Partition {
                params: ps,
                by,
                subquery,
            } => {
                f.write_str("partition")?;
                params(f, ps)?;
                write!(f, " by {} {subquery}", Id(&by.name))
            }
            OperatorKind::Reduce { by, with } => {
                write!(f, "reduce by {by}")?;
                if !with.is_empty() {
                    f.write_str(" with")?;
                    list(f, with, |f, p| write!(f, " {}={}", p.name, p.value))?;
                }
                Ok(())
            }
            OperatorKind::Consume(ps) => {
                f.write_str("consume")?;
                params(f, ps)
            }
            OperatorKind::ExternalData {
                columns,
                urls,
                with,
            } => {
                f.write_str("externaldata(")?;
                list(f, columns, |f, c| write!(f, "{c}"))?;
                f.write_str(") [")?;
                list(f, urls, |f, e| write!(f, "{e}"))?;
                f.write_str("]")?;
                if !with.is_empty() {
                    f.write_str(" with ")?;
                    paren_params(f, with)?;
                }
                Ok(())
            }
            OperatorKind::AssertSchema(cols) => {
                f.write_str("assert-schema (")?;
                list(f, cols, |f, c| write!(f, "{c}"))?;
                f.write_str(")")
            }
            OperatorKind::Raw { name, text } => {
                if name == "__implicit_input" {
                    return Ok(());
                }
                write!(f, "{name}")?;
                if !text.is_empty() {
                    write!(f, " {text}")?;
                }
                Ok(())
            }
        }
    }
}

impl Display for Command {
    /// The command as written, then its piped operators printed canonically.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        for op in &self.pipe {
            write!(f, " | {op}")?;
        }
        Ok(())
    }
}
