//! Unit tests for [`super`]: one carrier shape per test, values from the real fixtures
//! (datadog-lambda-python, aws-lambda-rust-runtime) where they exist.
use super::*;
use crate::propagation::{SpanContext, SpanId, TraceId};
use serde_json::json;

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const XRAY: &str = "Root=1-65eb7350-000000006dfd06bf489aa4e5;Parent=48cc02b6aafae897;Sampled=1";
/// sqs-string-msg-attribute.json `_datadog`.
const DD_SQS: &str = r#"{"x-datadog-trace-id":"2684756524522091840","x-datadog-parent-id":"7431398482019833808","x-datadog-sampled":"1","x-datadog-sampling-priority":"1"}"#;

fn found(format: Format, trace: &str, span: &str, sampled: Option<bool>, carrier: &str) -> Found {
    Found {
        context: SpanContext {
            trace_id: TraceId::from_hex(trace).unwrap(),
            span_id: SpanId::from_hex(span).unwrap(),
            sampled,
            tracestate: None,
            format,
        },
        carrier: carrier.to_owned(),
    }
}

fn w3c(carrier: &str) -> Found {
    found(
        Format::W3c,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        Some(true),
        carrier,
    )
}

fn xray(carrier: &str) -> Found {
    found(
        Format::Xray,
        "65eb7350000000006dfd06bf489aa4e5",
        "48cc02b6aafae897",
        Some(true),
        carrier,
    )
}

fn dd_sqs(carrier: &str) -> Found {
    found(
        Format::Datadog,
        "000000000000000025422bd5a88d3540",
        "6721a18bd12b57d0",
        Some(true),
        carrier,
    )
}

fn with_state(mut f: Found, state: &str) -> Found {
    f.context.tracestate = Some(state.to_owned());
    f
}

#[test]
fn headers_all_formats_in_order_case_insensitive() {
    let headers = [
        ("X-Datadog-Trace-Id", "2684756524522091840"),
        ("X-DATADOG-PARENT-ID", "7431398482019833808"),
        ("x-datadog-sampling-priority", "1"),
        ("X-Amzn-Trace-Id", XRAY),
        ("Content-Type", "application/json"),
        ("TraceParent", TP),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ];
    assert_eq!(
        from_headers(headers, "headers"),
        vec![
            with_state(w3c("headers.traceparent"), "rojo=00f067aa0ba902b7"),
            dd_sqs("headers.x-datadog-trace-id"),
            xray("headers.x-amzn-trace-id"),
        ]
    );
}

#[test]
fn headers_without_context_or_with_root_only() {
    // api-gateway.json style headers without trace context, and ALB's Root-only header.
    let headers = [
        ("Host", "example.com"),
        (
            "x-amzn-trace-id",
            "Root=1-5c536348-3d683b8b04734faae651f476",
        ),
    ];
    assert_eq!(from_headers(headers, "headers"), vec![]);
    assert_eq!(from_headers([], "headers"), vec![]);
}

#[test]
fn headers_datadog_from_the_api_gateway_fixture() {
    // datadog-lambda-python api-gateway.json.
    let headers = [
        ("X-Datadog-Trace-Id", "12345"),
        ("X-Datadog-Parent-Id", "67890"),
        ("x-datadog-sampling-priority", "2"),
    ];
    assert_eq!(
        from_headers(headers, "headers"),
        vec![found(
            Format::Datadog,
            "00000000000000000000000000003039",
            "0000000000010932",
            Some(true),
            "headers.x-datadog-trace-id"
        )]
    );
    // A parent id is needed to have anything to link to.
    assert_eq!(
        from_headers([("x-datadog-trace-id", "12345")], "headers"),
        vec![]
    );
}

#[test]
fn headers_repeated() {
    let other = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01";
    // The same value twice is one header; two different values are ambiguous.
    assert_eq!(
        from_headers([("traceparent", TP), ("Traceparent", TP)], "h"),
        vec![w3c("h.traceparent")]
    );
    assert_eq!(
        from_headers([("traceparent", TP), ("traceparent", other)], "h"),
        vec![]
    );
    assert_eq!(
        from_headers(
            [
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-parent-id", "3")
            ],
            "h"
        ),
        vec![]
    );
    // Split tracestate fields are combined in order.
    assert_eq!(
        from_headers(
            [
                ("tracestate", "a=1"),
                ("traceparent", TP),
                ("tracestate", "b=2")
            ],
            "h"
        ),
        vec![with_state(w3c("h.traceparent"), "a=1,b=2")]
    );
}

