//! KQL dynamic functions and the JSON helpers every family uses for `dynamic`.
//!
//! A `dynamic` value is stored as Arrow `LargeUtf8` holding compact JSON text; a
//! JSON `null` is stored as an Arrow null.

pub mod arrays;
pub mod expand;
pub mod funcs;
pub mod json;
pub use kql_types::lenient;

pub use json::{
    dynamic_array, dynamic_to_json, json_equal, json_to_dynamic_text, parse_dynamic_text,
    parse_json_string,
};

use crate::Registry;

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    funcs::register(r);
    expand::register(r);
}
