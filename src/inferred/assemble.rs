//! The structure every inferred span shares, whatever its family: ids, parent, links,
//! times, flags, and the spans of nested payloads (S3 in SQS, SNS in SQS, ...).
//!
//! A nested payload is the event the outer service carried: S3 wrote a notification into
//! the queue, SNS delivered a message into it. Its span is the creation context of the
//! outer item, so it takes the outer item's place in the chain:
//! `upstream context -> inner span (S3) -> outer span (SQS)`. The inner span's items use
//! the outer item's contexts after their own; the outer item links to (and, when it is the
//! only item, is parented under) the inner span; the inner span ends when the outer
//! service received the event (the outer item's time).

use super::attrs::{pointer_attrs, relink_span_attrs, Attrs};
use super::family::shape;
use super::{ids, InferOptions};
use crate::event::{Item, Trigger};
use crate::propagation::{Format, Found, SpanId, TraceId};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::Span;

/// Payloads nested deeper than this (S3 in SNS in SQS is 2) get no span of their own.
const MAX_NESTING: usize = 4;

const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// A span and the trigger it describes (whose source names its resource).
pub(crate) struct Inferred<'a> {
    pub(crate) trigger: &'a Trigger,
    pub(crate) span: Span,
}

/// A span a new span can be parented under or linked to.
#[derive(Clone)]
enum Ctx<'a> {
    /// A context found in the event.
    Upstream(&'a Found),
    /// The span inferred for a nested payload.
    Payload {
        trace_id: TraceId,
        span_id: SpanId,
        sampled: bool,
        trace_state: String,
    },
}

impl Ctx<'_> {
    fn ids(&self) -> (TraceId, SpanId) {
        match self {
            Ctx::Upstream(f) => (f.context.trace_id, f.context.span_id),
            Ctx::Payload {
                trace_id, span_id, ..
            } => (*trace_id, *span_id),
        }
    }
    fn sampled(&self) -> bool {
        match self {
            Ctx::Upstream(f) => f.context.sampled != Some(false),
            Ctx::Payload { sampled, .. } => *sampled,
        }
    }
    fn trace_state(&self) -> String {
        match self {
            Ctx::Upstream(f) => f.context.tracestate.clone().unwrap_or_default(),
            Ctx::Payload { trace_state, .. } => trace_state.clone(),
        }
    }
}

/// The spans for `trigger`: its own first, then those of its nested payloads in item order.
pub(crate) fn infer<'a>(trigger: &'a Trigger, opts: &InferOptions) -> Vec<Inferred<'a>> {
    let mut out = Vec::new();
    build(trigger, opts, &[], None, 0, &mut out);
    out
}

