//! The binary protobuf fast path: the same plan and the same edits as the full path, on
//! the spans that need them, without decoding the rest of the request.
//!
//! 1. [`scan`] walks the request in place, validating it as prost would, and flags every
//!    span that has an attribute evidence reads (`evidence::span_keys`:
//!    `rpc.system=aws-api`, the event attribute, a Step Functions execution ARN, a Lambda
//!    invocation id) or a link
//!    with `ptr.hash`. A span it does not flag has no evidence: the flag is a necessary
//!    condition of everything `evidence::of_view` reads. An input the scanner refuses goes
//!    to the full path, which reports the error as before.
//! 2. Flagged spans' evidence is read from their bytes ([`SpanView::read`]; a span whose
//!    encoding only a decoder can read is decoded). `plan::plan` runs over every span
//!    (unflagged ones with empty evidence), exactly as in the full path.
//! 3. `apply::apply_span` runs on the flagged spans and on the spans whose trace the
//!    adoption remap rewrites; nothing else can change. It runs on a [`StandIn`] of the
//!    span's bytes, which writes the changed span back without decoding it (a span not in
//!    field order is decoded and re-encoded instead, its own unknown fields appended). Changed spans go into one buffer
//!    and are [`splice`]d into the input, fixing the enclosing length prefixes (or written
//!    out piece by piece, `Processor::process_traces_to`).
//!
//! So the output decodes to the full path's output, the counters are the same, and a
//! request nothing applies to is returned as the input bytes. Bytes outside changed spans
//! are kept as they arrived (unknown fields too), where the full path re-encodes them.

use super::edits::{Seen, SpanEdit, SpanRef};
use super::links::Existing;
use super::prepared::{self, Carried, Prepared};
use super::stand_in::{self, StandIn};
use super::view::SpanView;
use super::{apply, evidence, plan, Counters, Processed, Processor};
use crate::otlp::scan::{self, Interest, Scan, ScannedSpan};
use crate::otlp::splice::{splice, splice_part, Replacements, Sink};
use crate::otlp::Encoding;
use crate::settings::Settings;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::borrow::Cow;

/// Scans a request and reads its evidence without touching the processor's state (see
/// `prepared`); `None` when the scanner refuses the request.
pub(super) fn prepare(p: &Processor, input: &[u8]) -> Option<Vec<u8>> {
    let scanned = scan_request(&p.config, input)?;
    let mut flagged = Vec::new();
    for (i, s) in scanned.spans.iter().enumerate() {
        if s.interesting {
            let read = read_span(&p.config, input, s)?;
            flagged.push((i, Some(read).filter(prepared::carries)));
        }
    }
    Some(prepared::encode(input, &scanned, &flagged))
}

/// Processes a binary protobuf request, or returns `None` (with the processor untouched)
/// when the full path must do it. `prepared`: the scan and evidence another processor read
/// ahead (`prepare`), used where they fit the request; the same output and counters.
pub(super) fn process<'a>(
    p: &mut Processor,
    input: &'a [u8],
    now_unix_nano: u64,
    prepared: Option<Prepared<'_>>,
) -> Option<Processed<'a>> {
    let done = rewrite(p, input, now_unix_nano, prepared)?;
    let output = if done.replaced.is_empty() {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(splice(input, &done.scanned, &done.replaced))
    };
    Some(Processed {
        output,
        encoding: Encoding::Protobuf,
        counters: done.counters,
        error: None,
    })
}

/// A request the fast path processed: the output is the input with `replaced` spliced in
/// (the input itself when nothing is replaced). The processor's counters already hold it.
pub(super) struct Rewritten<'a> {
    pub scanned: Scan<'a>,
    pub replaced: Replacements,
    pub counters: Counters,
}

/// The fast path up to the splice (see [`process`]): every changed span's new bytes held.
pub(super) fn rewrite<'a>(
    p: &mut Processor,
    input: &'a [u8],
    now_unix_nano: u64,
    prepared: Option<Prepared<'_>>,
) -> Option<Rewritten<'a>> {
    let planned = plan_request(p, input, now_unix_nano, prepared)?;
    let (scanned, replaced, counters) = apply_all(p, input, planned, |_, _, _| {});
    Some(Rewritten {
        scanned,
        replaced,
        counters,
    })
}

