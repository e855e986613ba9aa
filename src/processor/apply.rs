//! Applies a plan to the decoded request: adoption rewrites, new links, the span
//! attributes that say why, event attribute edits, route stamps. Reports whether anything
//! changed, so an untouched request can be returned as the input bytes.

use super::adopt::Remap;
use super::attrs;
use super::edits::{SpanEdit, SpanRef};
use super::links;
use super::Counters;
use crate::config::EventOutput;
use crate::settings::Settings;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;

pub(crate) fn apply(
    req: &mut ExportTraceServiceRequest,
    refs: &[SpanRef],
    edits: Vec<SpanEdit>,
    remap: &Remap,
    config: &Settings,
    counters: &mut Counters,
) -> bool {
    let mut any = false;
    for (r, edit) in refs.iter().zip(edits) {
        let span = req
            .resource_spans
            .get_mut(at(r.rs))
            .and_then(|x| x.scope_spans.get_mut(at(r.ss)))
            .and_then(|x| x.spans.get_mut(at(r.sp)));
        let Some(span) = span else { continue };
        if apply_span(span, r, edit, remap, config, counters) {
            counters.spans_changed += 1;
            any = true;
        }
    }
    any
}

/// Applies one span's edit and any adoption of its trace; returns whether the span
/// changed (the caller counts it).
pub(crate) fn apply_span(
    span: &mut Span,
    r: &SpanRef,
    edit: SpanEdit,
    remap: &Remap,
    config: &Settings,
    counters: &mut Counters,
) -> bool {
    let mut changed = false;
    let mut planned = edit.links;
    if let (Some(trace), Some(own)) = (r.trace, r.span) {
        if let Some(target) = remap.resolve(trace) {
            span.trace_id = target.trace.to_vec();
            counters.spans_adopted += 1;
            changed = true;
            if attrs::get_str(&span.attributes, attrs::ORIGINAL_TRACE_ID, usize::MAX).is_none() {
                attrs::set_str(
                    &mut span.attributes,
                    attrs::ORIGINAL_TRACE_ID,
                    &crate::propagation::lower_hex(&trace),
                );
            }
            if r.parent.is_none() {
                span.parent_span_id = target.parent.to_vec();
                planned.insert(0, links::adopted_from(trace, own));
            } else {
                attrs::merge_strings(&mut span.attributes, attrs::RULES, &[attrs_rule_adoption()]);
            }
        }
    }
    let limit = config.bounds.links_per_span;
    let (mut rules, mut hashes, mut matches) = (Vec::new(), Vec::new(), Vec::new());
    for mut p in planned {
        if span.links.len() >= limit {
            counters.links.over_limit += 1;
            continue;
        }
        // The target may have been adopted later in the same batch.
        if p.follows_adoption() {
            p.trace = remap.current(p.trace);
        }
        push_new(&mut rules, p.rule().to_string());
        if let Some(h) = p.hash() {
            push_new(&mut hashes, h.to_hex());
        }
        if let Some(m) = p.match_name() {
            push_new(&mut matches, m.to_string());
        }
        counters.link(p.kind);
        span.links.push(p.into_link());
        changed = true;
    }
    let a = &mut span.attributes;
    changed |= attrs::merge_strings(a, attrs::RULES, &rules);
    changed |= attrs::merge_strings(a, attrs::POINTER_HASHES, &hashes);
    changed |= attrs::merge_strings(a, attrs::MATCHES, &matches);
    let event = &config.attributes.event;
    match config.event_attribute.output {
        _ if !edit.event => {}
        EventOutput::Keep => {}
        EventOutput::Remove => changed |= attrs::remove(a, event),
        EventOutput::Truncate => {
            changed |= attrs::truncate_str(a, event, config.event_truncate_bytes)
        }
    }
    if let Some(route) = edit.route {
        changed |= attrs::set_str(a, &config.attributes.route, &route);
    }
    changed
}

fn attrs_rule_adoption() -> String {
    super::key::Rule::Adoption.name().to_string()
}

fn push_new(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// A position as an index (saturating where `usize` is narrower, so it finds nothing).
fn at(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
