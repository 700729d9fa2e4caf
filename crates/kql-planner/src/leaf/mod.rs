//! Leaf helpers of the planner: functions and types that know nothing of [`Planner`]
//! (`crate::planner::Planner`). Every other module may use them; they use none of the
//! planner's modules (checked by `tests/module_graph.rs`).

pub(crate) mod exprs;
pub(crate) mod names;
pub(crate) mod plans;
pub(crate) mod tab;

pub(crate) use exprs::*;
pub(crate) use names::*;
pub(crate) use plans::*;
pub(crate) use tab::*;