/// Appends the span for `trigger` and its payloads' spans to `out`; returns the context
/// of the trigger's own span. `inherited` are contexts the items use after their own;
/// `outer_time` is when the enclosing service received this trigger (nested only).
fn build<'a>(
    trigger: &'a Trigger,
    opts: &InferOptions,
    inherited: &[Ctx<'a>],
    outer_time: Option<u64>,
    depth: usize,
    out: &mut Vec<Inferred<'a>>,
) -> Option<Ctx<'a>> {
    let shape = shape(trigger)?;
    let items = &trigger.items;
    // Nothing went through the service (a CloudWatch Logs destination's health check):
    // no hop to show, and no time to give one.
    if items.is_empty() {
        return None;
    }
    let mut nested = Vec::new();
    let mut contexts: Vec<Vec<Ctx<'a>>> = Vec::with_capacity(items.len());
    for item in items {
        let mut own: Vec<Ctx<'a>> = Vec::new();
        for c in item
            .contexts
            .iter()
            .map(Ctx::Upstream)
            .chain(inherited.iter().cloned())
        {
            if !own.iter().any(|o| o.ids() == c.ids()) {
                own.push(c);
            }
        }
        let payload = match &item.payload {
            Some(p) if depth < MAX_NESTING => {
                build(p, opts, &own, item.time_unix_nano, depth + 1, &mut nested)
            }
            _ => None,
        };
        contexts.push(match payload {
            Some(inner) => vec![inner],
            None => own,
        });
    }

    let single = items.len() == 1;
    let parent = match contexts.first() {
        Some(first) if single && (shape.http || opts.parent_single_message) => {
            first.first().cloned()
        }
        _ => None,
    };
    let parent_ids = parent.as_ref().map(Ctx::ids);

    let item_attrs = |item: &Item| {
        let mut a = (shape.item_attrs)(trigger, item);
        a.extend(pointer_attrs(item));
        a
    };
    let mut links = Vec::new();
    let mut dropped_links: u32 = 0;
    for (item, ctxs) in items.iter().zip(&contexts) {
        let mut targets: Vec<Option<&Ctx>> = ctxs
            .iter()
            .filter(|c| !(shape.http && Some(c.ids()) == parent_ids))
            .map(Some)
            .collect();
        // A batch item nothing links to still gets a link when it names data (an object,
        // a stream record, a message): the link carries its pointer for later joins.
        if ctxs.is_empty() && !single && !item.pointers.is_empty() {
            targets.push(None);
        }
        for target in targets {
            if links.len() >= opts.max_links {
                dropped_links = dropped_links.saturating_add(1);
                continue;
            }
            links.push(link(target, item_attrs(item)));
        }
    }

    let mut attrs = Attrs::new();
    attrs.str("faas.trigger", shape.faas_trigger);
    attrs.extend(shape.attrs);
    attrs.opt_str("cloud.resource_id", trigger.source.arn.as_deref());
    if let Some(item) = items.first().filter(|_| single) {
        attrs.extend(item_attrs(item));
    }
    attrs.extend(relink_span_attrs(trigger));

    let event_start = items.iter().filter_map(|i| i.time_unix_nano).min();
    let end_bound = if depth == 0 {
        opts.invocation_start_unix_nano
    } else {
        outer_time
    };
    let start = event_start.or(end_bound).unwrap_or(0);
    let end = end_bound.map_or(start, |e| e.max(start));

    let derived = ids::derive(trigger);
    let trace_id = parent_ids.map_or(derived.trace_id, |(t, _)| t);
    let sampled = parent.as_ref().is_none_or(Ctx::sampled);
    let trace_state = parent.as_ref().map(Ctx::trace_state).unwrap_or_default();
    let mut flags = FLAG_HAS_IS_REMOTE | if sampled { FLAG_SAMPLED } else { 0 };
    if matches!(parent, Some(Ctx::Upstream(_))) {
        flags |= FLAG_IS_REMOTE;
    }
    let name = if shape.name.is_empty() {
        trigger.kind.as_str().to_string()
    } else {
        shape.name
    };

    let span = Span {
        trace_id: trace_id.0.to_vec(),
        span_id: derived.span_id.0.to_vec(),
        trace_state: trace_state.clone(),
        parent_span_id: parent_ids.map(|(_, s)| s.0.to_vec()).unwrap_or_default(),
        flags,
        name,
        kind: shape.kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: attrs.0,
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links,
        dropped_links_count: dropped_links,
        status: None,
    };
    out.push(Inferred { trigger, span });
    out.extend(nested);
    Some(Ctx::Payload {
        trace_id,
        span_id: derived.span_id,
        sampled,
        trace_state,
    })
}

/// A link to `target` carrying the item's attributes. Links to a context found in the
/// event also say where it was found; a link with no target has all-zero ids, which the
/// OpenTelemetry trace API allows when the link has attributes (Datadog's span pointers
/// have the same form).
fn link(target: Option<&Ctx>, mut attrs: Attrs) -> Link {
    let (trace_id, span_id, trace_state, flags) = match target {
        Some(c) => {
            let (t, s) = c.ids();
            let mut flags = FLAG_HAS_IS_REMOTE;
            match c {
                Ctx::Upstream(f) => {
                    flags |= FLAG_IS_REMOTE;
                    if f.context.sampled == Some(true) {
                        flags |= FLAG_SAMPLED;
                    }
                    attrs.str("relink.context.format", format_name(f.context.format));
                    attrs.str("relink.context.carrier", f.carrier.as_str());
                }
                Ctx::Payload { sampled, .. } => {
                    if *sampled {
                        flags |= FLAG_SAMPLED;
                    }
                    attrs.str("relink.context.carrier", "payload");
                }
            }
            (t.0.to_vec(), s.0.to_vec(), c.trace_state(), flags)
        }
        None => (vec![0; 16], vec![0; 8], String::new(), 0),
    };
    Link {
        trace_id,
        span_id,
        trace_state,
        attributes: attrs.0,
        dropped_attributes_count: 0,
        flags,
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::W3c => "w3c",
        Format::Xray => "xray",
        Format::Datadog => "datadog",
    }
}
