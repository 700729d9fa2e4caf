//! Management (dot) commands: their official kinds ([`kinds`]) and their typed AST
//! ([`crate::ast::Command`]), parsed by `parser::command`.

pub mod ast;
pub mod dm;
pub mod extents;
pub mod kinds;

pub use kinds::{KindTable, command_kind};
