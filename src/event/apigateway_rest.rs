//! API Gateway REST API requests (Lambda proxy integration, payload format 1.0).
//!
//! Shape: <https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html>
//! (`resource`, `path`, `httpMethod`, `headers`/`multiValueHeaders`, decoded
//! `queryStringParameters`/`multiValueQueryStringParameters`, `requestContext` with
//! `requestId`, `apiId`, `stage`, `domainName`, `requestTimeEpoch` and `identity`).
//! Console test invocations leave many of these out or null, and still decode.

use super::http_request::{
    epoch_millis, event_name, non_empty, query_string, region_from_domain, Api, Headers,
};
use super::{Detail, HttpRequest, Item, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{missing, opt_obj, opt_str};
use serde_json::Value;

const INPUT: &str = "apigateway-rest event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    if opt_obj(value, "/requestContext", INPUT)?.is_none() {
        return Err(missing(INPUT, "/requestContext"));
    }
    let text = |path: &str| opt_str(value, path, INPUT);
    // The top-level fields are what the proxy integration documents; `requestContext`
    // repeats them and is all some hand-written test events carry.
    let method = match text("/httpMethod")?.or(text("/requestContext/httpMethod")?) {
        Some(method) => method,
        None => return Err(missing(INPUT, "/httpMethod")),
    };
    let path = text("/path")?.or(text("/requestContext/path")?);
    let route = text("/resource")?.or(text("/requestContext/resourcePath")?);
    let headers = Headers::read(value, INPUT)?;
    let domain = non_empty(text("/requestContext/domainName")?);
    let host = non_empty(headers.get("host"));
    let region = domain
        .as_deref()
        .or(host.as_deref())
        .and_then(|d| region_from_domain(d, "execute-api"));

    let request = HttpRequest {
        method: Some(method.to_owned()),
        path: path.map(str::to_owned),
        query: query_string(value, INPUT, true)?,
        host,
        scheme: headers.scheme(),
        protocol: non_empty(text("/requestContext/protocol")?),
        user_agent: non_empty(text("/requestContext/identity/userAgent")?)
            .or_else(|| non_empty(headers.get("user-agent"))),
        client_ip: non_empty(text("/requestContext/identity/sourceIp")?),
        websocket_event: None,
        connection_id: None,
        domain,
    };
    let item = Item {
        id: non_empty(text("/requestContext/requestId")?),
        event_name: event_name(Some(method), path),
        time_unix_nano: epoch_millis(value, "/requestContext/requestTimeEpoch", INPUT)?,
        contexts: headers.contexts_after_authorizer(value, Api::Rest),
        detail: Some(Detail::Http(request)),
        ..Item::default()
    };
    Ok(Trigger {
        kind: TriggerKind::ApigatewayRest,
        via: None,
        source: Source {
            arn: None,
            name: non_empty(text("/requestContext/apiId")?),
            region,
            account: non_empty(text("/requestContext/accountId")?),
            stage: non_empty(text("/requestContext/stage")?),
            route: route.map(str::to_owned),
        },
        items: vec![item],
        step_functions: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::detect_kind;
    use crate::event::test_fixtures::{fixture, http};
    use crate::propagation::{Format, Found, SpanContext, SpanId, TraceId};
    use serde_json::json;

    const FIXTURES: &[&str] = &[
        "aws-lambda-rust-runtime/apigw_multi_value_proxy_request.json",
        "aws-lambda-rust-runtime/apigw_no_host.json",
        "aws-lambda-rust-runtime/apigw_proxy_request.json",
        "aws-lambda-rust-runtime/example-apigw-console-request.json",
        "aws-lambda-rust-runtime/example-apigw-console-test-request.json",
        "aws-lambda-rust-runtime/example-apigw-request-catch-all.json",
        "aws-lambda-rust-runtime/example-apigw-request-multi-value-parameters.json",
        "aws-lambda-rust-runtime/example-apigw-request.json",
        "aws-lambda-rust-runtime/example-apigw-restapi-openapi-request.json",
        "aws-lambda-rust-runtime/example-apigw-sam-rest-request.json",
        "datadog-lambda-python/api-gateway.json",
        "powertools-lambda-python/apiGatewayProxyEvent.json",
    ];

    #[test]
    fn every_rest_fixture_is_detected_and_decodes() -> Result<(), DecodeError> {
        for path in FIXTURES {
            let event = fixture(path)?;
            assert_eq!(
                detect_kind(&event),
                Some(TriggerKind::ApigatewayRest),
                "{path}"
            );
            let trigger = decode(&event)?;
            assert_eq!(trigger.items.len(), 1, "{path}");
            assert!(
                http(&trigger).and_then(|h| h.method.as_deref()).is_some(),
                "{path}"
            );
        }
        Ok(())
    }

    #[test]
    fn responses_are_not_events() -> Result<(), DecodeError> {
        for path in [
            "aws-lambda-rust-runtime/example-apigw-response.json",
            "aws-lambda-rust-runtime/example-alb-lambda-target-response.json",
        ] {
            assert_eq!(detect_kind(&fixture(path)?), None, "{path}");
        }
        Ok(())
    }

    #[test]
    fn proxy_request_facts() -> Result<(), DecodeError> {
        let trigger = decode(&fixture(
            "aws-lambda-rust-runtime/example-apigw-request.json",
        )?)?;
        assert_eq!(
            trigger.source,
            Source {
                arn: None,
                name: Some("gy415nuibc".into()),
                region: Some("us-east-2".into()),
                account: Some("12345678912".into()),
                stage: Some("testStage".into()),
                route: Some("/{proxy+}".into()),
            }
        );
        let item = trigger.items.first();
        assert_eq!(
            item.and_then(|i| i.id.as_deref()),
            Some("deef4878-7910-11e6-8f14-25afc3e9ae33")
        );
        assert_eq!(
            item.and_then(|i| i.event_name.as_deref()),
            Some("POST /hello/world")
        );
        assert_eq!(
            item.and_then(|i| i.time_unix_nano),
            Some(1_589_522_469_693_000_000)
        );
        assert_eq!(
            http(&trigger),
            Some(&HttpRequest {
                method: Some("POST".into()),
                path: Some("/hello/world".into()),
                query: Some("name=me".into()),
                host: Some("gy415nuibc.execute-api.us-east-1.amazonaws.com".into()),
                scheme: Some("https".into()),
                protocol: Some("HTTP/1.1".into()),
                user_agent: Some("PostmanRuntime/2.4.5".into()),
                client_ip: Some("192.168.196.186".into()),
                websocket_event: None,
                connection_id: None,
                domain: Some("gy415nuibc.execute-api.us-east-2.amazonaws.com".into()),
            })
        );
        Ok(())
    }

    #[test]
    fn datadog_headers_only_in_single_valued_headers() -> Result<(), DecodeError> {
        // The sample lists the Datadog headers in `headers` but not `multiValueHeaders`.
        let t = decode(&fixture("datadog-lambda-python/api-gateway.json")?)?;
        assert_eq!(
            t.items.first().map(|i| i.contexts.clone()),
            Some(vec![Found {
                context: SpanContext {
                    trace_id: TraceId::from_u64_pair(0, 12345),
                    span_id: SpanId::from_u64(67890),
                    sampled: Some(true),
                    tracestate: None,
                    format: Format::Datadog,
                },
                carrier: "headers.x-datadog-trace-id".into(),
            }])
        );
        Ok(())
    }

    #[test]
    fn the_authorizers_context_comes_first_and_only_when_fresh() -> Result<(), DecodeError> {
        let contexts = |event: &Value| -> Result<Vec<(String, String)>, DecodeError> {
            let t = decode(event)?;
            Ok(t.items
                .iter()
                .flat_map(|i| &i.contexts)
                .map(|f| (f.carrier.clone(), f.context.span_id.to_string()))
                .collect())
        };
        let mut event = fixture("datadog-lambda-python/authorizer-request-api-gateway-v1.json")?;
        let authorizer = (
            "requestContext.authorizer._datadog".to_string(),
            "75900fcaf0f3b540".to_string(),
        );
        assert_eq!(contexts(&event)?, vec![authorizer.clone()]);
        // Ahead of the caller's headers, which stay as the next candidates.
        event["headers"]["traceparent"] =
            json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        event["multiValueHeaders"]["traceparent"] =
            json!(["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]);
        assert_eq!(
            contexts(&event)?,
            vec![
                authorizer,
                ("headers.traceparent".into(), "b7ad6b7169203331".into())
            ]
        );
        // A cached answer (no latency, another request's id) names an earlier request's
        // trace; a value that is not base64 JSON is no context and no error.
        event["requestContext"]["authorizer"]["integrationLatency"] = json!(0);
        event["requestContext"]["requestId"] = json!("another-request");
        assert_eq!(contexts(&event)?.len(), 1);
        for bad in [json!("not base64!"), json!("W10="), json!(42)] {
            event["requestContext"]["authorizer"]["integrationLatency"] = json!(5);
            event["requestContext"]["authorizer"]["_datadog"] = bad;
            assert_eq!(contexts(&event)?.len(), 1);
        }
        Ok(())
    }

    #[test]
    fn trace_headers_in_multi_value_headers() -> Result<(), DecodeError> {
        let event = json!({
            "httpMethod": "GET", "requestContext": {},
            "headers": {"X-Amzn-Trace-Id": "ignored: multiValueHeaders has this name"},
            "multiValueHeaders": {
                "X-Amzn-Trace-Id": ["Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"]
            }
        });
        let contexts = decode(&event)?
            .items
            .first()
            .map(|i| i.contexts.clone())
            .unwrap_or_default();
        let found: Vec<(String, String, &str)> = contexts
            .iter()
            .map(|f| {
                (
                    f.context.trace_id.to_hex(),
                    f.context.span_id.to_hex(),
                    f.carrier.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![(
                "5759e988bd862e3fe1be46a994272793".to_owned(),
                "53995c3f42cd8ad8".to_owned(),
                "headers.x-amzn-trace-id"
            )]
        );
        Ok(())
    }

    #[test]
    fn multi_value_query_keeps_every_value_in_order() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/apigw_multi_value_proxy_request.json",
        )?)?;
        assert_eq!(
            http(&t).and_then(|h| h.query.as_deref()),
            Some("multiValueName=you&multiValueName=me&name=me")
        );
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/example-apigw-request-multi-value-parameters.json",
        )?)?;
        assert_eq!(
            http(&t).and_then(|h| h.query.as_deref()),
            Some("name=me&name=me2")
        );
        Ok(())
    }

    #[test]
    fn without_domain_the_region_comes_from_the_host_header() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/apigw_proxy_request.json",
        )?)?;
        assert_eq!(t.source.region.as_deref(), Some("us-west-2"));
        assert_eq!(
            t.items.first().and_then(|i| i.time_unix_nano),
            Some(1_583_798_639_428_000_000)
        );
        let t = decode(&fixture("aws-lambda-rust-runtime/apigw_no_host.json")?)?;
        assert_eq!(t.source.region, None);
        assert_eq!(http(&t).and_then(|h| h.host.as_deref()), None);
        Ok(())
    }

    #[test]
    fn console_test_event_decodes_with_nulls() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/example-apigw-console-test-request.json",
        )?)?;
        assert_eq!(t.source.stage.as_deref(), Some("test-invoke-stage"));
        assert_eq!(t.source.route.as_deref(), Some("/myPath"));
        assert_eq!(t.source.region, None);
        let h = http(&t);
        assert_eq!(h.and_then(|h| h.query.as_deref()), None);
        assert_eq!(
            h.and_then(|h| h.client_ip.as_deref()),
            Some("test-invoke-source-ip")
        );
        assert_eq!(t.items.first().map(|i| i.contexts.len()), Some(0));
        Ok(())
    }

    #[test]
    fn sam_local_epoch_in_seconds() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/example-apigw-sam-rest-request.json",
        )?)?;
        assert_eq!(
            t.items.first().and_then(|i| i.time_unix_nano),
            Some(1_706_439_946_000_000_000)
        );
        Ok(())
    }

    #[test]
    fn method_only_in_request_context() -> Result<(), DecodeError> {
        let event =
            json!({"requestContext": {"httpMethod": "PUT", "path": "/p", "resourcePath": "/{x}"}});
        let t = decode(&event)?;
        assert_eq!(
            t.items.first().and_then(|i| i.event_name.as_deref()),
            Some("PUT /p")
        );
        assert_eq!(t.source.route.as_deref(), Some("/{x}"));
        Ok(())
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (json!({"httpMethod": "GET"}), "apigateway-rest event: missing field `requestContext`"),
            (
                json!({"httpMethod": "GET", "requestContext": "x"}),
                "apigateway-rest event: invalid field `requestContext`: expected an object, found a string",
            ),
            (json!({"requestContext": {}}), "apigateway-rest event: missing field `httpMethod`"),
            (
                json!({"httpMethod": 7, "requestContext": {}}),
                "apigateway-rest event: invalid field `httpMethod`: expected a string, found a number",
            ),
            (
                json!({"httpMethod": "GET", "requestContext": {"requestTimeEpoch": 1e300}}),
                "apigateway-rest event: invalid field `requestContext.requestTimeEpoch`: 1e+300 is not an unsigned integer",
            ),
            (
                json!({"httpMethod": "GET", "requestContext": {"requestTimeEpoch": 18446744073709551615u64}}),
                "apigateway-rest event: invalid field `requestContext.requestTimeEpoch`: epoch is out of range",
            ),
            (
                json!({"httpMethod": "GET", "requestContext": {}, "queryStringParameters": ["a"]}),
                "apigateway-rest event: invalid field `queryStringParameters`: expected an object, found an array",
            ),
            (
                json!({"httpMethod": "GET", "requestContext": {"identity": {"sourceIp": false}}}),
                "apigateway-rest event: invalid field `requestContext.identity.sourceIp`: expected a string, found a boolean",
            ),
        ];
        for (event, want) in cases {
            assert_eq!(
                decode(&event).err().map(|e| e.to_string()).as_deref(),
                Some(want)
            );
        }
    }
}
