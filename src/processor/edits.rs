//! A batch's spans as planning sees them ([`SpanRef`]) and the edits planned for each
//! ([`SpanEdit`]): what `plan` and `stamp` produce and `apply` and `fast` carry out.

use super::links::{Existing, Planned};

/// Where a span is, and its ids when they are well-formed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanRef {
    /// Positions (resource, scope, span), 32 bits each: a batch holds one per span.
    pub rs: u32,
    pub ss: u32,
    pub sp: u32,
    pub trace: Option<[u8; 16]>,
    pub span: Option<[u8; 8]>,
    /// The parent span id, when the span has one.
    pub parent: Option<[u8; 8]>,
}

#[derive(Debug, Default)]
pub(crate) struct SpanEdit {
    pub links: Vec<Planned>,
    /// The span carries the event attribute, which `event_attribute.output` then edits.
    pub event: bool,
    pub route: Option<Box<str>>,
}

/// What planning reads of a span besides its evidence: the links it has (so a planned
/// link it already has is not added again), `None` when it has none, and its route
/// attribute (stamp mode; the fast path, which stamp mode does not take, leaves it out).
#[derive(Debug, Default)]
pub(crate) struct Seen<'b> {
    pub links: Option<Box<Existing>>,
    pub route: Option<&'b str>,
}

/// A batch's spans as planning sees them.
pub(crate) type Spans<'a, 'b> = &'a [(SpanRef, Seen<'b>)];

impl SpanRef {
    /// A span at `(rs, ss, sp)` with the trace, span and parent ids as they arrived; ids
    /// of the wrong length or all zero count as absent.
    pub(crate) fn new(at: (usize, usize, usize), ids: (&[u8], &[u8], &[u8])) -> SpanRef {
        let (trace, span, parent) = ids;
        // Past 2^32 a position saturates and finds no span (no request is that large).
        let at32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SpanRef {
            rs: at32(at.0),
            ss: at32(at.1),
            sp: at32(at.2),
            trace: <[u8; 16]>::try_from(trace).ok().filter(|t| *t != [0; 16]),
            span: <[u8; 8]>::try_from(span).ok().filter(|s| *s != [0; 8]),
            parent: <[u8; 8]>::try_from(parent).ok().filter(|s| *s != [0; 8]),
        }
    }
}
