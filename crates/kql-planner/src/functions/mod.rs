//! Scalar functions the planner builds itself (the catalog's `Special` and
//! `BuiltinWindow` forms), one file per family.

mod conditional;
mod context;
mod window;
