//! KQL's type system and KQL functions as DataFusion user-defined functions.
//!
//! * [`types`]: the ten Kusto scalar types and their Arrow representation.
//! * [`registry`]: the function catalog: every scalar function, aggregate, window function
//!   and plugin by its KQL name ([`catalog`] says what an entry holds).
//! * One module per function family (`string`, `datetime`, `convert`, `math`,
//!   `dynamic`, `hash`, `aggregate`), each with a `register` function.
//!
//! Conventions every function follows (see ARCHITECTURE.md):
//! * Values use the Arrow types of [`types::KqlType::to_arrow`]; a function's
//!   Arrow return type therefore tells the planner its KQL return type.
//! * A KQL `string` is never null: functions that return strings return `""`
//!   where a null would otherwise come out.
//! * Invalid input gives null (Kusto's behaviour), not an error, unless the
//!   Kusto docs say the function fails.

pub mod aggregate;
mod builtins;
pub mod catalog;
pub mod convert;
pub mod datetime;
pub mod dynamic;
pub mod error;
pub mod hash;
pub mod integer;
pub mod math;
pub mod operators;
pub mod registry;
pub mod series;
pub mod string;
pub use kql_types::types;
pub mod util;
pub mod window;

pub use error::{FunctionError, Result};
pub use registry::Registry;
pub use types::KqlType;

use datafusion_expr::{AggregateUDF, ScalarUDF};
