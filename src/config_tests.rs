use super::*;

#[test]
fn empty_object_gives_the_documented_defaults() {
    let c = Config::from_json("{}").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c, Config::default());
    assert_eq!(c.attributes.event, "relink.event");
    assert_eq!(c.attributes.s3_etag, "relink.s3.etag");
    assert_eq!(c.attributes.dynamodb_keys, "relink.dynamodb.keys");
    assert_eq!(c.attributes.message_ids, "relink.message_ids");
    assert_eq!(c.attributes.route, "relink.route");
    assert_eq!(c.event_attribute.output, EventOutput::Remove);
    assert!(c.pointer_links.enabled && c.direct_links.enabled && c.messaging.enabled);
    assert!(c.direct_links.request_id_join && c.direct_links.message_ids);
    assert!(!c.direct_links.heuristic_s3_key && !c.adoption.enabled && !c.stamp.enabled);
    assert!(!c.messaging.parent_single_message);
    assert_eq!((c.index.max_entries, c.index.ttl_seconds), (100_000, 900));
    assert_eq!(
        (c.adoption.max_traces, c.adoption.ttl_seconds),
        (100_000, 3600)
    );
    assert_eq!(c.limits.max_request_bytes, 16 * 1024 * 1024);
    assert_eq!(c.limits.max_decompressed_bytes, 64 * 1024 * 1024);
    assert_eq!(c.limits.max_nesting, 64);
    assert!(c.stepfunctions.enabled && !c.stepfunctions.include_data);
    assert_eq!(c.stepfunctions.max_events, 25_000);
    assert_eq!(c.stepfunctions.lambda_join, LambdaJoin::FollowAdoption);
    assert_eq!(
        crate::Settings::new(&c).unwrap().stepfn,
        crate::stepfn::Options::default()
    );
    assert!(crate::Processor::new(&c).is_ok());
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let c = Config::from_json("\u{feff}{\"adoption\": {\"enabled\": true}}");
    assert!(c.unwrap_or_else(|e| panic!("{e}")).adoption.enabled);
    // Only at the start: anywhere else it is not JSON whitespace.
    assert!(Config::from_json("{\u{feff}}").is_err());
}

#[test]
fn every_field_can_be_set() {
    let json = r#"{
        "attributes": {"event": "faas.event", "s3_etag": "s3.etag", "dynamodb_keys": "ddb.keys",
                       "message_ids": "ids", "route": "route"},
        "event_attribute": {"output": "truncate", "truncate_bytes": 100},
        "pointer_links": {"enabled": false},
        "direct_links": {"enabled": true, "request_id_join": false, "heuristic_s3_key": true,
                         "message_ids": false},
        "messaging": {"enabled": true, "parent_single_message": true},
        "adoption": {"enabled": true, "ttl_seconds": 60, "max_traces": 10},
        "index": {"max_entries": 5, "ttl_seconds": 30},
        "stamp": {"enabled": true, "s3_route": "request_id"},
        "dynamodb": {"tables": {"orders": ["pk", "sk"], "users": ["id"]}},
        "limits": {"max_request_bytes": 1000, "max_event_bytes": 100, "max_attributes_scanned": 10,
                   "max_links_per_span": 3, "max_decompressed_bytes": 2000, "max_nesting": 8},
        "stepfunctions": {"enabled": true, "include_data": true, "max_events": 100,
                          "lambda_join": "parent"},
        "logs": {"max_requests": 5}
    }"#;
    let c = Config::from_json(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.attributes.event, "faas.event");
    assert_eq!(c.event_attribute.output, EventOutput::Truncate);
    assert_eq!(c.stamp.s3_route, S3Route::RequestId);
    assert_eq!(
        c.dynamodb.tables.get("orders"),
        Some(&vec!["pk".to_string(), "sk".to_string()])
    );
    assert_eq!(c.limits.max_links_per_span, 3);
    assert_eq!(
        (c.limits.max_decompressed_bytes, c.limits.max_nesting),
        (2000, 8)
    );
    assert_eq!(
        crate::Settings::new(&c).unwrap().stepfn,
        crate::stepfn::Options {
            include_data: true,
            max_events: 100
        }
    );
    assert_eq!(c.stepfunctions.lambda_join, LambdaJoin::Parent);
    assert_eq!(c.logs.max_requests, 5);
    // Serializing gives back the same configuration.
    let again = serde_json::to_string(&c)
        .map_err(|e| e.to_string())
        .and_then(|s| Config::from_json(&s).map_err(|e| e.to_string()));
    assert_eq!(again, Ok(c));
}

