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
use super::key::{Claim, Match};
use crate::propagation::{Format, Found};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::Span;
use std::collections::HashSet;

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

/// A link to add; its target trace id is resolved through the adoption remap when the
/// plan is applied, so it names the trace the target ends up in.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: LinkKind,
    pub link: Link,
    /// The rule named in the span's `relink.rules` once the link is added.
    pub rule: &'static str,
    /// The Datadog pointer hash named in `relink.pointer.hashes`, for pointer rules.
    pub hash: Option<String>,
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

/// The links a span has, as targets and pointer hashes.
#[derive(Debug, Default)]
pub struct Existing {
    targets: HashSet<(Vec<u8>, Vec<u8>)>,
    pointers: HashSet<(String, String)>,
}

impl Existing {
    pub fn of(span: &Span) -> Existing {
        let mut e = Existing::default();
        for link in &span.links {
            e.note(link);
        }
        e
    }

    /// Records a link; returns false when an equivalent one is already there.
    pub fn note(&mut self, link: &Link) -> bool {
        let a = &link.attributes;
        if let (Some(hash), Some(dir)) = (
            attrs::get_str(a, attrs::PTR_HASH, 16),
            attrs::get_str(a, attrs::PTR_DIR, 16),
        ) {
            return self.pointers.insert((hash.to_string(), dir.to_string()));
        }
        self.targets
            .insert((link.trace_id.clone(), link.span_id.clone()))
    }
}

pub fn pointer(claim: &Claim, dir: Dir) -> Planned {
    let link = Link {
        trace_id: vec![0; 16],
        span_id: vec![0; 8],
        attributes: vec![
            kv(attrs::PTR_KIND, claim.rule.name()),
            kv(attrs::PTR_DIR, dir.as_str()),
            kv(attrs::PTR_HASH, claim.key.to_hex()),
            kv(attrs::LINK_KIND, attrs::SPAN_POINTER),
        ],
        ..Default::default()
    };
    Planned {
        kind: LinkKind::Pointer,
        link,
        rule: claim.rule.name(),
        hash: Some(claim.key.to_hex()),
    }
}

pub fn direct(claim: &Claim, peer: Peer, trace: [u8; 16], span: [u8; 8]) -> Planned {
    let m = claim.rule.match_kind();
    let mut attributes = vec![
        kv(attrs::LINK_RULE, claim.rule.name()),
        kv(attrs::LINK_MATCH, m.name()),
        kv(attrs::LINK_KEY, claim.key.to_hex()),
        kv(
            attrs::LINK_PEER,
            match peer {
                Peer::Producer => "producer",
                Peer::Consumer => "consumer",
            },
        ),
    ];
    if let Some(id) = &claim.message_id {
        attributes.push(kv(attrs::MESSAGING_MESSAGE_ID, id.clone()));
    }
    let link = Link {
        trace_id: trace.to_vec(),
        span_id: span.to_vec(),
        attributes,
        ..Default::default()
    };
    let hash = claim.rule.is_pointer().then(|| claim.key.to_hex());
    Planned {
        kind: LinkKind::Direct(m),
        link,
        rule: claim.rule.name(),
        hash,
    }
}

pub fn context(found: &Found, message_id: Option<&str>) -> Planned {
    let c = &found.context;
    let mut attributes = vec![
        kv(attrs::LINK_RULE, super::key::Rule::MessagingContext.name()),
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
    let link = Link {
        trace_id: c.trace_id.0.to_vec(),
        span_id: c.span_id.0.to_vec(),
        trace_state: c.tracestate.clone().unwrap_or_default(),
        // W3C trace flags in the low byte: only "sampled" is known.
        flags: u32::from(c.sampled == Some(true)),
        attributes,
        ..Default::default()
    };
    Planned {
        kind: LinkKind::Context,
        link,
        rule: super::key::Rule::MessagingContext.name(),
        hash: None,
    }
}

/// The link from a re-parented root to the trace id it had.
pub fn adopted_from(original_trace: [u8; 16], span: [u8; 8]) -> Planned {
    let link = Link {
        trace_id: original_trace.to_vec(),
        span_id: span.to_vec(),
        attributes: vec![
            kv(attrs::LINK_RULE, super::key::Rule::Adoption.name()),
            kv(attrs::ORIGINAL_TRACE_ID, hex::encode(original_trace)),
        ],
        ..Default::default()
    };
    Planned {
        kind: LinkKind::Adoption,
        link,
        rule: super::key::Rule::Adoption.name(),
        hash: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::key::{Key, Rule};

    #[test]
    fn pointer_links_are_datadogs_and_dedupe() {
        let claim = Claim::pointer(Rule::S3Object, Key([0xab; 16]));
        let p = pointer(&claim, Dir::Down);
        assert_eq!(p.link.trace_id, vec![0; 16]);
        assert_eq!(p.link.span_id, vec![0; 8]);
        let names: Vec<(&str, &str)> = p
            .link
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
        let mut existing = Existing::default();
        assert!(existing.note(&p.link));
        assert!(!existing.note(&p.link));
        assert!(existing.note(&pointer(&claim, Dir::Up).link));
    }

    #[test]
    fn direct_links_say_why_and_dedupe_on_target() {
        let claim = Claim::id(Rule::SqsMessage, "m-1");
        let d = direct(&claim, Peer::Producer, [1; 16], [2; 8]);
        assert_eq!(d.kind, LinkKind::Direct(Match::Exact));
        let a = &d.link.attributes;
        assert_eq!(attrs::get_str(a, "relink.rule", 9), Some("aws.sqs.message"));
        assert_eq!(attrs::get_str(a, "relink.match", 9), Some("exact"));
        assert_eq!(attrs::get_str(a, "relink.peer", 9), Some("producer"));
        assert_eq!(attrs::get_str(a, "messaging.message.id", 9), Some("m-1"));
        let mut existing = Existing::default();
        assert!(existing.note(&d.link));
        let again = direct(
            &Claim::id(Rule::S3Request, "r"),
            Peer::Producer,
            [1; 16],
            [2; 8],
        );
        assert!(!existing.note(&again.link));
    }
}
