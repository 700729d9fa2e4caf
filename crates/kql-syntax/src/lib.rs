//! The KQL language front end: tokens, spans, AST, diagnostics, parser and printer.
//!
//! ```text
//! text --lexer::tokenize--> Vec<Token> --parser::parse--> Parsed { Query, Vec<Diagnostic> }
//!                                                          Query --Display--> canonical KQL text
//! ```
//!
//! This crate has no dependencies: it knows nothing of DataFusion, storage or HTTP.
//! Parsing never fails and never panics; problems are [`Diagnostic`]s with byte [`Span`]s.

pub mod ast;
pub mod command;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod printer;
pub mod span;
pub mod token;

pub use diagnostic::{Diagnostic, DiagnosticKind, Severity};
pub use parser::{MAX_DEPTH, Parsed, parse};
pub use span::Span;