#[test]
fn unknown_fields_and_wrong_types_are_rejected() {
    let e = Config::from_json(r#"{"pointer_link": {}}"#)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("config: invalid json: unknown field `pointer_link`"),
        "{e}"
    );
    let e = Config::from_json(r#"{"index": {"max_entries": "many"}}"#)
        .err()
        .map(|e| e.to_string());
    assert!(e
        .unwrap_or_default()
        .contains("invalid type: string \"many\""));
    let e = Config::from_json(r#"{"stepfunctions": {"enable": true}}"#)
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("unknown field `enable`"));
    let e = Config::from_json(r#"{"stepfunctions": {"lambda_join": "adopt"}}"#)
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("unknown variant `adopt`"));
    let e = Config::from_json(r#"{"event_attribute": {"output": "hide"}}"#)
        .err()
        .map(|e| e.to_string());
    assert!(e.unwrap_or_default().contains("unknown variant `hide`"));
}

#[test]
fn validation_reports_every_problem_at_once() {
    let json = r#"{
        "attributes": {"event": "", "route": "relink.s3.etag"},
        "event_attribute": {"output": "truncate", "truncate_bytes": 0},
        "direct_links": {"enabled": false},
        "adoption": {"enabled": true, "ttl_seconds": 0},
        "index": {"max_entries": 0},
        "dynamodb": {"tables": {"t": ["a", "b", "c"], "u": ["k", "k"]}},
        "limits": {"max_links_per_span": 0}
    }"#;
    let err = Config::from_json(json).err();
    let messages: Vec<String> = err
        .as_ref()
        .map(|e| e.errors().iter().map(|e| e.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(
        messages,
        vec![
            "config: `attributes.event` must not be empty",
            "config: `attributes.s3_etag` and `attributes.route` are both \"relink.s3.etag\"",
            "config: `event_attribute.truncate_bytes` is 0, expected 1 to 1048576",
            "config: `adoption.enabled` requires `direct_links.enabled`",
            "config: `adoption.ttl_seconds` is 0, expected 1 to 86400",
            "config: `index.max_entries` is 0, expected 1 to 50000000",
            "config: `dynamodb.tables.t` has 3 key names, expected 1 or 2",
            "config: `dynamodb.tables.u[0]` and `dynamodb.tables.u[1]` are both \"k\"",
            "config: `limits.max_links_per_span` is 0, expected 1 to 100000",
        ]
    );
    let joined = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        joined.contains("must not be empty; config: `attributes.s3_etag`"),
        "{joined}"
    );
}

#[test]
fn one_problem_is_reported_alone_and_build_validates() {
    let mut c = Config::default();
    c.messaging.enabled = false;
    c.messaging.parent_single_message = true;
    assert_eq!(
        crate::Processor::new(&c).err(),
        Some(ConfigError::Requires {
            field: "messaging.parent_single_message".into(),
            requires: "messaging.enabled".into()
        })
    );
}

#[test]
fn arrays_in_place_of_objects_and_repeated_keys_are_errors() {
    let err = |json: &str| Config::from_json(json).err().map(|e| e.to_string());
    // serde's derive would read these positionally: `[]` as the defaults.
    assert_eq!(
        err("[]").as_deref(),
        Some("config: invalid json: the configuration must be an object, got an array")
    );
    assert_eq!(
        err(r#"{"index": [5, 10]}"#).as_deref(),
        Some("config: invalid json: `index` must be an object, got an array")
    );
    // A map keeps the last of two equal keys silently; a table named twice is an error.
    assert_eq!(
        err(r#"{"dynamodb": {"tables": {"t": ["a"], "t": ["b"]}}}"#).as_deref(),
        Some(r#"config: invalid json: duplicate key "t" at line 1 column 40"#)
    );
    assert_eq!(
        err(r#"{"limits": {"max_nesting": 129, "max_decompressed_bytes": 0}}"#).as_deref(),
        Some(
            "config: `limits.max_decompressed_bytes` is 0, expected 1 to 1073741824; \
             config: `limits.max_nesting` is 129, expected 1 to 128"
        )
    );
}

#[test]
fn stepfunctions_lambda_join_follows_adoption_unless_set() {
    let parent = |json: &str| Config::from_json(json).map(|c| c.stepfunctions_parent());
    assert_eq!(parent("{}"), Ok(false));
    assert_eq!(parent(r#"{"adoption": {"enabled": true}}"#), Ok(true));
    assert_eq!(
        parent(r#"{"adoption": {"enabled": true}, "stepfunctions": {"lambda_join": "link"}}"#),
        Ok(false)
    );
    assert_eq!(
        parent(r#"{"stepfunctions": {"lambda_join": "parent"}}"#),
        Ok(true)
    );
    let messages = |json: &str| -> Vec<String> {
        Config::from_json(json)
            .err()
            .map(|e| e.errors().iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        messages(
            r#"{"stepfunctions": {"enabled": false, "lambda_join": "parent", "max_events": 0},
                "adoption": {"ttl_seconds": 0}}"#
        ),
        vec![
            "config: `stepfunctions.lambda_join` requires `stepfunctions.enabled`",
            "config: `adoption.ttl_seconds` is 0, expected 1 to 86400",
            "config: `stepfunctions.max_events` is 0, expected 1 to 1000000",
        ]
    );
}