/// The fast path written to `sink` resource by resource as it is made: a changed span's
/// bytes are held only until its `ResourceSpans` is written (a batch from many services
/// never holds more than one service's changes). The same bytes as [`process`]'s output;
/// `None` when the full path must do it. A sink error stops the writing, not the call:
/// the counters still count every span.
pub(super) fn rewrite_to<S: Sink>(
    p: &mut Processor,
    input: &[u8],
    now_unix_nano: u64,
    sink: &mut S,
) -> Option<Result<Counters, S::Error>> {
    let planned = plan_request(p, input, now_unix_nano, None)?;
    let (mut written, mut cursor) = (Ok(()), 0);
    let (_, _, counters) = apply_all(p, input, planned, |scanned, replaced, resource| {
        if written.is_ok() {
            let end = scanned.resources.get(resource).map_or(cursor, |f| f.end);
            written = splice_part(input, scanned, replaced, cursor..end, sink);
            cursor = end;
        }
        replaced.clear();
    });
    if written.is_ok() {
        written = sink.put(input.get(cursor..).unwrap_or_default());
    }
    Some(written.map(|()| counters))
}

/// Applies every span's edit (step 3), collecting the changed spans; after the last span
/// of a resource with changed spans, `resource_done` gets the replacements so far (and may
/// write and clear them). Returns the scan, the replacements left and the call's counters,
/// already added to the processor's.
fn apply_all<'a>(
    p: &mut Processor,
    input: &[u8],
    planned: Planned<'a>,
    mut resource_done: impl FnMut(&Scan<'a>, &mut Replacements, usize),
) -> (Scan<'a>, Replacements, Counters) {
    let Planned {
        scanned,
        spans,
        edits,
        mut call,
    } = planned;
    let touched = stand_in::touched(&p.config);
    let mut replaced = Replacements::default();
    let mut changed = false;
    let mut all = spans
        .iter()
        .zip(&scanned.spans)
        .zip(edits)
        .enumerate()
        .peekable();
    while let Some((i, (((r, _), s), edit))) = all.next() {
        let span = (s, r);
        if apply(p, input, span, edit, &touched, &mut call, &mut replaced, i) {
            call.spans_changed += 1;
            changed = true;
        }
        let last_of_resource = all
            .peek()
            .is_none_or(|(_, ((_, next), _))| next.resource != s.resource);
        if last_of_resource && !replaced.is_empty() {
            resource_done(&scanned, &mut replaced, s.resource);
        }
    }
    let counters = p.finish_call(changed, call);
    (scanned, replaced, counters)
}

/// A request planned by the fast path: the processor's state already holds it.
struct Planned<'a> {
    scanned: Scan<'a>,
    /// Every span, or none when nothing in the request can change.
    spans: Vec<(SpanRef, Seen<'static>)>,
    edits: Vec<SpanEdit>,
    call: Counters,
}

/// Scans, reads evidence and plans (steps 1 and 2 of the module docs). Evidence read
/// ahead for this request (`prepared`) is used instead of reading those spans again, when
/// its spans are the scan's.
fn plan_request<'a>(
    p: &mut Processor,
    input: &'a [u8],
    now_unix_nano: u64,
    prepared: Option<Prepared<'_>>,
) -> Option<Planned<'a>> {
    // The carried scan when its frames are this request's, else a scan of it; the carried
    // evidence when its spans are the ones the scan flags.
    let carried = prepared.and_then(|pr| Some((pr.scan(input)?, pr.flagged)));
    let (scanned, carried) = match carried {
        Some((scanned, flagged)) => (scanned, Some(flagged)),
        None => (scan_request(&p.config, input)?, None),
    };
    let flagged = scanned.spans.iter().filter(|s| s.interesting).count();
    let n = scanned.spans.len() as u64;
    let mut call = Counters {
        requests: 1,
        spans_in: n,
        spans_out: n,
        ..Counters::default()
    };
    let now_secs = now_secs(now_unix_nano);
    if flagged == 0 && p.state.remap.len() == 0 {
        // Nothing can change: no span has evidence and no trace was adopted. This is most
        // requests of a fleet, so the per-span plan (all default edits) is skipped.
        plan::expire(&mut p.state, now_secs);
        return Some(Planned {
            scanned,
            spans: Vec::new(),
            edits: Vec::new(),
            call,
        });
    }
    let mut carried = carried
        .filter(|ahead| {
            ahead.len() == flagged
                && ahead
                    .iter()
                    .all(|(i, _)| scanned.spans.get(*i).is_some_and(|s| s.interesting))
        })
        .map(|ahead| ahead.into_iter());
    let mut evidence = Vec::with_capacity(flagged);
    let mut spans: Vec<(SpanRef, Seen)> = Vec::with_capacity(scanned.spans.len());
    for (i, s) in scanned.spans.iter().enumerate() {
        let mut seen = Seen::default();
        if s.interesting {
            let ahead = carried.as_mut().and_then(|c| c.next()).and_then(|(_, c)| c);
            let (ev, links) = match ahead {
                Some(read) => read,
                None => read_span(&p.config, input, s)?,
            };
            evidence.push((i, ev));
            seen.links = links.map(Box::new);
        }
        spans.push((span_ref((i, s)), seen));
    }

    // From here on the processor's state changes, so there is no going back.
    let edits = plan::plan(
        &mut p.state,
        &p.config,
        &spans,
        evidence,
        None,
        now_secs,
        &mut call,
    );
    Some(Planned {
        scanned,
        spans,
        edits,
        call,
    })
}

