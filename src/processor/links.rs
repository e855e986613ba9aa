//! The links relink writes, and the check that keeps reprocessing idempotent.
//!
//! - Pointer links are Datadog's exactly: zero trace and span ids, attributes `ptr.kind`,
//!   `ptr.dir`, `ptr.hash`, `link.kind=span-pointer`.
//! - Direct links point at the other side's real span, with `relink.rule`, `relink.match`,
//!   `relink.key` and `relink.peer` saying why.
//! - Context links point at a context found in a message, with its format, carrier and
//!   the message id.
//!
//! A link is not added when the span already has one to the same span (or, for pointer
//! links, with the same hash and direction), so processing output again adds nothing.

use super::attrs::{self, kv};
use super::key::{Claim, Key, Match, Rule};
use super::view::LinkView;
use crate::propagation::{Format, Found};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::Link;

/// What a link is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Pointer,
    Direct(Match),
    Context,
    /// A Lambda invocation to the Step Functions state span that invoked it.
    State,
    Adoption,
}

/// A link to add, held as what it says rather than as a built `Link` (a batch plans a
/// few links per span with evidence and holds them all until it is applied); its target
/// trace is resolved through the adoption remap when the plan is applied, so it names the
/// trace the target ends up in.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: LinkKind,
    /// The linked span: its trace and span ids (zero for pointer links).
    pub trace: [u8; 16],
    pub span: [u8; 8],
    says: Says,
}

/// A planned link's attributes (and W3C fields).
#[derive(Debug, Clone, PartialEq)]
enum Says {
    Pointer {
        rule: Rule,
        dir: Dir,
        key: Key,
    },
    Direct {
        claim: Claim,
        peer: Peer,
    },
    Adopted,
    /// Context and Step Functions state links, built when planned (they are few).
    Built {
        rule: Rule,
        attributes: Vec<KeyValue>,
        trace_state: String,
        flags: u32,
    },
}

impl Planned {
    /// The match kind named in the span's `relink.matches`.
    pub fn match_name(&self) -> Option<&'static str> {
        match self.kind {
            LinkKind::Direct(m) => Some(m.name()),
            LinkKind::Context => Some(Match::Context.name()),
            LinkKind::State => Some(attrs::DETERMINISTIC),
            LinkKind::Pointer | LinkKind::Adoption => None,
        }
    }

    /// The link's target follows its trace's adoption (all but pointer and adoption links,
    /// whose ids are fixed).
    pub fn follows_adoption(&self) -> bool {
        matches!(
            self.kind,
            LinkKind::Direct(_) | LinkKind::Context | LinkKind::State
        )
    }

    /// A link with attributes already built (context and state links).
    pub(crate) fn built(
        kind: LinkKind,
        (trace, span): ([u8; 16], [u8; 8]),
        rule: Rule,
        attributes: Vec<KeyValue>,
        (trace_state, flags): (String, u32),
    ) -> Planned {
        Planned {
            kind,
            trace,
            span,
            says: Says::Built {
                rule,
                attributes,
                trace_state,
                flags,
            },
        }
    }

    /// The rule named in the span's `relink.rules` once the link is added.
    pub fn rule(&self) -> &'static str {
        match &self.says {
            Says::Pointer { rule, .. } | Says::Built { rule, .. } => rule.name(),
            Says::Direct { claim, .. } => claim.rule.name(),
            Says::Adopted => Rule::Adoption.name(),
        }
    }

    /// The Datadog pointer hash named in `relink.pointer.hashes`, for pointer rules.
    pub fn hash(&self) -> Option<Key> {
        match &self.says {
            Says::Pointer { key, .. } => Some(*key),
            Says::Direct { claim, .. } => claim.rule.is_pointer().then_some(claim.key),
            Says::Adopted | Says::Built { .. } => None,
        }
    }

    /// What makes it the same link as another (see [`Existing`]).
    fn id(&self) -> LinkId {
        match &self.says {
            Says::Pointer { dir, key, .. } => LinkId::Pointer(*key, *dir),
            _ => LinkId::Target(self.trace, self.span),
        }
    }

    /// Whether two planned links are the same link.
    pub fn same_link(&self, other: &Planned) -> bool {
        self.id() == other.id()
    }

    /// The link as written.
    pub fn into_link(self) -> Link {
        let (attributes, trace_state, flags) = match self.says {
            Says::Pointer { rule, dir, key } => (
                vec![
                    kv(attrs::PTR_KIND, rule.name()),
                    kv(attrs::PTR_DIR, dir.as_str()),
                    kv(attrs::PTR_HASH, key.to_hex()),
                    kv(attrs::LINK_KIND, attrs::SPAN_POINTER),
                ],
                String::new(),
                0,
            ),
            Says::Direct { claim, peer } => {
                let mut a = vec![
                    kv(attrs::LINK_RULE, claim.rule.name()),
                    kv(attrs::LINK_MATCH, claim.rule.match_kind().name()),
                    kv(attrs::LINK_KEY, claim.key.to_hex()),
                    kv(attrs::LINK_PEER, peer.as_str()),
                ];
                // A destination record's request id names no message.
                let message = claim
                    .message_id
                    .filter(|_| claim.rule != Rule::LambdaDestination);
                if let Some(id) = message {
                    a.push(kv(attrs::MESSAGING_MESSAGE_ID, id));
                }
                (a, String::new(), 0)
            }
            Says::Adopted => (
                vec![
                    kv(attrs::LINK_RULE, Rule::Adoption.name()),
                    kv(
                        attrs::ORIGINAL_TRACE_ID,
                        crate::propagation::lower_hex(&self.trace),
                    ),
                ],
                String::new(),
                0,
            ),
            Says::Built {
                attributes,
                trace_state,
                flags,
                ..
            } => (attributes, trace_state, flags),
        };
        Link {
            trace_id: self.trace.to_vec(),
            span_id: self.span.to_vec(),
            trace_state,
            attributes,
            flags,
            ..Default::default()
        }
    }
}

