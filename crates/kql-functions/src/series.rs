//! Series functions. Today the internal pair behind `make-series`:
//!
//! * `__series_fill(bins, values, start, end, step, default, end_inclusive)`: one dynamic
//!   array per row: element `k` is the value whose bin is `start + k * step`, `default`
//!   where no bin has a value. `bins` and `values` are lists (one entry per bin that has
//!   data, in any order); a null `start` is the row's first bin, a null `end` the bin after
//!   its last (`end_inclusive`: `end` itself is the last element, the `in range()` form).
//! * `__series_axis(bins, start, end, step, end_inclusive, kind)`: the matching axis, the
//!   bins as `kind` (`datetime`, `timespan`, `long`, `real`) in a dynamic array.
//!
//! The bins are Int64 (datetimes and timespans as nanoseconds) or Float64. A series is at
//! most 2^20 elements long, as in Kusto (a longer one fails the query).

pub mod make;

use crate::Registry;

/// Registers this family's functions.
pub(crate) fn register(r: &mut Registry) {
    make::register(r);
}
