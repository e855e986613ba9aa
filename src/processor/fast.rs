//! The binary protobuf fast path: the same plan and the same edits as the full path, on
//! the spans that need them, without decoding the rest of the request.
//!
//! 1. [`scan`] walks the request in place, validating it as prost would, and flags every
//!    span that has an attribute evidence reads (`evidence::span_keys`:
//!    `rpc.system=aws-api`, the event attribute, a Step Functions execution ARN) or a link
//!    with `ptr.hash`. A span it does not flag has no evidence: the flag is a necessary
//!    condition of everything `evidence::of_span` reads. An input the scanner refuses goes
//!    to the full path, which reports the error as before.
//! 2. Flagged spans are decoded and their evidence read; past a budget a span is then kept
//!    as its links alone (decoded again in step 3). `plan::plan` runs over every span (unflagged ones with empty evidence), exactly
//!    as in the full path.
//! 3. `apply::apply_span` runs on the flagged spans and on the spans whose trace the
//!    adoption remap rewrites (decoded then); nothing else can change.
//!    Changed spans are re-encoded into one buffer and [`splice`]d into the input, fixing
//!    the enclosing length prefixes (or written out piece by piece,
//!    `Processor::process_traces_to`).
//!
//! So the output decodes to the full path's output, the counters are the same, and a
//! request nothing applies to is returned as the input bytes. Bytes outside changed spans
//! are kept as they arrived (unknown fields too), where the full path re-encodes them.

use super::edits::SpanRef;
use super::plan;
use super::{apply, evidence, Counters, Processed, Processor};
use crate::otlp::scan::{self, Interest, Scan, ScannedSpan};
use crate::otlp::splice::{splice, Replacements};
use crate::otlp::Encoding;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::borrow::Cow;

/// Encoded bytes of flagged spans kept decoded whole between planning and rewriting
/// (about 4x that in memory); the rest are decoded twice. Every request the relay accepts
/// by default (16 MiB) stays under it.
pub(super) const WHOLE_SPAN_BYTES: usize = 16 * 1024 * 1024;

/// Processes a binary protobuf request, or returns `None` (with the processor untouched)
/// when the full path must do it.
pub(super) fn process<'a>(
    p: &mut Processor,
    input: &'a [u8],
    now_unix_nano: u64,
) -> Option<Processed<'a>> {
    let done = rewrite(p, input, now_unix_nano)?;
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

/// The fast path up to the splice (see [`process`]), so a host can write the output in
/// pieces instead of building it.
pub(super) fn rewrite<'a>(
    p: &mut Processor,
    input: &'a [u8],
    now_unix_nano: u64,
) -> Option<Rewritten<'a>> {
    let span_attributes = evidence::span_keys(&p.config);
    let interest = Interest {
        span_attributes: &span_attributes,
        link_attributes: evidence::LINK_KEYS,
    };
    let scanned = scan::scan(input, &interest).ok()?;
    // Each flagged span's evidence is read from the whole span. Decoded spans take several
    // times their bytes, so past `WHOLE_SPAN_BYTES` of them a span is kept as its links
    // alone (all planning reads of a span besides evidence) and decoded again when it is
    // rewritten: a large batch does not hold all its decoded spans at once.
    let flagged = scanned.spans.iter().filter(|s| s.interesting).count();
    let mut decoded: Vec<(Span, bool)> = Vec::with_capacity(flagged);
    let mut evidence = Vec::with_capacity(flagged);
    let mut whole_bytes = 0;
    for (i, s) in scanned
        .spans
        .iter()
        .enumerate()
        .filter(|(_, s)| s.interesting)
    {
        let span = decode(input, s)?;
        evidence.push((i, evidence::of_span(&span, &p.config)));
        whole_bytes += s.frame.end.saturating_sub(s.frame.payload);
        decoded.push(if whole_bytes <= p.whole_span_bytes {
            (span, true)
        } else {
            let links = Span {
                links: span.links,
                ..Span::default()
            };
            (links, false)
        });
    }

    // From here on the processor's state changes, so there is no going back.
    let n = scanned.spans.len() as u64;
    let mut call = Counters {
        requests: 1,
        spans_in: n,
        spans_out: n,
        ..Counters::default()
    };
    let now_secs = u32::try_from(now_unix_nano / 1_000_000_000).unwrap_or(u32::MAX);
    let (refs, edits) = {
        let mut flagged = decoded.iter().map(|(span, _)| span);
        let spans: Vec<(SpanRef, Option<&Span>)> = scanned
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let r = span_ref((i, s));
                (r, s.interesting.then(|| flagged.next()).flatten())
            })
            .collect();
        let edits = plan::plan(
            &mut p.state,
            &p.config,
            &spans,
            evidence,
            None,
            now_secs,
            &mut call,
        );
        // Collected in place: the refs take no second allocation.
        let refs: Vec<SpanRef> = spans.into_iter().map(|(r, _)| r).collect();
        (refs, edits)
    };

    let remap = &p.state.remap;
    let mut flagged = decoded.into_iter();
    let mut replaced = Replacements::default();
    for (i, ((r, s), edit)) in refs.iter().zip(&scanned.spans).zip(edits).enumerate() {
        let span = if s.interesting {
            match flagged.next() {
                Some((span, true)) => Some(span),
                // Decoded above, so this succeeds again.
                _ => decode(input, s),
            }
        } else if remap.len() > 0 && r.trace.is_some_and(|t| remap.resolve(t).is_some()) {
            // The scanner validated this span as prost decodes it, so this succeeds.
            decode(input, s)
        } else {
            None
        };
        let Some(mut span) = span else { continue };
        if apply::apply_span(&mut span, r, edit, remap, &p.config, &mut call) {
            call.spans_changed += 1;
            replaced.push_span(i, &span);
        }
    }
    let outcome = p.settle(!replaced.is_empty(), call);
    // `finish` adds a call to the processor's counters; a caller of `rewrite` alone
    // (`Processor::process_traces_to`) has no other.
    p.counters.add(&outcome.counters);
    Some(Rewritten {
        scanned,
        replaced,
        counters: outcome.counters,
    })
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

fn decode(input: &[u8], s: &ScannedSpan<'_>) -> Option<Span> {
    let payload = input.get(s.frame.payload..s.frame.end)?;
    Span::decode(payload).ok()
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