/// Direction of a pointer link: the write (`d`) or the triggered span (`u`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Down,
    Up,
}

impl Dir {
    fn as_str(self) -> &'static str {
        match self {
            Dir::Down => "d",
            Dir::Up => "u",
        }
    }
}

/// The side the linked span is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Producer,
    Consumer,
}

impl Peer {
    fn as_str(self) -> &'static str {
        match self {
            Peer::Producer => "producer",
            Peer::Consumer => "consumer",
        }
    }
}

/// The links a span has, as targets and pointer hashes: a short list (spans have a few
/// links), one per span that has or gets a link while its batch is planned.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Existing(Vec<LinkId>);

/// What makes two links the same: a pointer link's hash and direction, any other link's
/// target. Ids and hashes in the form relink writes are held inline; anything else (which
/// no link relink plans can equal) boxed as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LinkId {
    Target([u8; 16], [u8; 8]),
    Pointer(Key, Dir),
    OtherTarget(Box<(Vec<u8>, Vec<u8>)>),
    OtherPointer(Box<(String, String)>),
}

impl Existing {
    /// The links of a span, or `None` when it has none.
    pub(crate) fn of(links: &[LinkView<'_>]) -> Option<Existing> {
        if links.is_empty() {
            return None;
        }
        let mut e = Existing(Vec::with_capacity(links.len()));
        for link in links {
            let a = &link.attributes;
            let pointer = a
                .get_str(attrs::PTR_HASH, 16)
                .zip(a.get_str(attrs::PTR_DIR, 16));
            let id = match pointer {
                Some((hash, dir)) => pointer_id(hash, dir),
                None => target_id(link.trace_id, link.span_id),
            };
            e.add(id);
        }
        Some(e)
    }

    /// Whether the span has a link equivalent to a planned one.
    pub fn has(&self, link: &Planned) -> bool {
        self.0.contains(&link.id())
    }

    fn add(&mut self, id: LinkId) {
        if !self.0.contains(&id) {
            self.0.push(id);
        }
    }
}

fn pointer_id(hash: &str, dir: &str) -> LinkId {
    let parsed = match dir {
        "d" => Some(Dir::Down),
        "u" => Some(Dir::Up),
        _ => None,
    };
    // Only a hash in relink's own form (32 lowercase hex digits) can equal a planned one.
    let key = Key::from_hash(hash).filter(|k| k.to_hex() == hash);
    match (key, parsed) {
        (Some(key), Some(dir)) => LinkId::Pointer(key, dir),
        _ => LinkId::OtherPointer(Box::new((hash.to_string(), dir.to_string()))),
    }
}

fn target_id(trace: &[u8], span: &[u8]) -> LinkId {
    match (<[u8; 16]>::try_from(trace), <[u8; 8]>::try_from(span)) {
        (Ok(t), Ok(s)) => LinkId::Target(t, s),
        _ => LinkId::OtherTarget(Box::new((trace.to_vec(), span.to_vec()))),
    }
}

pub fn pointer(claim: &Claim, dir: Dir) -> Planned {
    Planned {
        kind: LinkKind::Pointer,
        trace: [0; 16],
        span: [0; 8],
        says: Says::Pointer {
            rule: claim.rule,
            dir,
            key: claim.key,
        },
    }
}

pub fn direct(claim: &Claim, peer: Peer, trace: [u8; 16], span: [u8; 8]) -> Planned {
    Planned {
        kind: LinkKind::Direct(claim.rule.match_kind()),
        trace,
        span,
        says: Says::Direct {
            claim: claim.clone(),
            peer,
        },
    }
}

pub fn context(found: &Found, message_id: Option<&str>) -> Planned {
    let c = &found.context;
    let mut attributes = vec![
        kv(attrs::LINK_RULE, Rule::MessagingContext.name()),
        kv(attrs::LINK_MATCH, Match::Context.name()),
        kv(
            attrs::LINK_CONTEXT_FORMAT,
            match c.format {
                Format::W3c => "w3c",
                Format::Xray => "xray",
                Format::Datadog => "datadog",
            },
        ),
        kv(attrs::LINK_CONTEXT_CARRIER, found.carrier.clone()),
    ];
    if let Some(id) = message_id {
        attributes.push(kv(attrs::MESSAGING_MESSAGE_ID, id));
    }
    // W3C trace flags in the low byte: only "sampled" is known.
    let w3c = (
        c.tracestate.clone().unwrap_or_default(),
        u32::from(c.sampled == Some(true)),
    );
    Planned::built(
        LinkKind::Context,
        (c.trace_id.0, c.span_id.0),
        Rule::MessagingContext,
        attributes,
        w3c,
    )
}

/// The link from a re-parented root to the trace id it had.
pub fn adopted_from(original_trace: [u8; 16], span: [u8; 8]) -> Planned {
    Planned {
        kind: LinkKind::Adoption,
        trace: original_trace,
        span,
        says: Says::Adopted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_links_are_datadogs_and_dedupe() {
        let claim = Claim::pointer(Rule::S3Object, Key([0xab; 16]));
        let p = pointer(&claim, Dir::Down);
        let link = p.clone().into_link();
        assert_eq!(link.trace_id, vec![0; 16]);
        assert_eq!(link.span_id, vec![0; 8]);
        let names: Vec<(&str, &str)> = link
            .attributes
            .iter()
            .map(|kv| {
                (
                    kv.key.as_str(),
                    attrs::get_str(std::slice::from_ref(kv), &kv.key, 1).unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("ptr.kind", "aws.s3.object"),
                ("ptr.dir", "d"),
                ("ptr.hash", "abababababababababababababababab"),
                ("link.kind", "span-pointer"),
            ]
        );
        assert!(p.same_link(&pointer(&claim, Dir::Down)));
        assert!(!p.same_link(&pointer(&claim, Dir::Up)));
        // A pointer link that arrived on the span is the same as a planned one.
        let arrived = Existing::of(&[crate::processor::view::LinkView {
            trace_id: &link.trace_id,
            span_id: &link.span_id,
            attributes: crate::processor::view::Attrs(vec![
                (
                    b"ptr.hash",
                    crate::processor::view::AttrValue::Str(b"abababababababababababababababab"),
                ),
                (b"ptr.dir", crate::processor::view::AttrValue::Str(b"d")),
            ]),
        }]);
        let arrived = arrived.unwrap();
        assert!(arrived.has(&p));
        assert!(!arrived.has(&pointer(&claim, Dir::Up)));
    }

    #[test]
    fn direct_links_say_why_and_dedupe_on_target() {
        let claim = Claim::id(Rule::SqsMessage, "m-1");
        let d = direct(&claim, Peer::Producer, [1; 16], [2; 8]);
        assert_eq!(d.kind, LinkKind::Direct(Match::Exact));
        let link = d.clone().into_link();
        let a = &link.attributes;
        assert_eq!(attrs::get_str(a, "relink.rule", 9), Some("aws.sqs.message"));
        assert_eq!(attrs::get_str(a, "relink.match", 9), Some("exact"));
        assert_eq!(attrs::get_str(a, "relink.peer", 9), Some("producer"));
        assert_eq!(attrs::get_str(a, "messaging.message.id", 9), Some("m-1"));

        let again = direct(
            &Claim::id(Rule::S3Request, "r"),
            Peer::Producer,
            [1; 16],
            [2; 8],
        );
        assert!(d.same_link(&again));
        assert!(!d.same_link(&direct(&claim, Peer::Producer, [1; 16], [3; 8])));
    }
}
