//! Structured diagnostics. Locations are spans; line/column is computed only when rendering.

use std::fmt;

use crate::span::{Span, line_col};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The query cannot run.
    Error,
    /// The query runs but something is suspicious.
    Warning,
}

/// What stage found the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagnosticKind {
    /// Lexer or parser (Kusto: "Syntax error").
    Syntax,
    /// Name resolution or typing (Kusto: "Semantic error").
    Semantic,
}

/// One problem found in a query, with the span it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Machine-readable code, e.g. `KS001`.
    pub code: &'static str,
    /// Stage that found it.
    pub kind: DiagnosticKind,
    /// Severity.
    pub severity: Severity,
    /// Where in the text.
    pub span: Span,
    /// Human-readable message without location.
    pub message: String,
}

impl Diagnostic {
    /// A syntax error.
    pub fn syntax(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            kind: DiagnosticKind::Syntax,
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }

    /// A semantic error.
    pub fn semantic(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            kind: DiagnosticKind::Semantic,
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }

    /// Renders the diagnostic in Kusto's words with its position, e.g.
    /// `Syntax error: Expected: ')' [line:position=1:9]`.
    pub fn render(&self, text: &str) -> String {
        let (line, col) = line_col(text, self.span.start);
        let prefix = match self.kind {
            DiagnosticKind::Syntax => "Syntax error",
            DiagnosticKind::Semantic => "Semantic error",
        };
        format!("{prefix}: {} [line:position={line}:{col}]", self.message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            DiagnosticKind::Syntax => "Syntax error",
            DiagnosticKind::Semantic => "Semantic error",
        };
        write!(f, "{prefix}: {}", self.message)
    }
}