/// Applies one span's edit (step 3), adding the span to `out` as span `i` when it changed;
/// returns whether it did. Only flagged spans and spans of adopted traces can change.
#[allow(clippy::too_many_arguments)]
fn apply(
    p: &Processor,
    input: &[u8],
    (s, r): (&ScannedSpan<'_>, &SpanRef),
    edit: SpanEdit,
    touched: &[&str],
    call: &mut Counters,
    out: &mut Replacements,
    i: usize,
) -> bool {
    let remap = &p.state.remap;
    let adopted = remap.len() > 0 && r.trace.is_some_and(|t| remap.resolve(t).is_some());
    // The scanner validated every span as prost decodes it, so the bytes are there.
    let Some(bytes) = payload(input, s).filter(|_| s.interesting || adopted) else {
        return false;
    };
    let at = s.frame.payload..s.frame.end;
    let stand_in = StandIn::read(input, at.clone(), touched).filter(|_| p.edit_span_bytes);
    if let Some(mut stand_in) = stand_in {
        if apply::apply_span(&mut stand_in.span, r, edit, remap, &p.config, call) {
            out.push_with(i, |pieces| stand_in.write(pieces));
            return true;
        }
    } else if let Ok(mut span) = Span::decode(bytes) {
        if apply::apply_span(&mut span, r, edit, remap, &p.config, call) {
            // prost keeps no unknown fields: the span's own (a newer OTLP's) follow it as
            // they came (those nested in its attributes, events and links are lost).
            let unknown = unknown_span_fields(input, at);
            out.push_with(i, |pieces| {
                pieces.put(|buf| span.encode_raw(buf));
                unknown.into_iter().for_each(|field| pieces.input(field));
            });
            return true;
        }
    }
    false
}

/// The byte ranges of the fields of the span at `at` that `Span` does not know (tags past
/// `flags`, 16), in wire order.
fn unknown_span_fields(input: &[u8], at: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    const LAST_KNOWN: u32 = 16;
    let mut unknown = Vec::new();
    let Ok(mut fields) = crate::otlp::wire::Fields::new(input, at.start, at.end) else {
        return unknown;
    };
    while let Ok(Some(field)) = fields.next_field() {
        if field.tag > LAST_KNOWN {
            unknown.push(field.start..fields.position());
        }
    }
    unknown
}

/// Scans a request, flagging every span with an attribute or link evidence reads.
fn scan_request<'a>(config: &Settings, input: &'a [u8]) -> Option<Scan<'a>> {
    let span_attributes = evidence::span_keys(config);
    let interest = Interest {
        span_attributes: &span_attributes,
        link_attributes: evidence::LINK_KEYS,
    };
    scan::scan(input, &interest).ok()
}

/// A flagged span's evidence and existing links, read from its bytes (decoded only when
/// the view cannot vouch for a plain read); planning keeps its links, nothing else of it.
fn read_span(config: &Settings, input: &[u8], s: &ScannedSpan<'_>) -> Option<Carried> {
    let bytes = payload(input, s)?;
    let decoded;
    let view = match SpanView::read(bytes) {
        Some(view) => view,
        None => {
            decoded = Span::decode(bytes).ok()?;
            SpanView::of(&decoded)
        }
    };
    Some((evidence::of_view(&view, config), Existing::of(&view.links)))
}

fn now_secs(now_unix_nano: u64) -> u32 {
    u32::try_from(now_unix_nano / 1_000_000_000).unwrap_or(u32::MAX)
}

/// The span's ids, at the scan's position (resource, scope and span counted over the whole
/// request): only `apply::apply` reads positions, and the fast path rewrites spans one by
/// one instead.
fn span_ref((sp, s): (usize, &ScannedSpan<'_>)) -> SpanRef {
    SpanRef::new(
        (s.resource, s.scope, sp),
        (s.trace_id, s.span_id, s.parent_span_id),
    )
}

fn payload<'a>(input: &'a [u8], s: &ScannedSpan<'_>) -> Option<&'a [u8]> {
    input.get(s.frame.payload..s.frame.end)
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
