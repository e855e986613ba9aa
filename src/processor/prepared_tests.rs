use super::*;
use proptest::prelude::*;

fn context(n: u8, sampled: Option<bool>, format: Format, tracestate: Option<&str>) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId([n; 16]),
            span_id: SpanId([n.wrapping_add(1); 8]),
            sampled,
            tracestate: tracestate.map(str::to_owned),
            format,
        },
        carrier: format!("carrier-{n}"),
    }
}

/// Evidence with every rule, problem, sampling flag and format at least once, and a bare
/// one.
fn evidence() -> [SpanEvidence; 2] {
    let claims = |from: usize| -> Vec<Claim> {
        RULES
            .iter()
            .enumerate()
            .skip(from)
            .map(|(i, &rule)| Claim {
                rule,
                key: Key([i as u8; 16]),
                message_id: (i % 2 == 0).then(|| format!("message-{i}")),
            })
            .collect()
    };
    let full = SpanEvidence {
        producer: claims(0),
        consumer: claims(5),
        contexts: vec![
            ContextClaim {
                found: context(1, None, Format::W3c, Some("dd=s:1")),
                message_id: Some("m".into()),
            },
            ContextClaim {
                found: context(2, Some(false), Format::Xray, None),
                message_id: None,
            },
            ContextClaim {
                found: context(3, Some(true), Format::Datadog, Some("")),
                message_id: None,
            },
        ],
        states: Vec::new(),
        messages: 300,
        has_event: true,
        relinked: false,
        problems: PROBLEMS.to_vec(),
    };
    let bare = SpanEvidence {
        relinked: true,
        ..SpanEvidence::default()
    };
    [full, bare]
}

/// A request of `spans` spans under one resource and scope, as an SDK encodes it, with an
/// S3 producer's attributes on every other span.
fn request(spans: usize) -> Vec<u8> {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let kv = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    };
    let spans = (0..spans)
        .map(|n| Span {
            trace_id: vec![n as u8 + 1; 16],
            span_id: vec![n as u8 + 1; 8],
            parent_span_id: if n == 0 { vec![] } else { vec![1; 8] },
            name: "PutObject".into(),
            attributes: if n % 2 == 0 {
                vec![
                    kv("rpc.system", "aws-api"),
                    kv("rpc.service", "S3"),
                    kv("rpc.method", "PutObject"),
                    kv("aws.s3.bucket", "photos"),
                    kv("aws.s3.key", &format!("k{n}")),
                ]
            } else {
                vec![kv("http.route", "/")]
            },
            ..Span::default()
        })
        .collect();
    let request = crate::otlp::ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    crate::otlp::encode_protobuf(&request)
}

fn interest_scan(input: &[u8]) -> Scan<'_> {
    let settings = crate::Settings::default();
    let keys = crate::processor::evidence::span_keys(&settings);
    let interest = crate::otlp::scan::Interest {
        span_attributes: &keys,
        link_attributes: crate::processor::evidence::LINK_KEYS,
    };
    crate::otlp::scan::scan(input, &interest).unwrap_or_else(|_| panic!("scan"))
}

/// Flagged spans with what is carried for each.
type Flagged = Vec<(usize, Option<Carried>)>;

/// A request of six spans, its bytes prepared with full evidence on span 0, none carried
/// for span 2 and bare evidence on span 4.
fn prepared() -> (Vec<u8>, Vec<u8>, Flagged) {
    let input = request(6);
    let [full, bare] = evidence();
    let flagged = vec![(0, Some((full, None))), (2, None), (4, Some((bare, None)))];
    let bytes = encode(&input, &interest_scan(&input), &flagged);
    (input, bytes, flagged)
}

#[test]
fn a_carried_scan_and_its_evidence_survive_the_round_trip() {
    let (input, bytes, flagged) = prepared();
    let decoded = Prepared::decode(&bytes).unwrap_or_else(|| panic!("decode"));
    assert_eq!(decoded.flagged, flagged);
    let carried = decoded.scan(&input).unwrap_or_else(|| panic!("refused"));
    let direct = interest_scan(&input);
    assert_eq!(carried.resources, direct.resources);
    assert_eq!(carried.scopes, direct.scopes);
    assert_eq!(carried.spans, direct.spans);
    assert_eq!(
        direct.spans.iter().filter(|s| s.interesting).count(),
        3,
        "the producers are flagged"
    );
}

#[test]
fn what_the_processor_prepares_decodes_and_fits() {
    let input = request(6);
    let processor =
        crate::Processor::new(&crate::Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let bytes = processor
        .prepare_traces(&input, None)
        .unwrap_or_else(|| panic!("not prepared"));
    let decoded = Prepared::decode(&bytes).unwrap_or_else(|| panic!("decode"));
    let indices: Vec<usize> = decoded.flagged.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 2, 4]);
    assert!(decoded.flagged.iter().all(|(_, c)| c.is_some()));
    assert!(decoded.scan(&input).is_some());
}

