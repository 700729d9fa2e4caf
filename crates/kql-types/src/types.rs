//! Kusto's ten scalar types and their Arrow representation.
//!
//! The mapping is a bijection on the Arrow types Calypso produces, so the KQL type of
//! any DataFusion expression can be read back from its Arrow type
//! (see ARCHITECTURE.md, "Types").

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit};

/// Decimal precision used for KQL `decimal` (Arrow `Decimal128`).
pub const DECIMAL_PRECISION: u8 = 38;
/// Decimal scale used for KQL `decimal`.
pub const DECIMAL_SCALE: i8 = 18;
/// Nanoseconds per .NET tick (Kusto datetimes and timespans count 100 ns ticks).
pub const NANOS_PER_TICK: i64 = 100;

/// A Kusto scalar type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KqlType {
    /// `bool` (alias `boolean`).
    Bool,
    /// `int` (32-bit signed).
    Int,
    /// `long` (64-bit signed).
    Long,
    /// `real` (alias `double`), IEEE 754 binary64.
    Real,
    /// `decimal`, 128-bit decimal.
    Decimal,
    /// `string`, UTF-8.
    String,
    /// `datetime` (alias `date`), UTC instant.
    DateTime,
    /// `timespan` (alias `time`), signed duration.
    TimeSpan,
    /// `guid` (alias `uniqueid`).
    Guid,
    /// `dynamic`: any JSON value (null, bool, number, string, array, property bag).
    Dynamic,
}

impl KqlType {
    /// All types, in the order of the Kusto docs.
    pub const ALL: [KqlType; 10] = [
        KqlType::Bool,
        KqlType::DateTime,
        KqlType::Decimal,
        KqlType::Dynamic,
        KqlType::Guid,
        KqlType::Int,
        KqlType::Long,
        KqlType::Real,
        KqlType::String,
        KqlType::TimeSpan,
    ];

    /// The Kusto name of the type, as `getschema` and the v2 protocol print it.
    pub fn name(self) -> &'static str {
        match self {
            KqlType::Bool => "bool",
            KqlType::Int => "int",
            KqlType::Long => "long",
            KqlType::Real => "real",
            KqlType::Decimal => "decimal",
            KqlType::String => "string",
            KqlType::DateTime => "datetime",
            KqlType::TimeSpan => "timespan",
            KqlType::Guid => "guid",
            KqlType::Dynamic => "dynamic",
        }
    }

    /// The .NET type name (`getschema`'s `DataType` column and v1 frames).
    pub fn dotnet_name(self) -> &'static str {
        match self {
            KqlType::Bool => "System.Boolean",
            KqlType::Int => "System.Int32",
            KqlType::Long => "System.Int64",
            KqlType::Real => "System.Double",
            KqlType::Decimal => "System.Data.SqlTypes.SqlDecimal",
            KqlType::String => "System.String",
            KqlType::DateTime => "System.DateTime",
            KqlType::TimeSpan => "System.TimeSpan",
            KqlType::Guid => "System.Guid",
            KqlType::Dynamic => "System.Object",
        }
    }

    /// Parses a type name as written in KQL (`long`, `int64`, `double`, `date`, ...).
    pub fn from_name(name: &str) -> Option<KqlType> {
        let t = match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => KqlType::Bool,
            "int" | "int32" | "int8" | "int16" | "uint8" | "uint16" => KqlType::Int,
            "long" | "int64" | "uint" | "uint32" | "uint64" | "ulong" => KqlType::Long,
            "real" | "double" | "float" => KqlType::Real,
            "decimal" => KqlType::Decimal,
            "string" => KqlType::String,
            "datetime" | "date" => KqlType::DateTime,
            "timespan" | "time" => KqlType::TimeSpan,
            "guid" | "uniqueid" => KqlType::Guid,
            "dynamic" => KqlType::Dynamic,
            _ => return None,
        };
        Some(t)
    }

    /// The Arrow type that stores values of this KQL type.
    pub fn to_arrow(self) -> DataType {
        match self {
            KqlType::Bool => DataType::Boolean,
            KqlType::Int => DataType::Int32,
            KqlType::Long => DataType::Int64,
            KqlType::Real => DataType::Float64,
            KqlType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            KqlType::String => DataType::Utf8,
            KqlType::DateTime => DataType::Timestamp(TimeUnit::Nanosecond, None),
            KqlType::TimeSpan => DataType::Duration(TimeUnit::Nanosecond),
            KqlType::Guid => DataType::FixedSizeBinary(16),
            KqlType::Dynamic => DataType::LargeUtf8,
        }
    }

    /// The KQL type of an Arrow type, or `None` when Calypso never produces it.
    ///
    /// Besides the canonical types of [`KqlType::to_arrow`], this accepts the
    /// representations DataFusion may produce on its own (string views, other
    /// integer widths, other time units, decimals of another scale).
    pub fn from_arrow(dt: &DataType) -> Option<KqlType> {
        let t = match dt {
            DataType::Boolean => KqlType::Bool,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16 => KqlType::Int,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KqlType::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => KqlType::Real,
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => KqlType::Decimal,
            DataType::Utf8 | DataType::Utf8View => KqlType::String,
            DataType::LargeUtf8 => KqlType::Dynamic,
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => KqlType::DateTime,
            DataType::Duration(_) => KqlType::TimeSpan,
            DataType::FixedSizeBinary(16) => KqlType::Guid,
            DataType::Null => KqlType::Dynamic,
            _ => return None,
        };
        Some(t)
    }

    /// True for int, long, real and decimal.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal
        )
    }

    /// True for int and long.
    pub fn is_integer(self) -> bool {
        matches!(self, KqlType::Int | KqlType::Long)
    }
}

impl fmt::Display for KqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An Arrow field of the given KQL type (always nullable: every Kusto column is).
pub fn field(name: &str, t: KqlType) -> arrow::datatypes::Field {
    arrow::datatypes::Field::new(name, t.to_arrow(), true)
}

/// Builds an Arrow schema from KQL columns.
pub fn schema(columns: &[(String, KqlType)]) -> arrow::datatypes::SchemaRef {
    Arc::new(arrow::datatypes::Schema::new(
        columns
            .iter()
            .map(|(n, t)| field(n, *t))
            .collect::<Vec<_>>(),
    ))
}

/// The hidden columns of a table's rows, which only functions reach (never `*`, the
/// schema or a result): names no KQL identifier can spell, all starting with `$`.
pub mod hidden {
    /// `ingestion_time()`: when the row was ingested (`datetime`), stored with the rows of
    /// every extent and row-store entry (ingestion-time-policy.md: "a hidden `datetime`
    /// column ... called `$IngestionTime`").
    pub const INGESTION_TIME: &str = "$IngestionTime";
    /// `extent_id()`: the id of the extent holding the row (`guid`), given by the scan.
    pub const EXTENT_ID: &str = "$ExtentId";
    /// `extent_tags()`: the tags of the extent holding the row (`dynamic` array), given by
    /// the scan.
    pub const EXTENT_TAGS: &str = "$ExtentTags";

    /// Whether `name` is a hidden column (one of the three: `$table`, which `search`
    /// adds, and other `$` names a query makes are ordinary columns).
    pub fn is_hidden(name: &str) -> bool {
        matches!(name, INGESTION_TIME | EXTENT_ID | EXTENT_TAGS)
    }
}