#[test]
fn oversized_values_are_ignored() {
    let big = format!("a={}", "x".repeat(MAX_CARRIER_LEN));
    // An oversized tracestate is dropped; the traceparent beside it still counts.
    assert_eq!(
        from_headers([("traceparent", TP), ("tracestate", big.as_str())], ""),
        vec![w3c("traceparent")]
    );
    let half = format!("a={}", "x".repeat(MAX_CARRIER_LEN / 2));
    assert_eq!(
        from_headers(
            [
                ("traceparent", TP),
                ("tracestate", half.as_str()),
                ("tracestate", half.as_str())
            ],
            ""
        ),
        vec![w3c("traceparent")]
    );
    let padded = format!("{XRAY};{}", " ".repeat(MAX_CARRIER_LEN));
    assert_eq!(
        from_headers([("x-amzn-trace-id", padded.as_str())], ""),
        vec![]
    );
    let attrs = json!({"_datadog": {"dataType": "String", "stringValue": format!("{DD_SQS}{}", " ".repeat(MAX_DATADOG_OBJECT_LEN))}});
    assert_eq!(from_sqs_attributes(&attrs, "messageAttributes"), vec![]);
    assert_eq!(sqs_datadog_object(&attrs), None);
    // A `_datadog` attribute may be longer than a header (a Step Functions context object).
    let long = format!("{DD_SQS}{}", " ".repeat(MAX_CARRIER_LEN));
    let attrs = json!({"_datadog": {"dataType": "String", "stringValue": long}});
    assert_eq!(from_sqs_attributes(&attrs, "messageAttributes").len(), 1);
}

#[test]
fn json_carrier_eventbridge_detail() {
    // eventbridge-custom.json `detail._datadog`.
    let v = json!({"x-datadog-trace-id": "12345", "x-datadog-parent-id": "67890", "x-datadog-sampling-priority": "2"});
    assert_eq!(
        from_json_carrier(&v, "detail._datadog"),
        vec![found(
            Format::Datadog,
            "00000000000000000000000000003039",
            "0000000000010932",
            Some(true),
            "detail._datadog.x-datadog-trace-id"
        )]
    );
}

#[test]
fn json_carrier_with_both_formats_keeps_both() {
    // eventbridge-sqs.json: Datadog wrote the same span as x-datadog-* and traceparent.
    let v = json!({
        "x-datadog-trace-id": "7379586022458917877",
        "x-datadog-parent-id": "2644033662113726488",
        "x-datadog-sampling-priority": "1",
        "x-datadog-tags": "_dd.p.dm=-0",
        "traceparent": "00-000000000000000066698e63821a03f5-24b17e9b6476c018-01",
        "tracestate": "dd=t.dm:-0;s:1"
    });
    let trace = "000000000000000066698e63821a03f5";
    assert_eq!(
        from_json_carrier(&v, "detail._datadog"),
        vec![
            with_state(
                found(
                    Format::W3c,
                    trace,
                    "24b17e9b6476c018",
                    Some(true),
                    "detail._datadog.traceparent"
                ),
                "dd=t.dm:-0;s:1"
            ),
            found(
                Format::Datadog,
                trace,
                "24b17e9b6476c018",
                Some(true),
                "detail._datadog.x-datadog-trace-id"
            ),
        ]
    );
}

#[test]
fn json_carrier_numbers_and_wrong_types() {
    let v = json!({"x-datadog-trace-id": 12345u64, "x-datadog-parent-id": 18446744073709551615u64, "x-datadog-sampling-priority": -1});
    assert_eq!(
        from_json_carrier(&v, ""),
        vec![found(
            Format::Datadog,
            "00000000000000000000000000003039",
            "ffffffffffffffff",
            Some(false),
            "x-datadog-trace-id"
        )]
    );
    // Floats are not exact ids; a numeric traceparent is not a traceparent.
    assert_eq!(
        from_json_carrier(
            &json!({"x-datadog-trace-id": 1.0, "x-datadog-parent-id": 2}),
            ""
        ),
        vec![]
    );
    assert_eq!(
        from_json_carrier(
            &json!({"x-datadog-trace-id": "1", "x-datadog-parent-id": 2.5}),
            ""
        ),
        vec![]
    );
    assert_eq!(
        from_json_carrier(&json!({"traceparent": 1, "x-amzn-trace-id": null}), ""),
        vec![]
    );
    assert_eq!(from_json_carrier(&json!({"x-datadog-trace-id": "1", "x-datadog-parent-id": "2", "x-datadog-sampling-priority": true}), "").len(), 1);
    for not_object in [json!(null), json!("traceparent"), json!([TP]), json!(1)] {
        assert_eq!(from_json_carrier(&not_object, ""), vec![]);
    }
}

