//! A batch's spans as planning sees them ([`SpanRef`]) and the edits planned for each
//! ([`SpanEdit`]): what `plan` and `stamp` produce and `apply` and `fast` carry out.

use super::links::Planned;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;

/// Where a span is, and its ids when they are well-formed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanRef {
    pub rs: usize,
    pub ss: usize,
    pub sp: usize,
    pub trace: Option<[u8; 16]>,
    pub span: Option<[u8; 8]>,
    /// The parent span id, when the span has one.
    pub parent: Option<[u8; 8]>,
}

/// What happens to the event attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum EventEdit {
    #[default]
    None,
    Remove,
    Truncate(usize),
}

#[derive(Debug, Default)]
pub(crate) struct SpanEdit {
    pub links: Vec<Planned>,
    pub event: EventEdit,
    pub route: Option<String>,
}

/// A span as planning sees it: where it is, and its decoded form unless the caller knows
/// it carries no evidence (the fast path leaves spans its scanner cleared undecoded).
pub(crate) type Spans<'a, 'b> = &'a [(SpanRef, Option<&'b Span>)];

pub(crate) fn spans_of(req: &ExportTraceServiceRequest) -> Vec<(SpanRef, Option<&Span>)> {
    let mut out = Vec::new();
    for (rs, r) in req.resource_spans.iter().enumerate() {
        for (ss, s) in r.scope_spans.iter().enumerate() {
            for (sp, span) in s.spans.iter().enumerate() {
                let ids = (
                    &span.trace_id[..],
                    &span.span_id[..],
                    &span.parent_span_id[..],
                );
                out.push((SpanRef::new((rs, ss, sp), ids), Some(span)));
            }
        }
    }
    out
}

impl SpanRef {
    /// A span at `(rs, ss, sp)` with the trace, span and parent ids as they arrived; ids
    /// of the wrong length or all zero count as absent.
    pub(crate) fn new(at: (usize, usize, usize), ids: (&[u8], &[u8], &[u8])) -> SpanRef {
        let (trace, span, parent) = ids;
        SpanRef {
            rs: at.0,
            ss: at.1,
            sp: at.2,
            trace: <[u8; 16]>::try_from(trace).ok().filter(|t| *t != [0; 16]),
            span: <[u8; 8]>::try_from(span).ok().filter(|s| *s != [0; 8]),
            parent: <[u8; 8]>::try_from(parent).ok().filter(|s| *s != [0; 8]),
        }
    }
}
