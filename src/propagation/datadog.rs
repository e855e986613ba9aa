//! Datadog propagation headers.
//!
//! Rules follow the Datadog tracers' extractors (dd-trace-py `_DatadogMultiHeader`,
//! dd-trace-go `textmap.go`), which datadog-lambda-python applies to `_datadog` carriers:
//! - `x-datadog-trace-id`: decimal u64, the low 64 bits of the trace id; zero is invalid.
//! - `x-datadog-parent-id`: decimal u64 span id; zero means nothing to link to.
//! - `x-datadog-sampling-priority`: an integer, `> 0` kept, `<= 0` dropped; a value that is
//!   not an integer makes the whole context invalid, as in both tracers.
//! - `x-datadog-tags`: `key=value` pairs separated by `,`; `_dd.p.tid` holds the high 64
//!   bits as 16 lowercase hex digits. Tags above 512 bytes (the tracers' extraction limit),
//!   tags that do not decode, and a malformed `_dd.p.tid` are ignored, never fatal.
//!
//! Ids are only ever moved as bits: decimal u64 in, the same 8 bytes out as hex.

use super::{Format, SpanContext, SpanId, TraceId};

/// The trace id's low 64 bits, decimal.
pub const TRACE_ID: &str = "x-datadog-trace-id";
/// The parent span id, decimal.
pub const PARENT_ID: &str = "x-datadog-parent-id";
/// The sampling priority, an integer.
pub const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
/// Propagated trace tags, `_dd.p.tid` among them.
pub const TAGS: &str = "x-datadog-tags";

/// The tag holding the trace id's high 64 bits.
const TID_TAG: &str = "_dd.p.tid";
/// dd-trace-go `propagationExtractMaxSize` and dd-trace-py's default
/// `DD_TRACE_X_DATADOG_TAGS_MAX_LENGTH`: longer tags are not decoded.
const TAGS_MAX_LEN: usize = 512;

/// Builds a context from Datadog's headers: decimal 64-bit trace and parent ids, the
/// sampling priority, and `x-datadog-tags` carrying `_dd.p.tid` (the high 64 bits as hex).
pub fn from_fields(
    trace_id: &str,
    parent_id: &str,
    sampling_priority: Option<&str>,
    tags: Option<&str>,
) -> Option<SpanContext> {
    let low = parse_id(trace_id)?;
    let span = parse_id(parent_id)?;
    let sampled = match sampling_priority {
        Some(p) => Some(parse_priority(p)? > 0),
        None => None,
    };
    let high = tags.and_then(high_bits).unwrap_or(0);
    Some(SpanContext {
        trace_id: TraceId::from_u64_pair(high, low),
        span_id: SpanId::from_u64(span),
        sampled,
        tracestate: None,
        format: Format::Datadog,
    })
}

/// The high 64 bits from `_dd.p.tid` in an `x-datadog-tags` value, if present and valid.
pub fn high_bits(tags: &str) -> Option<u64> {
    if tags.len() > TAGS_MAX_LEN {
        return None;
    }
    let tid = decode_tags(tags)?
        .into_iter()
        .rev()
        .find_map(|(k, v)| (k == TID_TAG).then_some(v))?;
    if tid.len() != 16 || !super::ids::is_lower_hex(tid) {
        return None;
    }
    u64::from_str_radix(tid, 16).ok()
}

/// The Datadog headers for a context: trace id low bits and parent id in decimal, the
/// priority (`1` or `0`) when the sampling decision is known, and `_dd.p.tid` when the
/// trace id has high bits. The inverse of [`from_fields`] for kept and dropped contexts.
pub fn format_headers(ctx: &SpanContext) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (TRACE_ID, ctx.trace_id.low().to_string()),
        (PARENT_ID, ctx.span_id.as_u64().to_string()),
    ];
    if let Some(s) = ctx.sampled {
        out.push((SAMPLING_PRIORITY, u8::from(s).to_string()));
    }
    if ctx.trace_id.high() != 0 {
        out.push((TAGS, format!("{TID_TAG}={:016x}", ctx.trace_id.high())));
    }
    out
}

/// A non-zero decimal u64, digits only (no sign, no spaces).
fn parse_id(s: &str) -> Option<u64> {
    // Spaces and tabs around it, as Python's `int()` (datadog-lambda) and an HTTP header's
    // optional whitespace allow.
    let s = s.trim_matches([' ', '\t']);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v != 0)
}