#[test]
fn sqs_string_datadog_attribute() {
    let attrs = json!({"_datadog": {"stringValue": DD_SQS, "stringListValues": [], "binaryListValues": [], "dataType": "String"}});
    assert_eq!(
        from_sqs_attributes(&attrs, "messageAttributes"),
        vec![dd_sqs("messageAttributes._datadog")]
    );
}

#[test]
fn sqs_binary_datadog_attribute() {
    let b64 = BASE64.encode(DD_SQS);
    let attrs = json!({"_datadog": {"binaryValue": b64, "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}});
    assert_eq!(
        from_sqs_attributes(&attrs, "messageAttributes"),
        vec![dd_sqs("messageAttributes._datadog")]
    );
    let unpadded = BASE64.encode(DD_SQS).trim_end_matches('=').to_owned();
    let attrs = json!({"_datadog": {"binaryValue": unpadded, "dataType": "Binary"}});
    assert_eq!(from_sqs_attributes(&attrs, "m"), vec![dd_sqs("m._datadog")]);
}

/// SQS and SNS allow a custom label after the data type (`Binary.custom`, `String.json`);
/// the value is carried as under the base type. Datadog's extension reads these carriers
/// (its `sqs_event_binary_custom_label.json` payload).
#[test]
fn labelled_data_types_are_read_as_their_base_type() {
    let b64 = BASE64.encode(DD_SQS);
    for attrs in [
        json!({"_datadog": {"binaryValue": b64, "dataType": "Binary.custom"}}),
        json!({"_datadog": {"stringValue": DD_SQS, "dataType": "String.json"}}),
    ] {
        assert_eq!(from_sqs_attributes(&attrs, "m"), vec![dd_sqs("m._datadog")]);
    }
    let sns = json!({"traceparent": {"Type": "String.w3c", "Value": TP}});
    assert_eq!(from_sns_attributes(&sns, "M"), vec![w3c("M.traceparent")]);
    // A type that only starts like one is not it.
    for data_type in ["Stringy", "Binaryx", "Number.String", "string"] {
        let attrs =
            json!({"_datadog": {"stringValue": DD_SQS, "binaryValue": b64, "dataType": data_type}});
        assert_eq!(from_sqs_attributes(&attrs, "m"), vec![], "{data_type}");
    }
}

#[test]
fn sqs_individual_attributes_then_datadog() {
    let attrs = json!({
        "_datadog": {"stringValue": DD_SQS, "dataType": "String"},
        "X-Amzn-Trace-Id": {"stringValue": XRAY, "dataType": "String"},
        "traceparent": {"stringValue": TP, "dataType": "String"},
        "tracestate": {"stringValue": "congo=t61rcWkgMzE", "dataType": "String"},
        "Attribute1": {"stringValue": "AttributeValue1", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    });
    assert_eq!(
        from_sqs_attributes(&attrs, "messageAttributes"),
        vec![
            with_state(w3c("messageAttributes.traceparent"), "congo=t61rcWkgMzE"),
            dd_sqs("messageAttributes._datadog"),
            xray("messageAttributes.X-Amzn-Trace-Id"),
        ]
    );
}

#[test]
fn same_format_same_span_is_kept_once() {
    let inner = format!(r#"{{"traceparent":"{TP}"}}"#);
    let attrs = json!({
        "_datadog": {"stringValue": inner, "dataType": "String"},
        "traceparent": {"stringValue": TP, "dataType": "String"}
    });
    assert_eq!(from_sqs_attributes(&attrs, "m"), vec![w3c("m.traceparent")]);
    // A different span in the same format is a different upstream: both are kept.
    let other = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-00";
    let inner = format!(r#"{{"traceparent":"{other}"}}"#);
    let attrs = json!({
        "_datadog": {"stringValue": inner, "dataType": "String"},
        "traceparent": {"stringValue": TP, "dataType": "String"}
    });
    let got = from_sqs_attributes(&attrs, "m");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], w3c("m.traceparent"));
    assert_eq!(
        (got[1].carrier.as_str(), got[1].context.span_id.to_hex()),
        ("m._datadog", "00f067aa0ba902b8".to_owned())
    );
}

#[test]
fn sqs_bad_values_yield_nothing() {
    let bad = [
        json!({"_datadog": {"stringValue": "{not json", "dataType": "String"}}),
        json!({"_datadog": {"stringValue": "[1,2]", "dataType": "String"}}),
        json!({"_datadog": {"stringValue": "\"x\"", "dataType": "String"}}),
        json!({"_datadog": {"binaryValue": "!!!not base64", "dataType": "Binary"}}),
        json!({"_datadog": {"binaryValue": BASE64.encode([0xff, 0xfe, 0x7b]), "dataType": "Binary"}}),
        json!({"_datadog": {"binaryValue": BASE64.encode("{truncated"), "dataType": "Binary"}}),
        json!({"_datadog": {"stringValue": DD_SQS, "dataType": "Number"}}),
        json!({"_datadog": {"stringValue": DD_SQS}}),
        json!({"_datadog": {"binaryValue": DD_SQS, "dataType": "String"}}),
        json!({"_datadog": {"stringValue": 5, "dataType": "String"}}),
        json!({"_datadog": DD_SQS}),
        json!({"traceparent": {"stringValue": "00-bad", "dataType": "String"}}),
        json!({"traceparent": TP}),
        json!([{"traceparent": {"stringValue": TP, "dataType": "String"}}]),
        json!(null),
    ];
    for attrs in bad {
        assert_eq!(from_sqs_attributes(&attrs, "m"), vec![], "{attrs}");
    }
}

#[test]
fn sns_string_and_binary_datadog_attribute() {
    // sns-string-msg-attribute.json and sns-b64-msg-attribute.json carry the same context.
    let want = vec![found(
        Format::Datadog,
        "000000000000000044ac2af39c13bd9d",
        "5da226f292925708",
        Some(true),
        "Sns.MessageAttributes._datadog",
    )];
    let string = json!({"_datadog": {"Type": "String", "Value": "{\"x-datadog-trace-id\": \"4948377316357291421\", \"x-datadog-parent-id\": \"6746998015037429512\", \"x-datadog-sampling-priority\": \"1\"}"}});
    assert_eq!(from_sns_attributes(&string, "Sns.MessageAttributes"), want);
    let binary = json!({"_datadog": {"Type": "Binary", "Value": "eyJ4LWRhdGFkb2ctdHJhY2UtaWQiOiI0OTQ4Mzc3MzE2MzU3MjkxNDIxIiwieC1kYXRhZG9nLXBhcmVudC1pZCI6IjY3NDY5OTgwMTUwMzc0Mjk1MTIiLCJ4LWRhdGFkb2ctc2FtcGxpbmctcHJpb3JpdHkiOiIxIn0="}});
    assert_eq!(from_sns_attributes(&binary, "Sns.MessageAttributes"), want);
}

#[test]
fn sns_traceparent_and_bad_values() {
    let attrs = json!({"traceparent": {"Type": "String", "Value": TP}, "other": {"Type": "Number", "Value": "1"}});
    assert_eq!(
        from_sns_attributes(&attrs, "MessageAttributes"),
        vec![w3c("MessageAttributes.traceparent")]
    );
    let binary = json!({"traceparent": {"Type": "Binary", "Value": BASE64.encode(TP)}});
    assert_eq!(
        from_sns_attributes(&binary, "MessageAttributes"),
        vec![w3c("MessageAttributes.traceparent")]
    );
    for attrs in [
        json!({"_datadog": {"Type": "Binary", "Value": "%%%"}}),
        json!({"_datadog": {"Type": "String", "Value": "{"}}),
        json!({"_datadog": {"Type": "String.Array", "Value": "[\"a\"]"}}),
        json!({"_datadog": {"Value": DD_SQS}}),
        json!({"_datadog": {"Type": "String"}}),
        json!({"traceparent": {"stringValue": TP, "dataType": "String"}}),
    ] {
        assert_eq!(from_sns_attributes(&attrs, "m"), vec![], "{attrs}");
    }
}

#[test]
fn carrier_keys() {
    for k in [
        "_datadog",
        "traceparent",
        "TraceState",
        "X-Amzn-Trace-Id",
        "x-datadog-tags",
        "X-Datadog-Parent-Id",
    ] {
        assert!(is_carrier_key(k), "{k}");
    }
    for k in [
        "_Datadog",
        "Attribute1",
        "x-datadog-sampled",
        "AWSTraceHeader",
        "",
    ] {
        assert!(!is_carrier_key(k), "{k}");
    }
}

/// Every truncation and single-character substitution of valid values: no parser panics
/// (multi-byte characters included), and whatever parses formats back to the same context.
#[test]
fn mutated_values_never_panic_and_round_trip() {
    let seeds = [
        TP,
        XRAY,
        "2684756524522091840",
        "_dd.p.dm=-0,_dd.p.tid=66bcb5eb00000000",
        DD_SQS,
    ];
    let subs = [
        '-',
        '0',
        'f',
        'F',
        '=',
        ';',
        ',',
        ' ',
        'é',
        '\u{1F600}',
        '"',
        '{',
    ];
    let mut variants: Vec<String> = Vec::new();
    for seed in seeds {
        let chars: Vec<char> = seed.chars().collect();
        for i in 0..=chars.len() {
            variants.push(chars.iter().take(i).collect());
            for s in subs {
                let mut v = chars.clone();
                if let Some(c) = v.get_mut(i) {
                    *c = s;
                }
                variants.push(v.into_iter().collect());
            }
        }
    }
    let mut parsed = 0;
    for v in &variants {
        if let Some(c) = w3c::parse_traceparent(v, Some(v)) {
            parsed += 1;
            let again = w3c::parse_traceparent(&w3c::format_traceparent(&c), Some(v)).unwrap();
            assert_eq!(
                (again.trace_id, again.span_id, again.sampled),
                (c.trace_id, c.span_id, c.sampled),
                "{v}"
            );
        }
        if let Some(c) = xray::parse(v) {
            parsed += 1;
            assert_eq!(xray::parse(&xray::format(&c)), Some(c), "{v}");
        }
        if let Some(c) = datadog::from_fields(v, v, Some(v), Some(v)) {
            parsed += 1;
            let h = datadog::format_headers(&c);
            let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, x)| x.as_str());
            let again = datadog::from_fields(
                get(datadog::TRACE_ID).unwrap(),
                get(datadog::PARENT_ID).unwrap(),
                get(datadog::SAMPLING_PRIORITY),
                get(datadog::TAGS),
            );
            assert_eq!(again, Some(c), "{v}");
        }
        let _ = from_headers(
            [
                ("traceparent", v.as_str()),
                ("x-amzn-trace-id", v.as_str()),
                ("x-datadog-tags", v.as_str()),
            ],
            "h",
        );
        let _ = from_sqs_attributes(
            &json!({"_datadog": {"stringValue": v, "dataType": "String"}}),
            "m",
        );
        let _ = from_sns_attributes(&json!({"_datadog": {"Value": v, "Type": "Binary"}}), "m");
    }
    // The seeds themselves and the harmless substitutions parse: the loop checked something.
    assert!(parsed > 50, "only {parsed} variants parsed");
}

#[test]
fn datadog_attribute_objects() {
    let object = json!({"Execution": {"Id": "e"}});
    let text = object.to_string();
    let b64 = BASE64.encode(&text);
    for attrs in [
        json!({"_datadog": {"dataType": "String", "stringValue": text}}),
        json!({"_datadog": {"dataType": "Binary", "binaryValue": b64}}),
    ] {
        assert_eq!(sqs_datadog_object(&attrs), Some(object.clone()), "{attrs}");
    }
    for attrs in [
        json!({"_datadog": {"Type": "String", "Value": text}}),
        json!({"_datadog": {"Type": "Binary", "Value": b64}}),
    ] {
        assert_eq!(sns_datadog_object(&attrs), Some(object.clone()), "{attrs}");
    }
    for attrs in [
        json!({"_datadog": {"dataType": "String", "stringValue": "[1]"}}),
        json!({"_datadog": {"dataType": "String", "stringValue": "{"}}),
        json!({"_datadog": {"dataType": "Number", "stringValue": "{}"}}),
        json!({"other": {"dataType": "String", "stringValue": "{}"}}),
    ] {
        assert_eq!(sqs_datadog_object(&attrs), None, "{attrs}");
    }
}
