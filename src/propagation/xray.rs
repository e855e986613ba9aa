//! AWS X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;Sampled=1`).
//!
//! The header is `;`-separated `key=value` pairs in any order, as AWS documents in "Tracing
//! header" (X-Ray developer guide). `Root` is `1-{8 hex}-{24 hex}` and maps to the 32-hex
//! trace id by dropping the version and dashes; `Parent` is the 16-hex segment id;
//! `Sampled` is `1`, `0` or `?` (decision requested of the receiver). Other keys (`Lineage`,
//! `Self`, vendor data) are ignored. Like the OpenTelemetry and Datadog X-Ray propagators,
//! a pair without `=` or a malformed known value rejects the whole header; a duplicated
//! known key does too, since either copy could be the right one.

use super::{Format, SpanContext, SpanId, TraceId};

/// The only X-Ray trace id version.
const ROOT_VERSION: &str = "1";

/// Parses an X-Ray header. A header without `Parent` has no span to link to: `None`.
pub fn parse(value: &str) -> Option<SpanContext> {
    let mut root = None;
    let mut parent = None;
    // Outer `Option`: whether the key was seen; inner: the decision.
    let mut sampled: Option<Option<bool>> = None;
    for part in value.split(';') {
        let part = part.trim();
        if part.is_empty() {
            // A trailing `;` is common and harmless.
            continue;
        }
        let (key, val) = part.split_once('=')?;
        let val = val.trim();
        match key.trim() {
            "Root" => set_once(&mut root, parse_root(val)?)?,
            "Parent" => set_once(&mut parent, SpanId::from_lower_hex(val)?)?,
            "Sampled" => set_once(&mut sampled, parse_sampled(val)?)?,
            _ => {}
        }
    }
    let (trace_id, span_id) = (root?, parent?);
    if !trace_id.is_valid() || !span_id.is_valid() {
        return None;
    }
    Some(SpanContext {
        trace_id,
        span_id,
        sampled: sampled.flatten(),
        tracestate: None,
        format: Format::Xray,
    })
}

/// Parses a `Root` value: `1-5759e988-bd862e3fe1be46a994272793` gives trace id
/// `5759e988bd862e3fe1be46a994272793`.
pub fn parse_root(root: &str) -> Option<TraceId> {
    let mut parts = root.split('-');
    let (version, time, unique) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != ROOT_VERSION || time.len() != 8 || unique.len() != 24 {
        return None;
    }
    TraceId::from_lower_hex(&format!("{time}{unique}"))
}

/// Formats a trace id as an X-Ray `Root` value: the inverse of [`parse_root`].
pub fn format_root(trace_id: &TraceId) -> String {
    let hex = trace_id.to_hex();
    let (time, unique) = hex.split_at(8);
    format!("{ROOT_VERSION}-{time}-{unique}")
}

/// Formats `Root=1-...;Parent=...;Sampled=1|0`. An unknown sampling decision leaves
/// `Sampled` out, so the receiver decides as it would for a header without one.
pub fn format(ctx: &SpanContext) -> String {
    let root = format_root(&ctx.trace_id);
    match ctx.sampled {
        Some(s) => format!("Root={root};Parent={};Sampled={}", ctx.span_id, u8::from(s)),
        None => format!("Root={root};Parent={}", ctx.span_id),
    }
}

fn parse_sampled(v: &str) -> Option<Option<bool>> {
    match v {
        "1" => Some(Some(true)),
        "0" => Some(Some(false)),
        "?" => Some(None),
        _ => None,
    }
}

/// Stores `value` unless the key was already seen; `None` on a duplicate.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn ctx(trace: &str, span: &str, sampled: Option<bool>) -> SpanContext {
        SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap(),
            span_id: SpanId::from_hex(span).unwrap(),
            sampled,
            tracestate: None,
            format: Format::Xray,
        }
    }

    #[test]
    fn documented_example() {
        assert_eq!(
            parse(DOC),
            Some(ctx(
                "5759e988bd862e3fe1be46a994272793",
                "53995c3f42cd8ad8",
                Some(true)
            ))
        );
    }

    #[test]
    fn sqs_aws_trace_header_fixtures() {
        // datadog-lambda-python sqs-java-upstream.json and eventbridge-sqs.json.
        assert_eq!(
            parse("Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;Sampled=1"),
            Some(ctx(
                "65eb7350000000006dfd06bf489aa4e5",
                "48cc02b6aafae897",
                Some(true)
            ))
        );
        assert_eq!(
            parse("Root=1-64cc2edd-112fbf1701d1355973a11d57;Parent=7d5a9776024b2d42;Sampled=0"),
            Some(ctx(
                "64cc2edd112fbf1701d1355973a11d57",
                "7d5a9776024b2d42",
                Some(false)
            ))
        );
    }

    #[test]
    fn keys_in_any_order_with_whitespace_and_extra_keys() {
        let want = Some(ctx(
            "5759e988bd862e3fe1be46a994272793",
            "53995c3f42cd8ad8",
            Some(false),
        ));
        assert_eq!(
            parse(" Sampled=0 ; Parent = 53995c3f42cd8ad8;Lineage=a87bd80c:1|68fd508a:5;Root=1-5759e988-bd862e3fe1be46a994272793; "),
            want
        );
        assert_eq!(
            parse("Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;"),
            want
        );
    }

    #[test]
    fn sampled_values() {
        let s = |v: &str| {
            parse(&format!(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8{v}"
            ))
            .map(|c| c.sampled)
        };
        assert_eq!(s(";Sampled=1"), Some(Some(true)));
        assert_eq!(s(";Sampled=0"), Some(Some(false)));
        assert_eq!(s(";Sampled=?"), Some(None));
        assert_eq!(s(""), Some(None));
        assert_eq!(s(";Sampled=2"), None);
        assert_eq!(s(";Sampled="), None);
    }

    #[test]
    fn without_parent_there_is_nothing_to_link() {
        // ALB and API Gateway headers from the fixtures carry only Root.
        assert_eq!(parse("Root=1-5c536348-3d683b8b04734faae651f476"), None);
        assert_eq!(
            parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            None
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let bad = [
            "",
            ";",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e98-8bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793-1;Parent=53995c3f42cd8ad8",
            "Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8adx",
            "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Parent=53995c3f42cd8ad9",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a99427279é;Parent=53995c3f42cd8ad8",
        ];
        for v in bad {
            assert_eq!(parse(v), None, "{v}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        let c = parse(DOC).unwrap();
        assert_eq!(format(&c), DOC);
        assert_eq!(
            format_root(&c.trace_id),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        let mut unknown = c.clone();
        unknown.sampled = None;
        assert_eq!(
            format(&unknown),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"
        );
        unknown.sampled = Some(false);
        assert_eq!(parse(&format(&unknown)), Some(unknown));
    }
}
