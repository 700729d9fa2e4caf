//! Planner errors: user errors (with spans), not-implemented features, internal bugs.

use kql_syntax::Span;

/// What went wrong while planning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanErrorKind {
    /// The query is wrong: unknown name, wrong type, bad argument (Kusto: "Semantic error").
    Semantic,
    /// A KQL feature Calypso does not implement yet.
    NotImplemented,
    /// Something Calypso does not do by design (cross-cluster queries).
    NotSupported,
    /// A bug in Calypso.
    Internal,
    /// Planning needs the rows of a plan first (a plugin whose columns depend on the data,
    /// `bag_unpack` or `pivot` without an output schema): the caller computes
    /// [`PlanError::probe`], hands its rows back through `KqlContext::probed` and plans
    /// again.
    NeedsProbe,
}

/// A planning error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.display())]
pub struct PlanError {
    /// Kind.
    pub kind: PlanErrorKind,
    /// Message (without location).
    pub message: String,
    /// Where in the query, when known.
    pub span: Option<Span>,
    /// With [`PlanErrorKind::NeedsProbe`]: what planning needs first.
    pub probe: Option<std::sync::Arc<Probe>>,
}

impl PlanError {
    fn display(&self) -> String {
        match self.kind {
            PlanErrorKind::Semantic => format!("Semantic error: {}", self.message),
            PlanErrorKind::NotImplemented => format!("not implemented: {}", self.message),
            PlanErrorKind::NotSupported => self.message.clone(),
            PlanErrorKind::Internal => {
                format!("Internal error (a bug in Calypso): {}", self.message)
            }
            PlanErrorKind::NeedsProbe => format!(
                "{}: the output columns depend on the data, which cannot be read here; declare them (`: (col: type, ...)`)",
                self.message
            ),
        }
    }

    /// The Kusto error code for OneApi errors.
    pub fn kusto_code(&self) -> &'static str {
        match self.kind {
            PlanErrorKind::Semantic => "BadRequest_SemanticError",
            PlanErrorKind::NotImplemented => "BadRequest_NotImplemented",
            PlanErrorKind::NotSupported => "BadRequest_NotSupported",
            PlanErrorKind::Internal => "InternalServiceError",
            PlanErrorKind::NeedsProbe => "BadRequest_SemanticError",
        }
    }

    /// The HTTP status an endpoint should answer with.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            PlanErrorKind::Semantic
            | PlanErrorKind::NotImplemented
            | PlanErrorKind::NotSupported
            | PlanErrorKind::NeedsProbe => 400,
            PlanErrorKind::Internal => 500,
        }
    }

    /// Renders with `[line:position=L:C]` when the span is known.
    pub fn render(&self, text: &str) -> String {
        match self.span {
            Some(s) => {
                let (l, c) = kql_syntax::span::line_col(text, s.start);
                format!("{} [line:position={l}:{c}]", self.display())
            }
            None => self.display(),
        }
    }
}

/// A semantic (user) error at `span`.
pub fn semantic(span: impl Into<Option<Span>>, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: PlanErrorKind::Semantic,
        message: message.into(),
        span: span.into(),
        probe: None,
    }
}

/// A missing KQL feature, named.
pub fn not_implemented(span: impl Into<Option<Span>>, feature: impl Into<String>) -> PlanError {
    PlanError {
        kind: PlanErrorKind::NotImplemented,
        message: feature.into(),
        span: span.into(),
        probe: None,
    }
}

/// Something Calypso does not do by design.
pub fn not_supported(span: impl Into<Option<Span>>, message: impl Into<String>) -> PlanError {
    PlanError {
        kind: PlanErrorKind::NotSupported,
        message: message.into(),
        span: span.into(),
        probe: None,
    }
}

/// A bug.
pub fn internal(message: impl Into<String>) -> PlanError {
    PlanError {
        kind: PlanErrorKind::Internal,
        message: message.into(),
        span: None,
        probe: None,
    }
}

/// What planning needs before it can go on ([`PlanErrorKind::NeedsProbe`]).
#[derive(Debug, Clone)]
pub enum Probe {
    /// The rows of a plan (handed back through `KqlContext::probed`).
    Rows(datafusion_expr::LogicalPlan),
    /// The rows of `externaldata` sources (handed back through
    /// `KqlContext::external_data`).
    External(crate::ExternalData),
}

/// Planning `what` needs the rows of `plan` first (see [`PlanErrorKind::NeedsProbe`]).
pub fn needs_probe(
    span: Span,
    what: impl Into<String>,
    plan: datafusion_expr::LogicalPlan,
) -> PlanError {
    PlanError {
        kind: PlanErrorKind::NeedsProbe,
        message: what.into(),
        span: Some(span),
        probe: Some(std::sync::Arc::new(Probe::Rows(plan))),
    }
}

/// Planning `externaldata` needs its sources read first.
pub fn needs_external(span: Span, data: crate::ExternalData) -> PlanError {
    PlanError {
        kind: PlanErrorKind::NeedsProbe,
        message: "externaldata".into(),
        span: Some(span),
        probe: Some(std::sync::Arc::new(Probe::External(data))),
    }
}

/// Result of planning.
pub type Result<T, E = PlanError> = std::result::Result<T, E>;

/// Converts a DataFusion error raised while building a plan into a semantic error at `span`.
pub fn df(
    span: impl Into<Option<Span>>,
) -> impl FnOnce(datafusion_common::DataFusionError) -> PlanError {
    let span = span.into();
    move |e| {
        let msg = e.strip_backtrace();
        let msg = msg
            .strip_prefix("Error during planning: ")
            .unwrap_or(&msg)
            .to_string();
        semantic(span, msg)
    }
}
