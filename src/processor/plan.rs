//! One batch, planned: which links each span gets, which traces are adopted, what happens
//! to event attributes and routing attributes. Reads the request, writes only the
//! processor's state (index, remap); [`super::apply`] then rewrites the request.
//!
//! Order inside a batch, so results do not depend on span order:
//! 1. every span's evidence is read;
//! 2. producers: pointer links, links to consumers seen in *earlier* batches, then their
//!    index entries (so a consumer later in the same batch finds them);
//! 3. consumers: pointer links, links to producers (this batch or earlier), links to
//!    message contexts, the link to the Step Functions state that invoked a Lambda, index
//!    entries, adoption;
//! 4. event attribute edits and route stamps.

use super::edits::{Seen, SpanEdit, SpanRef, Spans};
use super::evidence::{self, SpanEvidence};
use super::index::{Hit, Side};
use super::key::{Claim, Match, Rule};
use super::links::{self, Dir, Existing, Peer, Planned};
use super::view::SpanView;
use super::{stamp, stepfn, Counters, State};
use crate::event::Trigger;
use crate::otlp::ExportTraceServiceRequest;
use crate::settings::Settings;
use std::collections::HashMap;

/// A batch as [`plan`] reads it: every span, and each span's evidence by index.
pub(crate) type Read<'b> = (Vec<(SpanRef, Seen<'b>)>, Vec<(usize, SpanEvidence)>);

/// Every span of a decoded request as planning sees it, with its evidence.
pub(crate) fn read_request<'b>(req: &'b ExportTraceServiceRequest, config: &Settings) -> Read<'b> {
    let mut spans = Vec::new();
    let mut evidence = Vec::new();
    let limit = config.bounds.attributes_scanned;
    let all = req.resource_spans.iter().enumerate().flat_map(|(rs, r)| {
        r.scope_spans.iter().enumerate().flat_map(move |(ss, s)| {
            s.spans
                .iter()
                .enumerate()
                .map(move |(sp, span)| ((rs, ss, sp), span))
        })
    });
    for (at, span) in all {
        let ids = (
            &span.trace_id[..],
            &span.span_id[..],
            &span.parent_span_id[..],
        );
        let view = SpanView::of(span);
        evidence.push((spans.len(), evidence::of_view(&view, config)));
        let seen = Seen {
            links: Existing::of(&view.links).map(Box::new),
            route: view
                .attributes
                .get_str(&config.attributes.route, limit)
                .filter(|_| config.stamp.enabled),
        };
        spans.push((SpanRef::new(at, ids), seen));
    }
    (spans, evidence)
}

/// Plans a batch. `spans` and the returned edits are in the same order; `evidence` is
/// each span's evidence by index, in increasing order, as [`read_request`] gives it (the
/// fast path reads it from the spans' bytes, and only for spans its scanner flagged: most
/// spans of a batch have no entry).
pub(crate) fn plan(
    state: &mut State,
    config: &Settings,
    spans: Spans<'_, '_>,
    mut evidence: Vec<(usize, SpanEvidence)>,
    consumer: Option<(usize, &Trigger)>,
    now_secs: u32,
    counters: &mut Counters,
) -> Vec<SpanEdit> {
    if let Some((i, trigger)) = consumer {
        let at = match evidence.binary_search_by_key(&i, |(j, _)| *j) {
            Ok(at) => at,
            Err(at) => {
                evidence.insert(at, (i, SpanEvidence::default()));
                at
            }
        };
        if let Some((_, ev)) = evidence.get_mut(at) {
            // A span given its trigger was not started by an `Invoke` call.
            ev.consumer.retain(|c| c.rule != Rule::LambdaInvocation);
            evidence::of_trigger(trigger, config, ev);
        }
    }
    for p in evidence.iter().flat_map(|(_, e)| e.problems.iter()) {
        counters.problem(*p);
    }
    expire(state, now_secs);
    let mut edits: Vec<SpanEdit> = spans.iter().map(|_| SpanEdit::default()).collect();
    let mut batch = Batch {
        state,
        config,
        spans,
        edits: &mut edits,
        now_secs,
    };
    // Stamp mode reads the claims again to route; otherwise a span's claims are dropped
    // as soon as their pass is done, so a large batch does not hold every span's claims
    // and every planned link at once.
    let keep_claims = config.stamp.enabled;
    for (i, ev) in &mut evidence {
        if !ev.producer.is_empty() {
            batch.producer(*i, ev);
        }
        if !keep_claims {
            ev.producer = Vec::new();
        }
    }
    for (i, ev) in &mut evidence {
        let consumes = !ev.consumer.is_empty() || !ev.contexts.is_empty() || !ev.states.is_empty();
        if consumes && batch.consumer(*i, ev) {
            counters.traces_adopted += 1;
        }
        if !keep_claims {
            ev.consumer = Vec::new();
            ev.contexts = Vec::new();
            ev.states = Vec::new();
        }
    }
    for (i, ev) in &evidence {
        if let Some(edit) = edits.get_mut(*i) {
            edit.event = ev.has_event;
        }
    }
    if config.stamp.enabled {
        stamp::plan_routes(state, config, spans, &evidence, &mut edits);
    }
    edits
}

