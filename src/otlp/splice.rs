//! Rewrites a scanned request with some spans replaced: every byte outside the replaced
//! spans is copied as it arrived (unknown fields, field order and all), and the length
//! prefixes of the `ScopeSpans` and `ResourceSpans` that enclose a replaced span are
//! rewritten for their new sizes.
//!
//! The result decodes to the input's request with those spans replaced: each span is one
//! element of a repeated field, so swapping its bytes swaps exactly that element.

use super::scan::{Frame, Scan};
use super::wire::{varint_bytes, varint_len};
use prost::Message;
use std::convert::Infallible;
use std::ops::Range;

/// Replaced spans, each with its index in `Scan::spans`, as pieces: ranges of the input
/// (the parts of a span an edit keeps) and new bytes, held in one buffer. A batch that
/// changes every span holds only what it adds, not a second copy of the spans.
#[derive(Debug, Default, Clone)]
pub struct Replacements {
    spans: Vec<(usize, Range<usize>)>,
    pieces: Vec<Piece>,
    bytes: Vec<u8>,
}

/// A part of a replaced span: `start..end` of the input, or of the new bytes.
#[derive(Debug, Clone, Copy)]
struct Piece {
    input: bool,
    start: usize,
    end: usize,
}

/// The pieces of one span being replaced (see [`Replacements::push_with`]).
pub struct Pieces<'r> {
    pieces: &'r mut Vec<Piece>,
    bytes: &'r mut Vec<u8>,
    first: usize,
}

impl Pieces<'_> {
    /// Appends `range` of the input.
    pub fn input(&mut self, range: Range<usize>) {
        self.push(true, range);
    }

    /// Appends the bytes `write` appends to the buffer it is given.
    pub fn put(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(self.bytes);
        self.push(false, start..self.bytes.len());
    }

    /// Adjacent parts of one span become one piece.
    fn push(&mut self, input: bool, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        if self.pieces.len() > self.first {
            if let Some(last) = self.pieces.last_mut() {
                if last.input == input && last.end == range.start {
                    last.end = range.end;
                    return;
                }
            }
        }
        self.pieces.push(Piece {
            input,
            start: range.start,
            end: range.end,
        });
    }
}

impl Replacements {
    /// Replaces span `i` with `span` (encoded without its length prefix).
    pub fn push_span<M: Message>(&mut self, i: usize, span: &M) {
        self.push_with(i, |p| p.put(|buf| span.encode_raw(buf)));
    }

    /// Replaces span `i` with `payload`, an encoded span.
    pub fn push_bytes(&mut self, i: usize, payload: &[u8]) {
        self.push_with(i, |p| p.put(|buf| buf.extend_from_slice(payload)));
    }