#[test]
fn a_scan_that_does_not_fit_the_request_is_refused() {
    let (input, bytes, _) = prepared();
    let decoded = Prepared::decode(&bytes).unwrap_or_else(|| panic!("decode"));
    // The same bytes shifted, or one shorter: the frames are not there.
    let mut shifted = input.clone();
    shifted.rotate_left(1);
    assert!(decoded.scan(&shifted).is_none());
    assert!(decoded.scan(&input[1..]).is_none());
    // Each frame or id moved, or out of order.
    type Change = fn(&mut Scan<'_>);
    let changes: [Change; 7] = [
        |s| s.resources[0].start += 1,
        |s| s.scopes[0].1.end -= 1,
        |s| s.scopes[0].0 = 1,
        |s| s.spans[2].frame.payload += 1,
        |s| s.spans[3].scope = 1,
        |s| s.spans[1].trace_id = &[],
        |s| s.spans.swap(1, 2),
    ];
    for (n, change) in changes.iter().enumerate() {
        let mut scan = interest_scan(&input);
        change(&mut scan);
        let bytes = encode(&input, &scan, &[]);
        let decoded = Prepared::decode(&bytes).unwrap_or_else(|| panic!("decode"));
        let fits = decoded.scan(&input);
        // An emptied id is a different scan, not a refused one.
        if n == 5 {
            assert!(fits.is_some_and(|s| s.spans[1].trace_id.is_empty()));
        } else {
            assert!(fits.is_none(), "change {n}");
        }
    }
    // An id pointing outside its span.
    let mut scan = interest_scan(&input);
    scan.spans[1].trace_id = &input[..16];
    let bytes = encode(&input, &scan, &[]);
    assert!(Prepared::decode(&bytes)
        .and_then(|p| p.scan(&input))
        .is_none());
}

#[test]
fn codes_follow_the_lists() {
    for (i, &rule) in RULES.iter().enumerate() {
        assert_eq!(usize::from(rule_code(rule)), i, "{rule:?}");
    }
    for (i, &problem) in PROBLEMS.iter().enumerate() {
        assert_eq!(usize::from(problem_code(problem)), i, "{problem:?}");
    }
}

#[test]
fn state_claims_and_spans_with_links_are_not_carried() {
    let claim = super::super::claims::StateClaim {
        parent: context(4, None, Format::Datadog, None).context,
        context: Default::default(),
        message_id: None,
    };
    let with_state = SpanEvidence {
        states: vec![claim],
        ..SpanEvidence::default()
    };
    assert!(!carries(&(with_state, None)));
    assert!(!carries(&(
        SpanEvidence::default(),
        Some(Existing::default())
    )));
    assert!(carries(&(SpanEvidence::default(), None)));
}

#[test]
fn truncated_extended_or_foreign_bytes_are_refused() {
    let (_, bytes, _) = prepared();
    for cut in 0..bytes.len() {
        assert_eq!(Prepared::decode(&bytes[..cut]), None, "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Prepared::decode(&longer), None);
    let mut other_version = bytes.clone();
    other_version[0] = VERSION + 1;
    assert_eq!(Prepared::decode(&other_version), None);
}

#[test]
fn flagged_spans_must_increase() {
    let input = request(2);
    let scan = interest_scan(&input);
    for flagged in [vec![(1, None), (1, None)], vec![(1, None), (0, None)]] {
        let bytes = encode(&input, &scan, &flagged);
        assert_eq!(Prepared::decode(&bytes), None, "{flagged:?}");
    }
}

#[test]
fn a_huge_count_reserves_nothing() {
    // Version, input length, an empty scan, then a flagged count of 2^62.
    let mut bytes = vec![VERSION, 1, 0];
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]);
    assert_eq!(Prepared::decode(&bytes), None);
    // A scan claiming 2^62 resources.
    let mut bytes = vec![VERSION, 1, 9];
    bytes.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f, 0]);
    let decoded = Prepared::decode(&bytes).unwrap_or_else(|| panic!("decode"));
    assert!(decoded.scan(&[0]).is_none());
}

proptest! {
    /// Any bytes: a result or `None`, never a panic, also when the scan is read.
    #[test]
    fn any_bytes_decode_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let input = request(6);
        if let Some(p) = Prepared::decode(&bytes) {
            let _ = p.scan(&input);
        }
    }

    /// Bytes of a real encoding with one byte changed: never a panic, and a scan that
    /// still fits the request is the request's scan or one with different ids or flags.
    #[test]
    fn flipped_bytes_decode_without_panicking(at in any::<prop::sample::Index>(), to in any::<u8>()) {
        let (input, mut bytes, _) = prepared();
        let i = at.index(bytes.len());
        bytes[i] = to;
        if let Some(scan) = Prepared::decode(&bytes).and_then(|p| p.scan(&input)) {
            let direct = interest_scan(&input);
            prop_assert_eq!(scan.resources, direct.resources);
            prop_assert_eq!(scan.scopes, direct.scopes);
            let frames = |s: &[ScannedSpan<'_>]| s.iter().map(|s| s.frame).collect::<Vec<_>>();
            prop_assert_eq!(frames(&scan.spans), frames(&direct.spans));
        }
    }
}
