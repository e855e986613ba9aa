//! OTLP traces as indented trees for a terminal: one tree per trace, children under their
//! parent, each span with its service, kind, duration and start offset in the trace, its
//! links listed under it, and spans relink changed marked with the rules that applied (and
//! the trace they were adopted from). Used to show traces before and after relinking:
//!
//! ```text
//! trace 5b8efff798038103d269b633813fc60c (2 spans, 1.000 s)
//! ├─ thumbnailer [thumbnailer, server] 512.5 ms at +0 ms ◆ relinked: aws.s3.object
//! │    ↳ link to 0af7651916cd43dd8448eb211c80319c/3333333333333333 S3.PutObject [api] relink.rule=aws.s3.object
//! └─ late [thumbnailer] 0 ms at +1.000 s (parent 9999999999999999 not here)
//! ```
//!
//! Order is deterministic (traces by first start, siblings by start then span id), so the
//! output can be compared exactly. A span whose parent is not in the input is a root; a
//! parent cycle (malformed input) is broken where it is found.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span::Link, status::StatusCode, Span};
use relink::otlp::{self, ExportTraceServiceRequest};
use relink::DecodeError;

/// Link and attribute values longer than this are cut, so a line stays readable.
const MAX_VALUE_CHARS: usize = 48;

struct Node<'a> {
    span: &'a Span,
    service: &'a str,
}

/// Renders every trace of `request`.
pub fn render(request: &ExportTraceServiceRequest) -> String {
    render_many(std::slice::from_ref(request))
}

/// Renders the traces of several requests as one set (a trace may span requests).
pub fn render_many(requests: &[ExportTraceServiceRequest]) -> String {
    let mut traces: BTreeMap<&[u8], Vec<Node<'_>>> = BTreeMap::new();
    for request in requests {
        for resource_spans in &request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| string_attribute(&r.attributes, "service.name"))
                .unwrap_or("unknown service");
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                traces
                    .entry(span.trace_id.as_slice())
                    .or_default()
                    .push(Node { span, service });
            }
        }
    }
    let mut ordered: Vec<(&[u8], Vec<Node<'_>>)> = traces.into_iter().collect();
    ordered
        .sort_by_key(|(id, nodes)| (nodes.iter().map(|n| n.span.start_time_unix_nano).min(), *id));
    let names: Names<'_> = ordered
        .iter()
        .flat_map(|(_, nodes)| nodes)
        .map(|n| ((n.span.trace_id.as_slice(), n.span.span_id.as_slice()), n))
        .collect();
    let mut out = String::new();
    for (trace_id, nodes) in &ordered {
        render_trace(trace_id, nodes, &names, &mut out);
    }
    out
}

/// Renders OTLP bytes (protobuf, OTLP/JSON, or OTLP/JSON lines as the relay's `--out`
/// file holds them).
pub fn render_bytes(bytes: &[u8]) -> Result<String, DecodeError> {
    Ok(render_many(&decode_requests(bytes)?))
}

/// The requests in OTLP bytes: one (protobuf or OTLP/JSON), or one per line of OTLP/JSON
/// lines.
pub fn decode_requests(bytes: &[u8]) -> Result<Vec<ExportTraceServiceRequest>, DecodeError> {
    let encoding = otlp::detect(bytes);
    match encoding {
        otlp::Encoding::Json if is_json_lines(bytes) => bytes
            .split(|b| *b == b'\n')
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
            .map(otlp::decode_json)
            .collect(),
        _ => Ok(vec![otlp::decode(bytes, encoding)?]),
    }
}

/// More than one non-empty line, each starting with `{`.
fn is_json_lines(bytes: &[u8]) -> bool {
    let mut lines = bytes
        .split(|b| *b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()));
    let first = lines.next();
    let second = lines.next();
    first.is_some()
        && second.is_some()
        && bytes.split(|b| *b == b'\n').all(|l| {
            let t = l.trim_ascii_start();
            t.is_empty() || t.first() == Some(&b'{')
        })
}

type Names<'a> = HashMap<(&'a [u8], &'a [u8]), &'a Node<'a>>;

