//! KQL datetime functions: `bin`/`floor`/`bin_at`, calendar boundaries
//! (`startof*`/`endof*`), part extraction, `datetime_add`/`datetime_diff`,
//! constructors (`make_datetime`, `make_timespan`, `unixtime_*_todatetime`) and
//! `format_datetime`/`format_timespan`.
//!
//! `ago()` and `now()` are planned as constants by the planner and are not here.

pub mod args;
pub mod bin;
pub mod calendar;
pub mod format;
pub mod udfs;

use crate::Registry;

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    bin::register(r);
    udfs::register(r);
}
