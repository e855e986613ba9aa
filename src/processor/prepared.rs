//! A request's evidence read ahead, on another processor, and carried as bytes.
//!
//! Reading evidence (scanning the request, parsing each consumer's trigger event,
//! computing pointer keys) is most of relinking's cost when many spans carry evidence, and
//! it depends on the configuration alone. Planning and applying depend on the index and
//! the remap table, which one processor owns. So a host with several instances of the
//! component (the relay) reads evidence on any of them ([`Processor::prepare_traces`])
//! while the instance holding the state is busy, then hands the bytes to that instance
//! ([`Processor::process_traces_prepared`]), which plans and applies exactly as if it had
//! read the evidence itself: same output, same counters.
//!
//! The bytes are a private format between instances of the same build (a version byte
//! guards it): the scan (where each resource, scope and span sits, so the owner does not
//! walk the request again), then each flagged span's index and evidence. A span with Step
//! Functions state claims or with links of its own is not carried (the owner reads it
//! again: rare, and it keeps the format small). Every carried frame is checked against the
//! request (its key, its length prefix, its nesting) before it is used, so bytes from
//! another request cannot make the owner write a malformed one; bytes that do not decode or
//! do not fit the request are ignored and the owner scans and reads it itself.
//!
//! [`Processor::prepare_traces`]: super::Processor::prepare_traces
//! [`Processor::process_traces_prepared`]: super::Processor::process_traces_prepared

use super::claims::{ContextClaim, Problem, SpanEvidence};
use super::key::{Claim, Key, Rule};
use super::links::Existing;
use crate::otlp::scan::{Frame, Scan, ScannedSpan};
use crate::otlp::wire::{read_varint, write_varint};
use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};

/// The format's first byte; a change to the layout changes it.
const VERSION: u8 = 1;

/// What [`super::Processor::prepare_traces`] read from a request, as the owner decodes it.
#[derive(Debug, PartialEq)]
pub(crate) struct Prepared<'p> {
    /// The request's length, checked against the request the owner is given.
    input_len: usize,
    /// The scan, decoded and checked against the request by [`Prepared::scan`] (so the
    /// owner never holds it twice).
    scan: &'p [u8],
    /// Every span the scan flagged, in order: its index and, unless the owner must read
    /// it, its evidence.
    pub flagged: Vec<(usize, Option<Carried>)>,
}

/// One flagged span's evidence and existing links, as read ahead (carried only for a span
/// without links, see [`carries`]).
pub(crate) type Carried = (SpanEvidence, Option<Existing>);

/// The request's field numbers: `resource_spans` (1), `scope_spans` (2), `spans` (2).
const RESOURCE_SPANS: u32 = 1;
const SCOPE_SPANS: u32 = 2;
const SPANS: u32 = 2;

/// Whether a span's evidence can be carried as bytes: not when it has state claims or the
/// span has links (both rare; the owner reads such a span itself).
pub(crate) fn carries((evidence, links): &Carried) -> bool {
    evidence.states.is_empty() && links.is_none()
}

/// The bytes for a request's scan and its flagged spans' evidence (`None` entries are
/// read by the owner; the links of a carried span are not written: it has none).
pub(crate) fn encode(
    input: &[u8],
    scan: &Scan<'_>,
    flagged: &[(usize, Option<Carried>)],
) -> Vec<u8> {
    let mut section = Writer(Vec::with_capacity(16 + scan.spans.len() * 16));
    section.len(scan.resources.len());
    for r in &scan.resources {
        section.frame(r);
    }
    section.len(scan.scopes.len());
    for (resource, f) in &scan.scopes {
        section.len(*resource);
        section.frame(f);
    }
    section.len(scan.spans.len());
    for s in &scan.spans {
        section.len(s.resource);
        section.len(s.scope);
        section.frame(&s.frame);
        for ids in [s.trace_id, s.span_id, s.parent_span_id] {
            section.len(ids.len());
            if !ids.is_empty() {
                let offset = (ids.as_ptr() as usize).wrapping_sub(input.as_ptr() as usize);
                section.len(offset.wrapping_sub(s.frame.payload));
            }
        }
        section.0.push(u8::from(s.interesting));
    }
    let mut w = Writer(Vec::with_capacity(
        16 + section.0.len() + flagged.len() * 96,
    ));
    w.0.push(VERSION);
    w.len(input.len());
    w.bytes(&section.0);
    w.len(flagged.len());
    for (i, carried) in flagged {
        w.len(*i);
        match carried {
            None => w.0.push(0),
            Some((evidence, _)) => {
                w.0.push(1);
                w.evidence(evidence);
            }
        }
    }
    w.0
}