fn render_trace(trace_id: &[u8], nodes: &[Node<'_>], names: &Names<'_>, out: &mut String) {
    let start = nodes
        .iter()
        .map(|n| n.span.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = nodes
        .iter()
        .map(|n| n.span.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    let plural = if nodes.len() == 1 { "" } else { "s" };
    let _ = writeln!(
        out,
        "trace {} ({} span{plural}, {})",
        hex(trace_id),
        nodes.len(),
        duration(end.saturating_sub(start))
    );
    let ids: HashSet<&[u8]> = nodes.iter().map(|n| n.span.span_id.as_slice()).collect();
    let mut children: HashMap<&[u8], Vec<&Node<'_>>> = HashMap::new();
    let mut roots = Vec::new();
    for node in nodes {
        let parent = node.span.parent_span_id.as_slice();
        if !parent.is_empty() && parent != node.span.span_id.as_slice() && ids.contains(parent) {
            children.entry(parent).or_default().push(node);
        } else {
            roots.push(node);
        }
    }
    let by_start = |a: &&Node<'_>, b: &&Node<'_>| {
        (a.span.start_time_unix_nano, &a.span.span_id)
            .cmp(&(b.span.start_time_unix_nano, &b.span.span_id))
    };
    roots.sort_by(by_start);
    children.values_mut().for_each(|c| c.sort_by(by_start));
    let mut seen = HashSet::new();
    let mut tree = Tree {
        children: &children,
        names,
        start,
        seen: &mut seen,
        out,
    };
    tree.siblings(&roots, "");
    // Spans on a parent cycle are reachable from no root: show them as roots.
    let mut rest: Vec<&Node<'_>> = nodes
        .iter()
        .filter(|n| !tree.seen.contains(n.span.span_id.as_slice()))
        .collect();
    rest.sort_by(by_start);
    while let Some(first) = rest.first() {
        tree.siblings(&[*first], "");
        rest.retain(|n| !tree.seen.contains(n.span.span_id.as_slice()));
    }
    out.push('\n');
}

struct Tree<'t, 'a> {
    children: &'t HashMap<&'a [u8], Vec<&'a Node<'a>>>,
    names: &'t Names<'a>,
    start: u64,
    seen: &'t mut HashSet<&'a [u8]>,
    out: &'t mut String,
}

impl<'a> Tree<'_, 'a> {
    fn siblings(&mut self, nodes: &[&'a Node<'a>], prefix: &str) {
        let count = nodes.len();
        for (i, node) in nodes.iter().enumerate() {
            let last = i + 1 == count;
            self.node(node, prefix, last, prefix.is_empty());
        }
    }

    fn node(&mut self, node: &'a Node<'a>, prefix: &str, last: bool, root: bool) {
        if !self.seen.insert(node.span.span_id.as_slice()) {
            return;
        }
        let span = node.span;
        let (branch, indent) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let _ = write!(self.out, "{prefix}{branch}{} [{}", span.name, node.service);
        if let Some(kind) = kind_name(span.kind) {
            let _ = write!(self.out, ", {kind}");
        }
        let _ = write!(
            self.out,
            "] {} at +{}",
            duration(
                span.end_time_unix_nano
                    .saturating_sub(span.start_time_unix_nano)
            ),
            duration(span.start_time_unix_nano.saturating_sub(self.start))
        );
        let parent = span.parent_span_id.as_slice();
        if root && !parent.is_empty() {
            let _ = write!(self.out, " (parent {} not here)", hex(parent));
        }
        if let Some(status) = span
            .status
            .as_ref()
            .filter(|s| s.code == StatusCode::Error as i32)
        {
            let _ = write!(self.out, " ✗ error");
            if !status.message.is_empty() {
                let _ = write!(self.out, ": {}", cut(&status.message));
            }
        }
        if let Some(rules) = span.attributes.iter().find(|kv| kv.key == "relink.rules") {
            let _ = write!(self.out, " ◆ relinked: {}", value_text(kv_value(rules)));
        }
        if let Some(original) = string_attribute(&span.attributes, "relink.original_trace_id") {
            let _ = write!(self.out, " (was trace {original})");
        }
        self.out.push('\n');
        let child_prefix = format!("{prefix}{indent}");
        let kids: &[&Node<'_>] = self
            .children
            .get(span.span_id.as_slice())
            .map_or(&[], Vec::as_slice);
        let bar = if kids.is_empty() { "  " } else { "│ " };
        for link in &span.links {
            let _ = writeln!(self.out, "{child_prefix}{bar}↳ {}", self.link_text(link));
        }
        self.siblings(kids, &child_prefix);
    }

    fn link_text(&self, link: &Link) -> String {
        let mut text =
            if link.trace_id.iter().all(|b| *b == 0) && link.span_id.iter().all(|b| *b == 0) {
                "link (no span: a span pointer)".to_string()
            } else {
                format!("link to {}/{}", hex(&link.trace_id), hex(&link.span_id))
            };
        if let Some(target) = self
            .names
            .get(&(link.trace_id.as_slice(), link.span_id.as_slice()))
        {
            let _ = write!(text, " {} [{}]", target.span.name, target.service);
        }
        for kv in &link.attributes {
            let _ = write!(text, " {}={}", kv.key, cut(&value_text(kv_value(kv))));
        }
        text
    }
}

fn kind_name(kind: i32) -> Option<&'static str> {
    match kind {
        1 => Some("internal"),
        2 => Some("server"),
        3 => Some("client"),
        4 => Some("producer"),
        5 => Some("consumer"),
        _ => None,
    }
}

/// `0 ms`, `850 µs`, `120 ms`, `12.5 ms`, `1.250 s`.
fn duration(nanos: u64) -> String {
    match nanos {
        0 => "0 ms".to_string(),
        n if n < 1_000_000 => format!("{} µs", n / 1_000),
        n if n < 1_000_000_000 && n % 1_000_000 == 0 => format!("{} ms", n / 1_000_000),
        n if n < 1_000_000_000 => format!("{:.1} ms", n as f64 / 1e6),
        n => format!("{:.3} s", n as f64 / 1e9),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn kv_value(kv: &KeyValue) -> Option<&Value> {
    kv.value.as_ref().and_then(|v| v.value.as_ref())
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(kv_value)
    {
        Some(Value::StringValue(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn value_text(value: Option<&Value>) -> String {
    let any = |v: &AnyValue| value_text(v.value.as_ref());
    match value {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => hex(b),
        // An index into a profiles string table: meaningless without the table.
        Some(Value::StringValueStrindex(i)) => format!("#{i}"),
        Some(Value::ArrayValue(a)) => a.values.iter().map(any).collect::<Vec<_>>().join(","),
        Some(Value::KvlistValue(l)) => {
            let pairs: Vec<String> = l
                .values
                .iter()
                .map(|kv| format!("{}={}", kv.key, value_text(kv_value(kv))))
                .collect();
            format!("{{{}}}", pairs.join(","))
        }
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: &[u8] = include_bytes!("../tests/data/tree-input.json");

    #[test]
    fn renders_one_tree_per_trace_with_links_and_marks() {
        let rendered = render_bytes(INPUT).unwrap_or_else(|e| e.to_string());
        assert_eq!(
            rendered,
            "\
trace 0af7651916cd43dd8448eb211c80319c (4 spans, 1.250 s)
└─ GET /orders [api, server] 1.250 s at +0 ms
   ├─ process [api, internal] 800 ms at +10 ms
   │  └─ S3.PutObject [api, client] 120 ms at +20 ms ◆ relinked: aws.s3.object
   │       ↳ link (no span: a span pointer) ptr.kind=aws.s3.object ptr.dir=d ptr.hash=e721375466d4116ab551213fdea08413 link.kind=span-pointer
   └─ audit [api, internal] 500 µs at +900 ms ✗ error: boom

trace 5b8efff798038103d269b633813fc60c (2 spans, 1.000 s)
├─ thumbnailer [thumbnailer, server] 512.5 ms at +0 ms ◆ relinked: aws.s3.object (was trace aaaabbbbccccddddeeeeffff00001111)
│    ↳ link to 0af7651916cd43dd8448eb211c80319c/3333333333333333 S3.PutObject [api] relink.rule=aws.s3.object relink.match=exact
└─ late [thumbnailer] 0 ms at +1.000 s (parent 9999999999999999 not here)

"
        );
    }

    #[test]
    fn json_lines_render_as_one_set_of_traces() {
        let whole = decode_requests(INPUT).unwrap_or_default();
        let one = whole.first().cloned().unwrap_or_default();
        let mut lines = Vec::new();
        for resource_spans in one.resource_spans {
            lines.extend(otlp::encode_json(&ExportTraceServiceRequest {
                resource_spans: vec![resource_spans],
            }));
            lines.push(b'\n');
        }
        assert_eq!(decode_requests(&lines).map(|r| r.len()), Ok(2));
        assert_eq!(render_bytes(&lines), render_bytes(INPUT));
        assert_eq!(
            render_bytes(b"{\"resourceSpans\": 1}").map_err(|e| e.to_string()),
            Err("otlp json: resourceSpans: expected an array, got a number".to_string())
        );
    }

    /// A protobuf request prost refuses for a string that is not UTF-8 is drawn with
    /// U+FFFD there, as relink writes it.
    #[test]
    fn a_string_not_utf8_is_drawn_repaired() {
        let request = decode_requests(INPUT).unwrap_or_default();
        let good = otlp::encode_protobuf(&request.first().cloned().unwrap_or_default());
        let at = good.windows(4).position(|w| w == b"GET ").unwrap_or(0);
        let mut bad = good.clone();
        if let Some(byte) = bad.get_mut(at + 1) {
            *byte = 0xc3;
        }
        assert!(otlp::decode_protobuf(&bad).is_err());
        let drawn = render_bytes(&bad).unwrap_or_default();
        assert!(drawn.contains("G\u{fffd}T "), "{drawn}");
    }
}
