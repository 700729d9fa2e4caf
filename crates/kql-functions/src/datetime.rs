//! KQL datetime functions.

use crate::Registry;

/// Registers this family's functions.
pub(crate) fn register(_r: &mut Registry) {}
