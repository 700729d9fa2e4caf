//! The typed AST of the extent commands: `.show ... extents`, `.drop extent(s)`,
//! `.alter[-merge] table T extent tags`, `.drop table T extent tags`, `.move extents`,
//! `.replace extents`.

use crate::ast::{Command, Ident, Property, Query};

/// Which extents `.show extents` lists.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtentsScope {
    /// `.show cluster extents`.
    Cluster,
    /// `.show database [D] extents`.
    Database(Option<Ident>),
    /// `.show databases (A, B) extents`.
    Databases(Vec<Ident>),
    /// `.show table T extents`, `.show tables (A, B) extents`.
    Tables(Vec<Ident>),
}

/// How a `where tags ...` filter of `.show extents` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagTest {
    /// `has`: a tag equals the text.
    Has,
    /// `!has`: no tag equals the text.
    NotHas,
    /// `contains`: a tag contains the text (case-insensitive).
    Contains,
    /// `!contains`: no tag contains the text (case-insensitive).
    NotContains,
}

/// One `tags has 'x'` of `.show extents ... where tags ... and tags ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct TagFilter {
    /// The comparison.
    pub test: TagTest,
    /// The text.
    pub tag: String,
}

/// Where a command's extents come from, after `<|`: a query (`T | summarize by ExtentId =
/// extent_id()`) or a command (`.show table T extents | where ...`).
#[derive(Debug, Clone, PartialEq)]
pub enum ExtentSource {
    /// A query.
    Query(Box<Query>),
    /// A command (with its piped operators).
    Command(Box<Command>),
}

/// `.drop extents older N days|hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeUnit {
    /// `days`.
    Days,
    /// `hours`.
    Hours,
}

/// What `trim by` sums: `extentsize` (the extents' size on disk, `.show extents`
/// ExtentSize) or `datasize` (their data's size uncompressed, OriginalSize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimBy {
    /// `extentsize`.
    ExtentSize,
    /// `datasize`.
    DataSize,
}

/// `trim by extentsize|datasize N MB|GB|bytes`: drop the oldest extents until the size of
/// those left is at most `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// What is summed.
    pub by: TrimBy,
    /// The size to trim to, in bytes (`MB` is 2^20 bytes, `GB` 2^30).
    pub bytes: u64,
}

/// Extent commands.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtentsCommand {
    /// `.show ... extents [(id, ...)] [hot] [where tags has 'x' [and tags ...]]`.
    Show {
        /// Which.
        scope: ExtentsScope,
        /// Only these extents (empty: all).
        ids: Vec<String>,
        /// All must hold.
        tags: Vec<TagFilter>,
    },
    /// `.drop extent <id> [from T]`, `.drop extents (id, ...) [from T]`.
    DropIds {
        /// The extents.
        ids: Vec<String>,
        /// The table they must belong to.
        table: Option<Ident>,
    },
    /// `.drop[-pretend] extents [older N days|hours] from (T | all tables) [limit n]`.
    DropByAge {
        /// `older N unit`.
        older: Option<(i64, AgeUnit)>,
        /// The table (`None`: `all tables`).
        table: Option<Ident>,
        /// `limit n`: at most the `n` oldest.
        limit: Option<u64>,
        /// `trim by ...`.
        trim: Option<Trim>,
        /// `.drop-pretend`: report, drop nothing.
        pretend: bool,
    },
    /// `.drop extents [whatif] <| source` (the source returns `ExtentId`, `TableName`).
    DropFrom {
        /// `whatif`: report, drop nothing.
        whatif: bool,
        /// The extents.
        source: ExtentSource,
    },
    /// `.alter[-merge] [async] table T extent tags ('a', ...) [with (...)] <| source`.
    AlterTags {
        /// `.alter-merge`: add to the extents' tags instead of replacing them.
        merge: bool,
        /// `async`.
        is_async: bool,
        /// The table.
        table: Ident,
        /// The tags.
        tags: Vec<String>,
        /// `extentCreatedOnFrom`, `extentCreatedOnTo`.
        with: Vec<Property>,
        /// The extents (`ExtentId`).
        source: ExtentSource,
    },
    /// `.drop [async] table T extent tags ('a', ...) [with (...)]` (those tags from every
    /// extent) or `.drop [async] table T extent tags [with (...)] <| source` (the source
    /// returns `ExtentId` and `Tags`).
    DropTags {
        /// `async`.
        is_async: bool,
        /// The table.
        table: Ident,
        /// The tags (the first form).
        tags: Vec<String>,
        /// `extentCreatedOnFrom`, `extentCreatedOnTo`.
        with: Vec<Property>,
        /// The extents and their tags to drop (the second form).
        source: Option<ExtentSource>,
    },
    /// `.move [async] extents all from table A to table B [with (...)]`,
    /// `.move [async] extents from table A to table B [with (...)] (id, ...)`,
    /// `.move [async] extents to table B [with (...)] <| source`.
    Move {
        /// `async`.
        is_async: bool,
        /// The source table (the first two forms).
        from: Option<Ident>,
        /// The destination table.
        to: Ident,
        /// The extents (the second form; empty: all of `from`).
        ids: Vec<String>,
        /// `setNewIngestionTime`, `extentCreatedOnFrom`, `extentCreatedOnTo`.
        with: Vec<Property>,
        /// The extents (`ExtentId`, `TableName`; the third form).
        source: Option<ExtentSource>,
    },
    /// `.replace [async] extents in table T [with (...)] <| {drop}, {move}`.
    Replace {
        /// `async`.
        is_async: bool,
        /// The destination table.
        table: Ident,
        /// `setNewIngestionTime`, `extentCreatedOnFrom`, `extentCreatedOnTo`.
        with: Vec<Property>,
        /// The destination's extents to drop (`ExtentId`).
        drop: ExtentSource,
        /// The extents to move in (`ExtentId`, `TableName`).
        moved: ExtentSource,
    },
}
