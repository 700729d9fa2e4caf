//! The KQL abstract syntax tree. Every node carries the [`Span`] it was parsed from.
//!
//! Spans are ignored by equality (`PartialEq`), so `parse(print(ast)) == ast` compares
//! structure only.

use crate::span::Span;

/// A span that compares equal to every other span, so AST equality is structural.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeSpan(pub Span);

impl PartialEq for NodeSpan {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// An identifier: a column, table, function or parameter name.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name, unquoted.
    pub name: String,
    /// Where it was written.
    pub span: NodeSpan,
}

impl Ident {
    /// An identifier at `span`.
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident {
            name: name.into(),
            span: NodeSpan(span),
        }
    }
}

/// A whole query text: statements separated by `;`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The statements in order.
    pub statements: Vec<Statement>,
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What kind.
    pub kind: StatementKind,
    /// Where.
    pub span: NodeSpan,
}

/// The statement kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `let name = value`.
    Let {
        /// Bound name.
        name: Ident,
        /// Bound value.
        value: LetValue,
    },
    /// `declare query_parameters(name:type [= default], ...)`.
    DeclareQueryParameters(Vec<Param>),
    /// `set name [= value]`.
    Set {
        /// Option name (may contain dots).
        name: String,
        /// Value (a literal or identifier), when given.
        value: Option<Expr>,
    },
    /// `alias database name = cluster(...).database(...)`; parsed, not executed.
    Alias {
        /// Alias name.
        name: Ident,
        /// Target expression.
        target: Expr,
    },
    /// `restrict access to (...)`; parsed, not executed.
    Restrict(Vec<Expr>),
    /// A tabular or scalar expression whose value is a result (a "tabular expression statement").
    Expr(Expr),
    /// A control (dot) command.
    Command(Command),
}

/// The right side of a `let`.
#[derive(Debug, Clone, PartialEq)]
pub enum LetValue {
    /// A scalar or tabular expression.
    Expr(Expr),
    /// A function: `(params) { body }`.
    Function(Lambda),
    /// `view (params) { body }`.
    View(Lambda),
}

/// A user-defined function's parameters and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    /// Parameters.
    pub params: Vec<Param>,
    /// Body statements (`let`s) followed by the result expression.
    pub body: Vec<Statement>,
}

/// A declared parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name.
    pub name: Ident,
    /// Type.
    pub ty: ParamType,
    /// Default value.
    pub default: Option<Expr>,
}

/// The type of a parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// A scalar type name (`long`, `string`, ...), lower case as written.
    Scalar(Ident),
    /// A tabular parameter: `(a:long, b:string)`, with `*` allowing any other columns.
    Tabular {
        /// Required columns.
        columns: Vec<ColumnDecl>,
        /// `*` was given.
        any: bool,
    },
}

/// `name:type` in datatable, parse patterns, tabular parameters and commands.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDecl {
    /// Column name.
    pub name: Ident,
    /// Type name as written.
    pub ty: Ident,
}

/// The internal function a `search` predicate's `Column:"term"` is parsed as:
/// `__search_column(Column, "term")` (printed back as `Column:"term"`).
pub const SEARCH_COLUMN: &str = "__search_column";

/// An expression (scalar or tabular).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What kind.
    pub kind: ExprKind,
    /// Where.
    pub span: NodeSpan,
}