/// What planning does to the state whatever the batch holds: entries past their TTL
/// leave the index and the remap table. A batch that cannot change (no evidence, no
/// adopted trace) plans no more than this.
pub(crate) fn expire(state: &mut State, now_secs: u32) {
    state.index.expire(now_secs);
    state.remap.expire(now_secs);
}

struct Batch<'a, 'b> {
    state: &'a mut State,
    config: &'a Settings,
    spans: Spans<'a, 'b>,
    edits: &'a mut [SpanEdit],
    now_secs: u32,
}

impl Batch<'_, '_> {
    /// Plans a link unless the span has an equivalent one, as it arrived or planned.
    fn add(&mut self, i: usize, planned: Planned) {
        let (Some(edit), Some((_, span))) = (self.edits.get_mut(i), self.spans.get(i)) else {
            return;
        };
        if span.links.as_ref().is_some_and(|e| e.has(&planned))
            || edit.links.iter().any(|p| p.same_link(&planned))
        {
            return;
        }
        // Exact growth: every planned link is held until the batch is applied, and most
        // spans get one or two.
        edit.links.reserve_exact(1);
        edit.links.push(planned);
    }

    fn ids(&self, i: usize) -> Option<([u8; 16], [u8; 8])> {
        let (r, _) = self.spans.get(i)?;
        Some((self.state.remap.current(r.trace?), r.span?))
    }

    fn producer(&mut self, i: usize, ev: &SpanEvidence) {
        let ids = self.ids(i);
        for claim in &ev.producer {
            if self.config.pointer_links.enabled && claim.rule.is_pointer() {
                self.add(i, links::pointer(claim, Dir::Down));
            }
            let Some((trace, span)) = ids else { continue };
            if !self.config.direct_links.enabled {
                continue;
            }
            let mut linked = false;
            if let Some(hit) = self
                .state
                .index
                .get(claim.key, Side::Consumer, self.now_secs)
            {
                // A consumer that already linked to its producer is not linked back. An
                // invocation in the calling trace got the call's context: the invocation's
                // parent is not known here, so one trace is taken to say so. (A destination
                // record's consumer, rarely in the invocation's trace, is linked there.)
                let target = self.state.remap.current(hit.trace);
                let in_trace = claim.rule == Rule::LambdaInvocation && target == trace;
                if hit.span != span && !hit.linked && !in_trace {
                    self.add(i, links::direct(claim, Peer::Consumer, target, hit.span));
                    linked = true;
                }
            }
            self.state.index.insert(
                claim.key,
                Side::Producer,
                Hit {
                    trace,
                    span,
                    linked,
                },
                self.now_secs,
            );
        }
    }

