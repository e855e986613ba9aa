//! W3C Trace Context: `traceparent` and `tracestate`.
//!
//! Parsing follows <https://www.w3.org/TR/trace-context/> ("traceparent Header Field
//! Values" and "Versioning of traceparent"): version `00` is exactly
//! `00-{32 hex}-{16 hex}-{2 hex}` (55 characters); a higher version is read the same way
//! when at least 55 characters long and the flags end the value or are followed by `-`;
//! version `ff` is invalid; hex is lowercase only; an all-zero trace id or parent id makes
//! the header invalid. `tracestate` is opaque here: it is kept verbatim for span links and
//! only when the `traceparent` beside it is valid, as the spec says.

use super::{Format, SpanContext, SpanId, TraceId};

/// Length of a version-00 `traceparent`, and the minimum for any version.
const TRACEPARENT_LEN: usize = 55;

/// The `sampled` bit of `trace-flags`.
const FLAG_SAMPLED: u8 = 0x01;

/// Parses a `traceparent` header value (version 00, and future versions per the spec).
///
/// `tracestate` is attached verbatim when the traceparent is valid; an empty or
/// whitespace-only tracestate (which the spec allows) is the same as none. Spaces and tabs
/// around the value (HTTP's optional whitespace, which a carrier in a message keeps) are
/// not part of it, as the W3C test suite's `test_traceparent_ows_handling` expects
/// (<https://github.com/w3c/trace-context/blob/main/test/test.py>).
pub fn parse_traceparent(value: &str, tracestate: Option<&str>) -> Option<SpanContext> {
    let value = value.trim_matches([' ', '\t']);
    let version = value.get(0..2)?;
    if !super::ids::is_lower_hex(version) || version == "ff" || value.get(2..3)? != "-" {
        return None;
    }
    let len = value.len();
    if version == "00" {
        if len != TRACEPARENT_LEN {
            return None;
        }
    } else if len < TRACEPARENT_LEN || (len > TRACEPARENT_LEN && value.get(55..56)? != "-") {
        // A future version may append fields, but only after a dash.
        return None;
    }
    if value.get(35..36)? != "-" || value.get(52..53)? != "-" {
        return None;
    }
    let trace_id = TraceId::from_lower_hex(value.get(3..35)?)?;
    let span_id = SpanId::from_lower_hex(value.get(36..52)?)?;
    let flags = value.get(53..55)?;
    if !super::ids::is_lower_hex(flags) {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if !trace_id.is_valid() || !span_id.is_valid() {
        return None;
    }
    Some(SpanContext {
        trace_id,
        span_id,
        sampled: Some(flags & FLAG_SAMPLED == FLAG_SAMPLED),
        tracestate: tracestate
            .filter(|s| !s.trim_matches([' ', '\t']).is_empty())
            .map(str::to_owned),
        format: Format::W3c,
    })
}

/// Formats a version-00 `traceparent`. Flags are `01` only when the context is known to be
/// sampled: an unknown decision is written as not sampled, the spec's default.
pub fn format_traceparent(ctx: &SpanContext) -> String {
    let flags = if ctx.sampled == Some(true) {
        "01"
    } else {
        "00"
    };
    format!("00-{}-{}-{}", ctx.trace_id, ctx.span_id, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_SAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn ctx(trace: &str, span: &str, sampled: bool, state: Option<&str>) -> SpanContext {
        SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap(),
            span_id: SpanId::from_hex(span).unwrap(),
            sampled: Some(sampled),
            tracestate: state.map(str::to_owned),
            format: Format::W3c,
        }
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            parse_traceparent(SPEC_SAMPLED, None),
            Some(ctx(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "00f067aa0ba902b7",
                true,
                None
            ))
        );
        assert_eq!(
            parse_traceparent(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                None
            ),
            Some(ctx(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "00f067aa0ba902b7",
                false,
                None
            ))
        );
    }

    #[test]
    fn sampled_is_bit_zero_only() {
        let p = |f: &str| {
            parse_traceparent(
                &format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{f}"),
                None,
            )
            .map(|c| c.sampled)
        };
        assert_eq!(p("09"), Some(Some(true)));
        assert_eq!(p("08"), Some(Some(false)));
        assert_eq!(p("ff"), Some(Some(true)));
        assert_eq!(p("fe"), Some(Some(false)));
    }

    #[test]
    fn tracestate_is_kept_verbatim() {
        let state = "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE";
        assert_eq!(
            parse_traceparent(SPEC_SAMPLED, Some(state))
                .unwrap()
                .tracestate
                .as_deref(),
            Some(state)
        );
        assert_eq!(
            parse_traceparent(SPEC_SAMPLED, Some(""))
                .unwrap()
                .tracestate,
            None
        );
        assert_eq!(
            parse_traceparent(SPEC_SAMPLED, Some(" \t"))
                .unwrap()
                .tracestate,
            None
        );
        // No tracestate without a valid traceparent.
        assert_eq!(parse_traceparent("00-bad", Some(state)), None);
    }

    #[test]
    fn version_00_is_exactly_55_chars() {
        assert_eq!(
            parse_traceparent(&format!("{SPEC_SAMPLED}-extra"), None),
            None
        );
        assert_eq!(parse_traceparent(&format!("{SPEC_SAMPLED}-"), None), None);
        assert_eq!(parse_traceparent(&SPEC_SAMPLED[..54], None), None);
        assert_eq!(parse_traceparent(&format!("{SPEC_SAMPLED}x"), None), None);
    }

    #[test]
    fn future_versions_are_read_per_the_spec() {
        let want = Some(ctx(
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            true,
            None,
        ));
        let v = |s: &str| parse_traceparent(s, None);
        assert_eq!(
            v("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            want
        );
        assert_eq!(v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like"), want);
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"),
            want
        );
        // Flags must end the value or be followed by a dash.
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"),
            None
        );
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010"),
            None
        );
        // Shorter than 55 characters.
        assert_eq!(
            v("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
            None
        );
        // Version ff is forbidden whatever follows.
        assert_eq!(
            v("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn optional_whitespace_around_the_value_is_ignored() {
        let want = parse_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        );
        assert!(want.is_some());
        for v in [
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ",
            "\t 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \t",
        ] {
            assert_eq!(parse_traceparent(v, None), want, "{v:?}");
        }
        // Inside the value it is still malformed.
        assert_eq!(
            parse_traceparent(
                "00- 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None
            ),
            None
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        let bad = [
            "",
            "0",
            "00",
            "00-",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-g1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7--1",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Multi-byte characters must not be sliced through.
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for v in bad {
            assert_eq!(parse_traceparent(v, Some("a=b")), None, "{v}");
        }
    }

    #[test]
    fn formats_version_00() {
        let c = parse_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-x",
            None,
        )
        .unwrap();
        assert_eq!(format_traceparent(&c), SPEC_SAMPLED);
        let mut unknown = c.clone();
        unknown.sampled = None;
        assert_eq!(
            format_traceparent(&unknown),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
        unknown.sampled = Some(false);
        assert_eq!(
            format_traceparent(&unknown),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        );
    }
}