    /// Replaces span `i` with the pieces `write` gives (an encoded span without its length
    /// prefix).
    pub fn push_with(&mut self, i: usize, write: impl FnOnce(&mut Pieces<'_>)) {
        let first = self.pieces.len();
        write(&mut Pieces {
            pieces: &mut self.pieces,
            bytes: &mut self.bytes,
            first,
        });
        self.spans.push((i, first..self.pieces.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Empties the replacements, keeping their buffers.
    pub fn clear(&mut self) {
        self.spans.clear();
        self.pieces.clear();
        self.bytes.clear();
    }

    /// The replacements `splice` applies: in increasing span index, each span at most once,
    /// inside the scan; others are ignored.
    fn kept<'r>(&'r self, scan: &Scan<'_>) -> Vec<(usize, &'r [Piece])> {
        let mut kept: Vec<(usize, &[Piece])> = Vec::with_capacity(self.spans.len());
        for (i, range) in &self.spans {
            let Some(pieces) = self.pieces.get(range.clone()) else {
                continue;
            };
            if *i < scan.spans.len() && kept.last().is_none_or(|l| *i > l.0) {
                kept.push((*i, pieces));
            }
        }
        kept
    }

    /// The bytes of a piece; a range outside its buffer is empty, in lengths and output
    /// alike.
    fn bytes<'a>(&'a self, input: &'a [u8], piece: &Piece) -> &'a [u8] {
        let from = if piece.input { input } else { &self.bytes };
        from.get(piece.start..piece.end).unwrap_or_default()
    }

    fn len(&self, input: &[u8], pieces: &[Piece]) -> usize {
        pieces.iter().map(|p| self.bytes(input, p).len()).sum()
    }
}

/// Where spliced bytes go: a `Vec`, or a writer of the host's (the CLI writes its output
/// file piece by piece rather than holding a second copy of the request).
pub trait Sink {
    type Error;
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

impl Sink for Vec<u8> {
    type Error = Infallible;
    fn put(&mut self, bytes: &[u8]) -> Result<(), Infallible> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// The input with the spans of `replacements` replaced, in a new buffer.
pub fn splice(input: &[u8], scan: &Scan<'_>, replacements: &Replacements) -> Vec<u8> {
    let mut out = Vec::with_capacity(spliced_len(input, scan, replacements));
    match splice_to(input, scan, replacements, &mut out) {
        Ok(()) | Err(_) => out,
    }
}

/// The size of `splice`'s output.
pub fn spliced_len(input: &[u8], scan: &Scan<'_>, replacements: &Replacements) -> usize {
    let kept = replacements.kept(scan);
    let (_, resource_len) = lengths(input, scan, replacements, &kept);
    let (mut grown, mut shrunk) = (0, 0);
    for (r, len) in resource_len {
        if let Some(frame) = scan.resources.get(r) {
            let old = frame.end.saturating_sub(frame.start);
            let new = field_len(frame, len);
            grown += new.saturating_sub(old);
            shrunk += old.saturating_sub(new);
        }
    }
    (input.len() + grown).saturating_sub(shrunk)
}

/// Writes the input with the spans of `replacements` replaced to `sink`.
pub fn splice_to<S: Sink>(
    input: &[u8],
    scan: &Scan<'_>,
    replacements: &Replacements,
    sink: &mut S,
) -> Result<(), S::Error> {
    splice_part(input, scan, replacements, 0..input.len(), sink)
}

/// Writes `input[part]` with the spans of `replacements` replaced to `sink`: one part of
/// [`splice_to`]'s output, for a part that holds every replaced span with the frames that
/// enclose it (whole `ResourceSpans`), so a caller can write a request resource by
/// resource, holding one resource's replacements at a time.
pub fn splice_part<S: Sink>(
    input: &[u8],
    scan: &Scan<'_>,
    replacements: &Replacements,
    part: Range<usize>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let kept = replacements.kept(scan);
    let (scope_len, resource_len) = lengths(input, scan, replacements, &kept);
    let mut cursor = part.start;
    let (mut open_resource, mut open_scope) = (None, None);
    for (i, pieces) in kept {
        let Some(span) = scan.spans.get(i) else {
            continue;
        };
        if open_resource != Some(span.resource) {
            if let (Some(frame), Some(len)) = (
                scan.resources.get(span.resource),
                find(&resource_len, span.resource),
            ) {
                cursor = header(sink, input, cursor, frame, len)?;
            }
            open_resource = Some(span.resource);
        }
        if open_scope != Some(span.scope) {
            if let (Some((_, frame)), Some(len)) =
                (scan.scopes.get(span.scope), find(&scope_len, span.scope))
            {
                cursor = header(sink, input, cursor, frame, len)?;
            }
            open_scope = Some(span.scope);
        }
        let len = replacements.len(input, pieces);
        header(sink, input, cursor, &span.frame, len)?;
        for piece in pieces {
            sink.put(replacements.bytes(input, piece))?;
        }
        cursor = span.frame.end;
    }
    sink.put(input.get(cursor..part.end).unwrap_or_default())
}

/// The new payload length of every scope and resource holding a replaced span, by index,
/// in increasing order (the kept spans are in increasing order, and a scope's spans and a
/// resource's scopes are consecutive in the scan).
fn lengths(
    input: &[u8],
    scan: &Scan<'_>,
    replacements: &Replacements,
    kept: &[(usize, &[Piece])],
) -> (Lengths, Lengths) {
    let mut scope_len: Lengths = Vec::new();
    for (i, pieces) in kept {
        let Some(span) = scan.spans.get(*i) else {
            continue;
        };
        let old = span.frame.end.saturating_sub(span.frame.start);
        let new = field_len(&span.frame, replacements.len(input, pieces));
        match scope_len.last_mut() {
            Some((s, len)) if *s == span.scope => *len = len.saturating_sub(old) + new,
            _ => {
                let current = span_payload_len(&scan.scopes, span.scope);
                scope_len.push((span.scope, current.saturating_sub(old) + new));
            }
        }
    }
    let mut resource_len: Lengths = Vec::new();
    for (s, new_payload) in &scope_len {
        let Some((r, frame)) = scan.scopes.get(*s) else {
            continue;
        };
        let old = frame.end.saturating_sub(frame.start);
        let new = field_len(frame, *new_payload);
        match resource_len.last_mut() {
            Some((x, len)) if x == r => *len = len.saturating_sub(old) + new,
            _ => {
                let current = scan
                    .resources
                    .get(*r)
                    .map_or(0, |f| f.end.saturating_sub(f.payload));
                resource_len.push((*r, current.saturating_sub(old) + new));
            }
        }
    }
    (scope_len, resource_len)
}

/// New payload lengths of scopes or resources: `(index, length)` in increasing index.
type Lengths = Vec<(usize, usize)>;

/// The length `lengths` gives index `at`.
fn find(lengths: &[(usize, usize)], at: usize) -> Option<usize> {
    let i = lengths.binary_search_by_key(&at, |(k, _)| *k).ok()?;
    lengths.get(i).map(|(_, len)| *len)
}

/// Writes the input from `cursor` up to `frame`, then its key and the new length prefix;
/// returns the offset to write from next (the frame's payload).
fn header<S: Sink>(
    sink: &mut S,
    input: &[u8],
    cursor: usize,
    frame: &Frame,
    len: usize,
) -> Result<usize, S::Error> {
    sink.put(input.get(cursor..frame.len_at).unwrap_or_default())?;
    let (prefix, n) = varint_bytes(len as u64);
    sink.put(prefix.get(..n).unwrap_or_default())?;
    Ok(frame.payload)
}

/// A field's size with a payload of `payload` bytes (the key kept as it arrived).
fn field_len(frame: &Frame, payload: usize) -> usize {
    frame.len_at.saturating_sub(frame.start) + varint_len(payload as u64) + payload
}

fn span_payload_len(scopes: &[(usize, Frame)], s: usize) -> usize {
    scopes
        .get(s)
        .map_or(0, |(_, f)| f.end.saturating_sub(f.payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::scan::{scan, Interest};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    const NONE: Interest<'static> = Interest {
        span_attributes: &[],
        link_attributes: &[],
    };

    fn span(name: &str) -> Span {
        Span {
            name: name.into(),
            ..Default::default()
        }
    }

    fn request(names: &[&[&[&str]]]) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: names
                .iter()
                .map(|scopes| ResourceSpans {
                    scope_spans: scopes
                        .iter()
                        .map(|spans| ScopeSpans {
                            spans: spans.iter().map(|n| span(n)).collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    #[test]
    fn replaced_spans_decode_in_place_and_lengths_grow_across_varint_sizes() {
        let before = request(&[&[&["a", "b"], &["c"]], &[&["d"]]]);
        let input = before.encode_to_vec();
        let scanned = scan(&input, &NONE).unwrap_or_default();
        assert_eq!(scanned.spans.len(), 4);
        // "b" grows past 127 bytes, so its length prefix (and its scope's and resource's)
        // takes two bytes; "d" shrinks.
        let long = "x".repeat(300);
        let mut replacements = Replacements::default();
        replacements.push_span(1, &span(&long));
        replacements.push_span(3, &Span::default());
        let out = splice(&input, &scanned, &replacements);
        assert_eq!(out.len(), spliced_len(&input, &scanned, &replacements));
        let mut want = before.clone();
        want.resource_spans[0].scope_spans[0].spans[1] = span(&long);
        want.resource_spans[1].scope_spans[0].spans[0] = Span::default();
        assert_eq!(ExportTraceServiceRequest::decode(out.as_slice()), Ok(want));
    }

    #[test]
    fn written_resource_by_resource_it_is_the_same_bytes() {
        let mut input = request(&[&[&["a", "b"], &["c"]], &[&["d"]], &[&["e"]]]).encode_to_vec();
        input.extend_from_slice(&[0x48, 0x02]); // an unknown top-level field at the end
        let scanned = scan(&input, &NONE).unwrap_or_default();
        let long = span(&"x".repeat(300));
        let mut all = Replacements::default();
        all.push_span(1, &long);
        all.push_span(4, &Span::default());
        let whole = splice(&input, &scanned, &all);
        // Resource 0 (spans 0 to 2), resource 1 unchanged, resource 2 (span 4).
        let mut out = Vec::new();
        let mut part = Replacements::default();
        part.push_span(1, &long);
        let end = |r: usize| scanned.resources.get(r).map_or(0, |f| f.end);
        let end0 = end(0);
        let _ = splice_part(&input, &scanned, &part, 0..end0, &mut out);
        part.clear();
        part.push_span(4, &Span::default());
        let end2 = end(2);
        let _ = splice_part(&input, &scanned, &part, end0..end2, &mut out);
        out.extend_from_slice(input.get(end2..).unwrap_or_default());
        assert_eq!(out, whole);
    }

    #[test]
    fn untouched_bytes_are_kept_including_unknown_fields() {
        let mut input = request(&[&[&["a"]]]).encode_to_vec();
        // An unknown top-level field (tag 9, varint) before and after.
        input.splice(0..0, [0x48, 0x01]);
        input.extend_from_slice(&[0x48, 0x02]);
        let scanned = scan(&input, &NONE).unwrap_or_default();
        let mut z = Replacements::default();
        z.push_bytes(0, &span("z").encode_to_vec());
        let out = splice(&input, &scanned, &z);
        assert_eq!(out.get(..2), Some(&[0x48, 0x01][..]));
        assert_eq!(out.get(out.len() - 2..), Some(&[0x48, 0x02][..]));
        assert_eq!(
            ExportTraceServiceRequest::decode(out.as_slice()),
            Ok(request(&[&[&["z"]]]))
        );
        assert_eq!(splice(&input, &scanned, &Replacements::default()), input);
        // Out-of-order and out-of-range replacements are ignored.
        let mut outside = Replacements::default();
        outside.push_bytes(5, &[1]);
        assert_eq!(splice(&input, &scanned, &outside), input);
        let mut twice = Replacements::default();
        twice.push_bytes(0, &span("z").encode_to_vec());
        twice.push_bytes(0, &span("y").encode_to_vec());
        assert_eq!(splice(&input, &scanned, &twice), out);
    }
}