    /// Returns whether the consumer's trace was adopted.
    fn consumer(&mut self, i: usize, ev: &SpanEvidence) -> bool {
        let ids = self.ids(i);
        let parent = self.spans.get(i).and_then(|(r, _)| r.parent);
        let mut claims: Vec<&Claim> = ev.consumer.iter().collect();
        claims.sort_by_key(|c| c.rule.match_kind().rank());
        let mut producers: Vec<([u8; 16], [u8; 8])> = Vec::new();
        for claim in claims {
            if self.config.pointer_links.enabled && claim.rule.is_pointer() {
                self.add(i, links::pointer(claim, Dir::Up));
            }
            let Some((trace, span)) = ids else { continue };
            if !self.config.direct_links.enabled {
                continue;
            }
            // A producer that linked to this very consumer (seen in an earlier batch) is
            // not linked back; another consumer of the same data is.
            let seen_before = self
                .state
                .index
                .get(claim.key, Side::Consumer, self.now_secs)
                .is_some_and(|h| h.span == span);
            let mut linked = false;
            if let Some(hit) = self
                .state
                .index
                .get(claim.key, Side::Producer, self.now_secs)
            {
                // An invocation that got its caller's context is the call's child already
                // (the same test as for contexts below).
                let target = self.state.remap.current(hit.trace);
                let child =
                    claim.rule.is_lambda_request() && target == trace && Some(hit.span) == parent;
                if hit.span != span && child {
                    // Joined by its parent: the producer must not link back to it either,
                    // when it is processed again.
                    linked = true;
                } else if hit.span != span {
                    linked = true;
                    if !(hit.linked && seen_before) {
                        self.add(i, links::direct(claim, Peer::Producer, target, hit.span));
                        if matches!(claim.rule.match_kind(), Match::Exact | Match::RequestId) {
                            producers.push((target, hit.span));
                        }
                    }
                }
            }
            self.state.index.insert(
                claim.key,
                Side::Consumer,
                Hit {
                    trace,
                    span,
                    linked,
                },
                self.now_secs,
            );
        }
        let Some((trace, span)) = ids else {
            return false;
        };
        for c in &ev.contexts {
            let target = (
                self.state.remap.current(c.found.context.trace_id.0),
                c.found.context.span_id.0,
            );
            let already_parent = target.0 == trace && Some(target.1) == parent;
            if target.1 != span && !already_parent {
                self.add(i, links::context(&c.found, c.message_id.as_deref()));
            }
        }
        for state in &ev.states {
            let target = self.state.remap.current(state.parent.trace_id.0);
            let already_parent = target == trace && Some(state.parent.span_id.0) == parent;
            if state.parent.span_id.0 != span && !already_parent {
                self.add(i, stepfn::state_link(state, target));
            }
        }
        self.adopt(i, ev, trace, &producers)
    }

    /// Adopts the consumer trace under the Step Functions state that invoked it or sent its
    /// messages (when `stepfunctions.lambda_join` says parent), else under the one producer trace it
    /// matched, else (with `messaging.parent_single_message`) under the single message's
    /// context, when the consumer trace's root is in this batch and no earlier pass linked
    /// the consumer.
    fn adopt(
        &mut self,
        i: usize,
        ev: &SpanEvidence,
        trace: [u8; 16],
        producers: &[([u8; 16], [u8; 8])],
    ) -> bool {
        if ev.relinked {
            return false;
        }
        // Under the first state when every state is in one workflow trace (one invoking
        // state, or a batch sent by one execution); states of several traces are links only.
        let states: Vec<([u8; 16], [u8; 8])> = ev
            .states
            .iter()
            .filter(|_| self.config.stepfunctions_parent)
            .map(|s| {
                (
                    self.state.remap.current(s.parent.trace_id.0),
                    s.parent.span_id.0,
                )
            })
            .collect();
        let mut target = states
            .first()
            .copied()
            .filter(|first| states.iter().all(|s| s.0 == first.0));
        if target.is_none() && self.config.adoption.enabled {
            if let Some(first) = producers.first() {
                if producers.iter().all(|p| p.0 == first.0) {
                    target = Some(*first);
                }
            }
        }
        if target.is_none() && self.config.messaging.parent_single_message && ev.messages == 1 {
            target = ev.contexts.first().map(|c| {
                (
                    self.state.remap.current(c.found.context.trace_id.0),
                    c.found.context.span_id.0,
                )
            });
        }
        let Some((to, parent)) = target else {
            return false;
        };
        if to == trace || !self.root_is_local(i) {
            return false;
        }
        self.state.remap.adopt(trace, to, parent, self.now_secs)
    }

    /// Whether following parents from span `i` within this batch reaches a span without
    /// a parent. A consumer span with a parent outside the batch (a remote caller, or
    /// Lambda's own X-Ray segment) is not re-parented: its trace is not ours to move.
    fn root_is_local(&self, i: usize) -> bool {
        let Some((start, _)) = self.spans.get(i) else {
            return false;
        };
        let by_id: HashMap<[u8; 8], Option<[u8; 8]>> = self
            .spans
            .iter()
            .filter(|(r, _)| r.trace == start.trace)
            .filter_map(|(r, _)| Some((r.span?, r.parent)))
            .collect();
        let mut parent = start.parent;
        for _ in 0..64 {
            match parent {
                None => return true,
                Some(p) => match by_id.get(&p) {
                    Some(next) => parent = *next,
                    None => return false,
                },
            }
        }
        false
    }
}