impl Expr {
    /// An expression node.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr {
            kind,
            span: NodeSpan(span),
        }
    }

    /// The source span.
    pub fn span(&self) -> Span {
        self.span.0
    }
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`.
    Neg,
    /// `+x`.
    Plus,
}

/// Binary operators, from arithmetic to string predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    EqTilde,
    NotTilde,
    Has,
    NotHas,
    HasCs,
    NotHasCs,
    HasPrefix,
    NotHasPrefix,
    HasPrefixCs,
    NotHasPrefixCs,
    HasSuffix,
    NotHasSuffix,
    HasSuffixCs,
    NotHasSuffixCs,
    Contains,
    NotContains,
    ContainsCs,
    NotContainsCs,
    StartsWith,
    NotStartsWith,
    StartsWithCs,
    NotStartsWithCs,
    EndsWith,
    NotEndsWith,
    EndsWithCs,
    NotEndsWithCs,
    MatchesRegex,
    Like,
    NotLike,
}

impl BinaryOp {
    /// The operator as written in KQL.
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Eq => "==",
            NotEq => "!=",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            And => "and",
            Or => "or",
            EqTilde => "=~",
            NotTilde => "!~",
            Has => "has",
            NotHas => "!has",
            HasCs => "has_cs",
            NotHasCs => "!has_cs",
            HasPrefix => "hasprefix",
            NotHasPrefix => "!hasprefix",
            HasPrefixCs => "hasprefix_cs",
            NotHasPrefixCs => "!hasprefix_cs",
            HasSuffix => "hassuffix",
            NotHasSuffix => "!hassuffix",
            HasSuffixCs => "hassuffix_cs",
            NotHasSuffixCs => "!hassuffix_cs",
            Contains => "contains",
            NotContains => "!contains",
            ContainsCs => "contains_cs",
            NotContainsCs => "!contains_cs",
            StartsWith => "startswith",
            NotStartsWith => "!startswith",
            StartsWithCs => "startswith_cs",
            NotStartsWithCs => "!startswith_cs",
            EndsWith => "endswith",
            NotEndsWith => "!endswith",
            EndsWithCs => "endswith_cs",
            NotEndsWithCs => "!endswith_cs",
            MatchesRegex => "matches regex",
            Like => "like",
            NotLike => "notlike",
        }
    }

    /// The string operators, by their KQL word (without `!`), for the parser.
    pub fn from_word(word: &str, negated: bool) -> Option<BinaryOp> {
        use BinaryOp::*;
        let op = match (word, negated) {
            ("has", false) => Has,
            ("has", true) => NotHas,
            ("has_cs", false) => HasCs,
            ("has_cs", true) => NotHasCs,
            ("hasprefix", false) => HasPrefix,
            ("hasprefix", true) => NotHasPrefix,
            ("hasprefix_cs", false) => HasPrefixCs,
            ("hasprefix_cs", true) => NotHasPrefixCs,
            ("hassuffix", false) => HasSuffix,
            ("hassuffix", true) => NotHasSuffix,
            ("hassuffix_cs", false) => HasSuffixCs,
            ("hassuffix_cs", true) => NotHasSuffixCs,
            ("contains", false) => Contains,
            ("contains", true) => NotContains,
            ("contains_cs", false) => ContainsCs,
            ("contains_cs", true) => NotContainsCs,
            ("startswith", false) => StartsWith,
            ("startswith", true) => NotStartsWith,
            ("startswith_cs", false) => StartsWithCs,
            ("startswith_cs", true) => NotStartsWithCs,
            ("endswith", false) => EndsWith,
            ("endswith", true) => NotEndsWith,
            ("endswith_cs", false) => EndsWithCs,
            ("endswith_cs", true) => NotEndsWithCs,
            ("like", false) => Like,
            ("notlike", false) => NotLike,
            ("notcontains", false) => NotContains,
            _ => return None,
        };
        Some(op)
    }
}

/// List operators: `in`, `has_any`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ListOp {
    In,
    NotIn,
    InCi,
    NotInCi,
    HasAny,
    HasAll,
}

impl ListOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ListOp::In => "in",
            ListOp::NotIn => "!in",
            ListOp::InCi => "in~",
            ListOp::NotInCi => "!in~",
            ListOp::HasAny => "has_any",
            ListOp::HasAll => "has_all",
        }
    }
}

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal (a `long`), text as written.
    Long(String),
    /// A real literal, text as written.
    Real(String),
    /// A string (adjacent literals already concatenated).
    String {
        /// Value.
        value: String,
        /// Written `h'…'`.
        obfuscated: bool,
    },
    /// A timespan literal such as `1d` or `1.5h`.
    TimeSpan(String),
    /// `type(raw)` for datetime/timespan/guid and aliases: raw text inside parentheses.
    TypedRaw {
        /// Type word as written (`datetime`, `date`, `time`, `timespan`, `guid`, `uniqueid`).
        ty: String,
        /// Raw text.
        raw: String,
    },
    /// `type(value)` for bool/int/long/real/double/decimal/string: the value text,
    /// e.g. `int(5)`, `real(-inf)`, `long(null)`, `decimal(1.5)`.
    Typed {
        /// Type word as written.
        ty: String,
        /// Value text (`null`, `nan`, `+inf`, a number, or a quoted string).
        value: String,
    },
    /// `dynamic(...)`.
    Dynamic(Dynamic),
    /// A bare `null` (in dynamic context).
    Null,
}

/// A dynamic literal's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Dynamic {
    /// `null`.
    Null,
    /// A scalar literal inside dynamic (numbers, strings, bools, typed literals).
    Scalar(Box<Literal>),
    /// `[a, b]`.
    Array(Vec<Dynamic>),
    /// `{"k": v}`.
    Object(Vec<(String, Dynamic)>),
    /// A negative number.
    Neg(Box<Dynamic>),
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Literal(Literal),
    /// A name: column, table, let binding, parameter.
    Name(Ident),
    /// `*` where an argument list allows it (`arg_max(x, *)`, `count(*)`?).
    Star,
    /// `(e)`.
    Paren(Box<Expr>),
    /// `-e`, `+e`.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        expr: Box<Expr>,
    },
    /// `not(e)` is a call; this is `a op b`.
    Binary {
        /// Operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `e in (a, b)`, `e has_any (..)`.
    List {
        /// Operator.
        op: ListOp,
        /// Tested value.
        expr: Box<Expr>,
        /// Candidates (one tabular expression is allowed).
        items: Vec<Expr>,
    },
    /// `e between (low .. high)` and `!between`.
    Between {
        /// Negated (`!between`).
        negated: bool,
        /// Tested value.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
    },
    /// `f(args)`; also `T(args)` for tabular functions. Named arguments appear as
    /// `Binary{Eq}`-free [`ExprKind::NamedArg`].
    Call {
        /// Function name (may be dotted: `cluster('x').database('y')` is a chain of members).
        name: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `name = value` as a function argument (`with_source=...` style arguments).
    NamedArg {
        /// Argument name.
        name: Ident,
        /// Value.
        value: Box<Expr>,
    },
    /// `e.name` (dynamic property or `$left.col`).
    Member {
        /// Object.
        expr: Box<Expr>,
        /// Member name.
        name: Ident,
    },
    /// `e[index]`.
    Index {
        /// Object.
        expr: Box<Expr>,
        /// Index expression.
        index: Box<Expr>,
    },
    /// `e.f(args)`: a method-style call (`cluster("c").database("d")`).
    MethodCall {
        /// Receiver.
        expr: Box<Expr>,
        /// Method name.
        name: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `input | operator`.
    Pipe {
        /// Input.
        input: Box<Expr>,
        /// Operator.
        op: Box<Operator>,
    },
    /// A tabular source that starts a pipeline (`print`, `range`, `datatable`, ...).
    Source(Box<Operator>),
    /// `typeof(long)` or `typeof(*, a:long)` (plugin output schemas).
    TypeOf {
        /// Columns.
        columns: Vec<ColumnDecl>,
        /// `*` first.
        star: bool,
        /// A bare scalar type: `typeof(long)`.
        scalar: Option<Ident>,
    },
}

/// `name = expr` or `(a, b) = expr` or just `expr` in project/extend/summarize lists.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedExpr {
    /// Output names: none, one, or several (`(a, b) = f(x)`).
    pub names: Vec<Ident>,
    /// Several names were written in parentheses.
    pub paren_names: bool,
    /// The value.
    pub expr: Expr,
}

/// A sort key: `expr [asc|desc] [nulls first|last]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// Key.
    pub expr: Expr,
    /// `asc` (Some(true)), `desc` (Some(false)) or not written.
    pub asc: Option<bool>,
    /// `nulls first` (Some(true)), `nulls last` (Some(false)) or not written.
    pub nulls_first: Option<bool>,
}