/// An integer with an optional sign, as `int()` and `strconv.Atoi` read it.
fn parse_priority(s: &str) -> Option<i64> {
    let s = s.trim_matches([' ', '\t']);
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// Decodes `k1=v1,k2=v2` as dd-trace-go's `parsePropagatableTraceTags` does (empty keys or
/// values, or a member without `=`, fail the whole set), trimming spaces around keys and
/// values as dd-trace-py does.
fn decode_tags(tags: &str) -> Option<Vec<(&str, &str)>> {
    if tags.is_empty() {
        return Some(Vec::new());
    }
    tags.split(',')
        .map(|member| {
            let (k, v) = member.split_once('=')?;
            let (k, v) = (k.trim_matches(' '), v.trim_matches(' '));
            (!k.is_empty() && !v.is_empty()).then_some((k, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(trace: &str, span: &str, sampled: Option<bool>) -> SpanContext {
        SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap(),
            span_id: SpanId::from_hex(span).unwrap(),
            sampled,
            tracestate: None,
            format: Format::Datadog,
        }
    }

    #[test]
    fn sixty_four_bit_ids_convert_exactly() {
        // datadog-lambda-python sqs-string-msg-attribute.json.
        assert_eq!(
            from_fields(
                "2684756524522091840",
                "7431398482019833808",
                Some("1"),
                None
            ),
            Some(ctx(
                "000000000000000025422bd5a88d3540",
                "6721a18bd12b57d0",
                Some(true)
            ))
        );
        assert_eq!(
            from_fields("18446744073709551615", "1", None, None),
            Some(ctx(
                "0000000000000000ffffffffffffffff",
                "0000000000000001",
                None
            ))
        );
    }

    #[test]
    fn matches_the_w3c_context_datadog_wrote_beside_it() {
        // eventbridge-sqs.json `_datadog`: the Datadog ids and the traceparent are one span.
        let dd = from_fields(
            "7379586022458917877",
            "2644033662113726488",
            Some("1"),
            Some("_dd.p.dm=-0"),
        )
        .unwrap();
        let w3c = super::super::w3c::parse_traceparent(
            "00-000000000000000066698e63821a03f5-24b17e9b6476c018-01",
            None,
        )
        .unwrap();
        assert_eq!(
            (dd.trace_id, dd.span_id, dd.sampled),
            (w3c.trace_id, w3c.span_id, w3c.sampled)
        );
    }

    #[test]
    fn high_bits_come_from_dd_p_tid() {
        assert_eq!(
            from_fields(
                "2684756524522091840",
                "7431398482019833808",
                Some("2"),
                Some("_dd.p.dm=-0,_dd.p.tid=66bcb5eb00000000")
            ),
            Some(ctx(
                "66bcb5eb0000000025422bd5a88d3540",
                "6721a18bd12b57d0",
                Some(true)
            ))
        );
        assert_eq!(
            high_bits("_dd.p.tid=66bcb5eb00000000"),
            Some(0x66bc_b5eb_0000_0000)
        );
        assert_eq!(
            high_bits(" _dd.p.tid = 66bcb5eb00000000 ,_dd.p.dm=-1"),
            Some(0x66bc_b5eb_0000_0000)
        );
    }

    #[test]
    fn a_bad_tid_is_ignored_not_fatal() {
        let low = Some(ctx(
            "000000000000000025422bd5a88d3540",
            "6721a18bd12b57d0",
            None,
        ));
        let tags = [
            "_dd.p.tid=66BCB5EB00000000",
            "_dd.p.tid=66bcb5eb0000000",
            "_dd.p.tid=66bcb5eb000000000",
            "_dd.p.tid=66bcb5eb0000000g",
            "_dd.p.tid=",
            "_dd.p.tid",
            "_dd.p.dm=-0,,_dd.p.tid=66bcb5eb00000000",
            "=x,_dd.p.tid=66bcb5eb00000000",
            "_dd.p.dm=-0",
            "",
        ];
        for t in tags {
            assert_eq!(
                from_fields("2684756524522091840", "7431398482019833808", None, Some(t)),
                low,
                "{t}"
            );
        }
        let long = format!("_dd.p.tid=66bcb5eb00000000,_dd.p.x={}", "a".repeat(500));
        assert_eq!(high_bits(&long), None);
    }

    #[test]
    fn sampling_priority() {
        let s = |p: &str| from_fields("1", "2", Some(p), None).map(|c| c.sampled);
        assert_eq!(s("2"), Some(Some(true)));
        assert_eq!(s("1"), Some(Some(true)));
        assert_eq!(s("+1"), Some(Some(true)));
        assert_eq!(s("0"), Some(Some(false)));
        assert_eq!(s("-1"), Some(Some(false)));
        // Not an integer: both Datadog tracers drop the context.
        assert_eq!(s(""), None);
        assert_eq!(s("1.0"), None);
        assert_eq!(s("keep"), None);
        assert_eq!(s("-"), None);
        assert_eq!(s("99999999999999999999"), None);
    }

    #[test]
    fn invalid_ids_are_rejected() {
        for (t, p) in [
            ("0", "1"),
            ("1", "0"),
            ("", "1"),
            ("1", ""),
            ("-1", "1"),
            ("+1", "1"),
            ("1 2", "1"),
            ("0x10", "1"),
            ("18446744073709551616", "1"),
            ("1", "99999999999999999999999"),
            ("1e3", "1"),
        ] {
            assert_eq!(from_fields(t, p, Some("1"), None), None, "{t} {p}");
        }
        // Spaces and tabs around a value are not part of it (datadog-lambda's `int()`).
        let want = from_fields("1", "2", Some("1"), None);
        assert!(want.is_some());
        assert_eq!(from_fields(" 1", "2\t", Some(" 1 "), None), want);
    }

    #[test]
    fn formats_headers_and_round_trips() {
        let c = ctx(
            "66bcb5eb0000000025422bd5a88d3540",
            "6721a18bd12b57d0",
            Some(false),
        );
        let h = format_headers(&c);
        assert_eq!(
            h,
            vec![
                (TRACE_ID, "2684756524522091840".to_owned()),
                (PARENT_ID, "7431398482019833808".to_owned()),
                (SAMPLING_PRIORITY, "0".to_owned()),
                (TAGS, "_dd.p.tid=66bcb5eb00000000".to_owned()),
            ]
        );
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            from_fields(
                get(TRACE_ID).unwrap(),
                get(PARENT_ID).unwrap(),
                get(SAMPLING_PRIORITY),
                get(TAGS)
            ),
            Some(c)
        );
        let low = ctx("00000000000000000000000000003039", "0000000000010932", None);
        assert_eq!(
            format_headers(&low),
            vec![
                (TRACE_ID, "12345".to_owned()),
                (PARENT_ID, "67890".to_owned())
            ]
        );
    }
}