impl<'p> Prepared<'p> {
    /// The prepared evidence, or `None` for bytes this build did not write. Only the
    /// layout is checked here; [`Prepared::scan`] checks the scan against the request.
    pub fn decode(bytes: &'p [u8]) -> Option<Prepared<'p>> {
        let mut r = Reader(bytes);
        if r.byte()? != VERSION {
            return None;
        }
        let input_len = r.len()?;
        let scan = r.bytes()?;
        let n = r.count()?;
        let mut flagged = Vec::with_capacity(n);
        let mut last = None;
        for _ in 0..n {
            let i = r.len()?;
            // Strictly increasing, as the scan gives them.
            if last.is_some_and(|l| i <= l) {
                return None;
            }
            last = Some(i);
            let carried = match r.byte()? {
                0 => None,
                1 => Some((r.evidence()?, None)),
                _ => return None,
            };
            flagged.push((i, carried));
        }
        r.0.is_empty().then_some(Prepared {
            input_len,
            scan,
            flagged,
        })
    }

    /// The carried scan over `input`, or `None` unless every frame is the field it claims
    /// to be at its place in `input`, nested and in order as a scan finds them, and every
    /// id lies inside its span.
    pub fn scan<'a>(&self, input: &'a [u8]) -> Option<Scan<'a>> {
        if self.input_len != input.len() {
            return None;
        }
        let mut r = Reader(self.scan);
        let n = r.count()?;
        let mut resources: Vec<Frame> = Vec::with_capacity(n);
        for _ in 0..n {
            let f = r.frame()?;
            let after = resources.last().map_or(0, |r| r.end);
            if f.start < after || !f.is_field_in(input, RESOURCE_SPANS) {
                return None;
            }
            resources.push(f);
        }
        let n = r.count()?;
        let mut scopes: Vec<(usize, Frame)> = Vec::with_capacity(n);
        for _ in 0..n {
            let (resource, f) = (r.len()?, r.frame()?);
            let parent = resources.get(resource)?;
            let after = match scopes.last() {
                Some(&(r, last)) if r == resource => last.end,
                Some(&(r, _)) if r > resource => return None,
                _ => parent.payload,
            };
            if f.start < after || f.end > parent.end || !f.is_field_in(input, SCOPE_SPANS) {
                return None;
            }
            scopes.push((resource, f));
        }
        let n = r.count()?;
        let mut spans: Vec<ScannedSpan<'a>> = Vec::with_capacity(n);
        for _ in 0..n {
            let (resource, scope, f) = (r.len()?, r.len()?, r.frame()?);
            let &(scope_resource, parent) = scopes.get(scope)?;
            let after = match spans.last() {
                Some(last) if last.scope == scope => last.frame.end,
                Some(last) if last.scope > scope => return None,
                _ => parent.payload,
            };
            if resource != scope_resource
                || f.start < after
                || f.end > parent.end
                || !f.is_field_in(input, SPANS)
            {
                return None;
            }
            let mut ids: [&'a [u8]; 3] = [&[]; 3];
            for id in &mut ids {
                let len = r.len()?;
                if len > 0 {
                    let start = f.payload.checked_add(r.len()?)?;
                    let end = start.checked_add(len)?;
                    *id = input.get(start..end).filter(|_| end <= f.end)?;
                }
            }
            let interesting = match r.byte()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            let [trace_id, span_id, parent_span_id] = ids;
            spans.push(ScannedSpan {
                resource,
                scope,
                frame: f,
                trace_id,
                span_id,
                parent_span_id,
                interesting,
            });
        }
        r.0.is_empty().then_some(Scan {
            resources,
            scopes,
            spans,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    /// A protobuf varint. Not inlined: called at every field, for a blob of a few bytes per
    /// span (it keeps the component under 1 MiB).
    #[inline(never)]
    fn len(&mut self, n: usize) {
        write_varint(&mut self.0, n as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    /// A frame as its start and three lengths (key, length prefix, payload): small
    /// numbers. A frame that is not ordered so (never one a scan makes) is written so
    /// that it cannot be read back as a field.
    fn frame(&mut self, f: &Frame) {
        self.len(f.start);
        self.len(f.len_at.wrapping_sub(f.start));
        self.len(f.payload.wrapping_sub(f.len_at));
        self.len(f.end.wrapping_sub(f.payload));
    }

    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.bytes(s.as_bytes());
            }
        }
    }

    fn evidence(&mut self, e: &SpanEvidence) {
        let SpanEvidence {
            producer,
            consumer,
            contexts,
            states: _,
            messages,
            has_event,
            relinked,
            problems,
        } = e;
        for claims in [producer, consumer] {
            self.len(claims.len());
            for c in claims {
                self.claim(c);
            }
        }
        self.len(contexts.len());
        for c in contexts {
            self.context(c);
        }
        self.len(*messages as usize);
        self.0
            .push(u8::from(*has_event) | (u8::from(*relinked) << 1));
        self.len(problems.len());
        for p in problems {
            self.0.push(problem_code(*p));
        }
    }

    fn claim(&mut self, c: &Claim) {
        let Claim {
            rule,
            key,
            message_id,
        } = c;
        self.0.push(rule_code(*rule));
        self.0.extend_from_slice(&key.0);
        self.opt_str(message_id);
    }

    fn context(&mut self, c: &ContextClaim) {
        let ContextClaim { found, message_id } = c;
        let Found { context, carrier } = found;
        let SpanContext {
            trace_id,
            span_id,
            sampled,
            tracestate,
            format,
        } = context;
        self.0.extend_from_slice(&trace_id.0);
        self.0.extend_from_slice(&span_id.0);
        self.0.push(match sampled {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        self.opt_str(tracestate);
        self.0.push(match format {
            Format::W3c => 0,
            Format::Xray => 1,
            Format::Datadog => 2,
        });
        self.bytes(carrier.as_bytes());
        self.opt_str(message_id);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A protobuf varint (not inlined, as [`Writer::len`]).
    #[inline(never)]
    fn len(&mut self) -> Option<usize> {
        let mut at = 0;
        let n = read_varint(self.0, &mut at).ok()?;
        self.0 = self.0.get(at..)?;
        usize::try_from(n).ok()
    }

    /// A list's length, at most the bytes left (every entry takes one at least), so that a
    /// corrupt one cannot reserve memory.
    fn count(&mut self) -> Option<usize> {
        self.len().filter(|&n| n <= self.0.len())
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn frame(&mut self) -> Option<Frame> {
        let start = self.len()?;
        let len_at = start.checked_add(self.len()?)?;
        let payload = len_at.checked_add(self.len()?)?;
        let end = payload.checked_add(self.len()?)?;
        Some(Frame {
            start,
            len_at,
            payload,
            end,
        })
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_owned)
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }

    fn evidence(&mut self) -> Option<SpanEvidence> {
        let mut claims = [Vec::new(), Vec::new()];
        for list in &mut claims {
            let n = self.count()?;
            for _ in 0..n {
                list.push(self.claim()?);
            }
        }
        let [producer, consumer] = claims;
        let n = self.count()?;
        let mut contexts = Vec::with_capacity(n);
        for _ in 0..n {
            contexts.push(self.context()?);
        }
        let messages = u32::try_from(self.len()?).ok()?;
        let flags = self.byte()?;
        if flags > 3 {
            return None;
        }
        let n = self.count()?;
        let mut problems = Vec::with_capacity(n);
        for _ in 0..n {
            problems.push(problem_of(self.byte()?)?);
        }
        Some(SpanEvidence {
            producer,
            consumer,
            contexts,
            states: Vec::new(),
            messages,
            has_event: flags & 1 != 0,
            relinked: flags & 2 != 0,
            problems,
        })
    }

    fn claim(&mut self) -> Option<Claim> {
        let rule = rule_of(self.byte()?)?;
        let key = Key(self.array()?);
        let message_id = self.opt_str()?;
        Some(Claim {
            rule,
            key,
            message_id,
        })
    }

    fn context(&mut self) -> Option<ContextClaim> {
        let trace_id = TraceId(self.array()?);
        let span_id = SpanId(self.array()?);
        let sampled = match self.byte()? {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return None,
        };
        let tracestate = self.opt_str()?;
        let format = match self.byte()? {
            0 => Format::W3c,
            1 => Format::Xray,
            2 => Format::Datadog,
            _ => return None,
        };
        let carrier = self.string()?;
        let message_id = self.opt_str()?;
        Some(ContextClaim {
            found: Found {
                context: SpanContext {
                    trace_id,
                    span_id,
                    sampled,
                    tracestate,
                    format,
                },
                carrier,
            },
            message_id,
        })
    }
}

/// Every rule and its code: the position in this list.
const RULES: [Rule; 15] = [
    Rule::S3Object,
    Rule::S3Request,
    Rule::S3Key,
    Rule::DynamodbItem,
    Rule::SqsMessage,
    Rule::SnsMessage,
    Rule::EventbridgeEvent,
    Rule::KinesisRecord,
    Rule::StepfunctionsExecution,
    Rule::StepfunctionsState,
    Rule::MessagingContext,
    Rule::Adoption,
    Rule::KafkaRecord,
    Rule::LambdaInvocation,
    Rule::LambdaDestination,
];

fn rule_code(rule: Rule) -> u8 {
    // Exhaustive, so a new rule cannot be left out of `RULES` unnoticed.
    match rule {
        Rule::S3Object => 0,
        Rule::S3Request => 1,
        Rule::S3Key => 2,
        Rule::DynamodbItem => 3,
        Rule::SqsMessage => 4,
        Rule::SnsMessage => 5,
        Rule::EventbridgeEvent => 6,
        Rule::KinesisRecord => 7,
        Rule::StepfunctionsExecution => 8,
        Rule::StepfunctionsState => 9,
        Rule::MessagingContext => 10,
        Rule::Adoption => 11,
        Rule::KafkaRecord => 12,
        Rule::LambdaInvocation => 13,
        Rule::LambdaDestination => 14,
    }
}

fn rule_of(code: u8) -> Option<Rule> {
    RULES.get(usize::from(code)).copied()
}

const PROBLEMS: [Problem; 6] = [
    Problem::EventTooLarge,
    Problem::EventJson,
    Problem::EventUnknown,
    Problem::EventInvalid,
    Problem::DynamodbKeys,
    Problem::DynamodbKeySchema,
];

fn problem_code(p: Problem) -> u8 {
    match p {
        Problem::EventTooLarge => 0,
        Problem::EventJson => 1,
        Problem::EventUnknown => 2,
        Problem::EventInvalid => 3,
        Problem::DynamodbKeys => 4,
        Problem::DynamodbKeySchema => 5,
    }
}

fn problem_of(code: u8) -> Option<Problem> {
    PROBLEMS.get(usize::from(code)).copied()
}

#[cfg(test)]
#[path = "prepared_tests.rs"]
mod tests;