/// `name=value` operator parameters (`kind=inner`, `hint.strategy=shuffle`, `withsource=T`).
#[derive(Debug, Clone, PartialEq)]
pub struct OpParam {
    /// Parameter name (may contain dots).
    pub name: String,
    /// Value (an identifier is a [`ExprKind::Name`]).
    pub value: Expr,
}

/// A tabular operator with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// What kind.
    pub kind: OperatorKind,
    /// Where.
    pub span: NodeSpan,
}

/// A piece of a `parse` pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsePart {
    /// A string literal to match.
    Text(String),
    /// A column to extract, with an optional type.
    Column {
        /// Column name.
        name: Ident,
        /// Type name.
        ty: Option<Ident>,
    },
    /// `*`: skip anything.
    Star,
}

/// An item of `mv-expand`: `[name =] expr [to typeof(type)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct MvExpandItem {
    /// Expression with optional name.
    pub item: NamedExpr,
    /// `to typeof(t)`.
    pub to_type: Option<Ident>,
}

/// `project-away`/`project-keep` items: names with `*` wildcards.
pub type ColumnPattern = Ident;

/// Tabular operators and sources. Operators that can start a pipeline (print, range,
/// datatable, union, search, find, evaluate, externaldata) appear in [`ExprKind::Source`].
#[derive(Debug, Clone, PartialEq)]
pub enum OperatorKind {
    /// `where` / `filter`.
    Where {
        /// Written `filter`.
        filter: bool,
        /// Predicate.
        predicate: Expr,
    },
    /// `project`.
    Project(Vec<NamedExpr>),
    /// `project-away`.
    ProjectAway(Vec<ColumnPattern>),
    /// `project-keep`.
    ProjectKeep(Vec<ColumnPattern>),
    /// `project-rename new = old, ...`.
    ProjectRename(Vec<(Ident, Ident)>),
    /// `project-reorder col [asc|desc|granny-asc|granny-desc], ...`.
    ProjectReorder(Vec<(ColumnPattern, Option<String>)>),
    /// `extend`.
    Extend(Vec<NamedExpr>),
    /// `summarize [params] aggs [by keys]`.
    Summarize {
        /// Parameters (`hint.strategy=shuffle`).
        params: Vec<OpParam>,
        /// Aggregates.
        aggs: Vec<NamedExpr>,
        /// Group keys.
        by: Vec<NamedExpr>,
    },
    /// `count [as name]`.
    Count(Option<Ident>),
    /// `take n` / `limit n`.
    Take {
        /// Written `limit`.
        limit: bool,
        /// Row count.
        count: Expr,
    },
    /// `sort by` / `order by`.
    Sort {
        /// Written `order`.
        order: bool,
        /// Parameters (`hint.strategy`).
        params: Vec<OpParam>,
        /// Keys.
        keys: Vec<SortKey>,
    },
    /// `top n by key`.
    Top {
        /// Row count.
        count: Expr,
        /// Key.
        key: SortKey,
    },
    /// `distinct cols` or `distinct *`.
    Distinct(Vec<Expr>),
    /// `union [params] tables`.
    Union {
        /// `kind=`, `withsource=`, `isfuzzy=`.
        params: Vec<OpParam>,
        /// Tables (names with wildcards, or parenthesised queries).
        tables: Vec<Expr>,
    },
    /// `join [params] (right) on conditions`.
    Join {
        /// `kind=`, hints.
        params: Vec<OpParam>,
        /// Right side.
        right: Expr,
        /// `on` conditions: column names or `$left.a == $right.b`.
        on: Vec<Expr>,
    },
    /// `lookup [params] (right) on conditions`.
    Lookup {
        /// `kind=`.
        params: Vec<OpParam>,
        /// Right side.
        right: Expr,
        /// Conditions.
        on: Vec<Expr>,
    },
    /// `as [params] name`.
    As {
        /// `hint.materialized=`.
        params: Vec<OpParam>,
        /// Name.
        name: Ident,
    },
    /// `getschema`.
    GetSchema,
    /// `serialize [name = expr, ...]`.
    Serialize(Vec<NamedExpr>),
    /// `render chart [with (props)]`, also the legacy `render chart prop=value ...`.
    Render {
        /// Chart type.
        chart: Ident,
        /// Properties.
        props: Vec<OpParam>,
        /// Written with `with (...)`.
        with: bool,
    },
    /// `print [name =] expr, ...` (a source).
    Print(Vec<NamedExpr>),
    /// `range col from a to b step s` (a source).
    Range {
        /// Column name.
        column: Ident,
        /// Start.
        from: Expr,
        /// End (inclusive).
        to: Expr,
        /// Step.
        step: Expr,
    },
    /// `datatable (cols) [values]` (a source).
    Datatable {
        /// Column declarations.
        columns: Vec<ColumnDecl>,
        /// Values in row-major order.
        values: Vec<Expr>,
    },
    /// `mv-expand [params] items [limit n]`.
    MvExpand {
        /// `bagexpansion=`, `with_itemindex=`, `kind=`.
        params: Vec<OpParam>,
        /// Items.
        items: Vec<MvExpandItem>,
        /// `limit n`.
        limit: Option<Expr>,
    },
    /// `mv-apply [params] items on (subquery)`.
    MvApply {
        /// Parameters.
        params: Vec<OpParam>,
        /// Items.
        items: Vec<MvExpandItem>,
        /// `limit n`.
        limit: Option<Expr>,
        /// `id_column` after `with_itemindex` etc. are params; the subquery:
        subquery: Expr,
    },
    /// `parse [kind=...] [with_defaults] expr with pattern`.
    Parse {
        /// `parse-where`.
        filter: bool,
        /// `kind=`, `flags=`.
        params: Vec<OpParam>,
        /// Source expression.
        expr: Expr,
        /// Pattern.
        pattern: Vec<ParsePart>,
    },
    /// `parse-kv expr as (cols) with (params)`.
    ParseKv {
        /// Source.
        expr: Expr,
        /// Extracted columns.
        columns: Vec<ColumnDecl>,
        /// `with (...)` parameters.
        with: Vec<OpParam>,
    },
    /// `make-series`.
    MakeSeries {
        /// `kind=nonempty`, hints.
        params: Vec<OpParam>,
        /// `name = agg default = value, ...`.
        aggs: Vec<(NamedExpr, Option<Expr>)>,
        /// `on axis`.
        on: Expr,
        /// `from a to b step c` or `in range(a, b, c)`.
        range: MakeSeriesRange,
        /// `by` keys.
        by: Vec<NamedExpr>,
    },
    /// `top-nested` clauses separated by commas.
    TopNested(Vec<TopNestedClause>),
    /// `top-hitters n of expr [by expr]`.
    TopHitters {
        /// Count.
        count: Expr,
        /// Value.
        of: Expr,
        /// Weight.
        by: Option<NamedExpr>,
    },
    /// `sample n`.
    Sample(Expr),
    /// `sample-distinct n of col`.
    SampleDistinct {
        /// Count.
        count: Expr,
        /// Column.
        of: Expr,
    },
    /// `search [params] [in (tables)] predicate` (also a source).
    Search {
        /// `kind=`.
        params: Vec<OpParam>,
        /// `in (T1, T2)`.
        tables: Vec<Expr>,
        /// Predicate.
        predicate: Expr,
    },
    /// `find [params] [in (tables)] where predicate [project cols]` (a source).
    Find {
        /// Parameters.
        params: Vec<OpParam>,
        /// `in (...)`.
        tables: Vec<Expr>,
        /// Predicate.
        predicate: Expr,
        /// `project` / `project-smart` list.
        project: Option<Vec<Expr>>,
    },
    /// `evaluate [params] plugin(args)` (also a source).
    Evaluate {
        /// Hints.
        params: Vec<OpParam>,
        /// Plugin call.
        call: Expr,
        /// The declared output schema, `: (col: type, ...)` (`bag_unpack`, `pivot`), with
        /// `*` first for "the input's columns, then these".
        schema: Option<(bool, Vec<ColumnDecl>)>,
    },
    /// `invoke f(args)`.
    Invoke(Expr),
    /// `fork (ops) (ops) ...` with optional names.
    Fork(Vec<(Option<Ident>, Expr)>),
    /// `facet by cols [with (ops)]`.
    Facet {
        /// Columns.
        by: Vec<Ident>,
        /// `with (...)` operators.
        with: Option<Expr>,
    },
    /// `partition [params] by col (subquery)`.
    Partition {
        /// Hints.
        params: Vec<OpParam>,
        /// Partition column.
        by: Ident,
        /// Subquery, applied to each partition.
        subquery: Expr,
    },
    /// `reduce by expr [with params]`.
    Reduce {
        /// Reduced expression.
        by: Expr,
        /// `with threshold=..., characters=...`.
        with: Vec<OpParam>,
    },
    /// `consume [params]`.
    Consume(Vec<OpParam>),
    /// `externaldata (cols) [urls] [with (props)]` (a source).
    ExternalData {
        /// Columns.
        columns: Vec<ColumnDecl>,
        /// Storage URLs.
        urls: Vec<Expr>,
        /// Properties.
        with: Vec<OpParam>,
    },
    /// `assert-schema (cols)`.
    AssertSchema(Vec<ColumnDecl>),
    /// Operators kept as balanced token text: `scan`, graph operators, `macro-expand`,
    /// `execute-and-cache`, `project-by-names`, ... They parse; planning them reports
    /// "not implemented".
    Raw {
        /// Operator name (`graph-match`).
        name: String,
        /// The rest of the operator, re-printable text of its tokens.
        text: String,
    },
}

/// `from a to b step c` vs `in range(a, b, c)` in make-series.
#[derive(Debug, Clone, PartialEq)]
pub enum MakeSeriesRange {
    /// `from a to b step c` (from/to optional).
    FromTo {
        /// Start.
        from: Option<Expr>,
        /// End.
        to: Option<Expr>,
        /// Step.
        step: Expr,
    },
    /// `in range(a, b, c)`.
    InRange(Vec<Expr>),
}

/// One level of `top-nested`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopNestedClause {
    /// `top-nested [n]`.
    pub count: Option<Expr>,
    /// `of expr` (named).
    pub of: NamedExpr,
    /// `with others = expr`.
    pub others: Option<Expr>,
    /// `by agg` (named).
    pub by: NamedExpr,
    /// `asc` / `desc`.
    pub asc: Option<bool>,
}

pub use crate::command::ast::*;
pub use crate::command::dm::*;
pub use crate::command::extents::*;
