//! API Gateway HTTP API requests (payload format 2.0).
//!
//! Shape: <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html>
//! (`routeKey`, `rawPath`, `rawQueryString`, single-valued `headers` with repeated
//! headers comma-joined, `requestContext.http.{method,path,protocol,sourceIp,userAgent}`,
//! `requestContext.{requestId,apiId,stage,domainName,timeEpoch}`). Cookies are not read.
//! Lambda function URLs send the same shape; [`item`] serves both.

use super::http_request::{epoch_millis, event_name, non_empty, region_from_domain, Api, Headers};
use super::{Detail, HttpRequest, Item, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{missing, opt_obj, opt_str, req_str};
use serde_json::Value;

const INPUT: &str = "apigateway-http event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let item = item(value, INPUT)?;
    let text = |path: &str| opt_str(value, path, INPUT);
    let domain = non_empty(text("/requestContext/domainName")?);
    Ok(Trigger {
        kind: TriggerKind::ApigatewayHttp,
        via: None,
        source: Source {
            arn: None,
            name: non_empty(text("/requestContext/apiId")?),
            region: domain
                .as_deref()
                .and_then(|d| region_from_domain(d, "execute-api")),
            account: non_empty(text("/requestContext/accountId")?),
            stage: non_empty(text("/requestContext/stage")?),
            route: non_empty(text("/routeKey")?.or(text("/requestContext/routeKey")?)),
        },
        items: vec![item],
        step_functions: None,
    })
}

/// The request of a payload-format-2.0 event as one item (id: request id).
pub(super) fn item(value: &Value, input: &'static str) -> Result<Item, DecodeError> {
    if opt_obj(value, "/requestContext/http", input)?.is_none() {
        return Err(missing(input, "/requestContext/http"));
    }
    let text = |path: &str| opt_str(value, path, input);
    let method = req_str(value, "/requestContext/http/method", input)?;
    // `rawPath` is what the client sent; `http.path` may be normalised (trailing slash).
    let path = text("/rawPath")?.or(text("/requestContext/http/path")?);
    let headers = Headers::read(value, input)?;
    let request = HttpRequest {
        method: Some(method.to_owned()),
        path: path.map(str::to_owned),
        query: non_empty(text("/rawQueryString")?),
        host: non_empty(headers.get("host")),
        scheme: headers.scheme(),
        protocol: non_empty(text("/requestContext/http/protocol")?),
        user_agent: non_empty(text("/requestContext/http/userAgent")?)
            .or_else(|| non_empty(headers.get("user-agent"))),
        client_ip: non_empty(text("/requestContext/http/sourceIp")?),
        websocket_event: None,
        connection_id: None,
        domain: non_empty(text("/requestContext/domainName")?),
    };
    Ok(Item {
        id: non_empty(text("/requestContext/requestId")?),
        event_name: event_name(Some(method), path),
        time_unix_nano: epoch_millis(value, "/requestContext/timeEpoch", input)?,
        contexts: headers.contexts_after_authorizer(value, Api::Http),
        detail: Some(Detail::Http(request)),
        ..Item::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::detect_kind;
    use crate::event::test_fixtures::{fixture, http};
    use serde_json::json;

    const FIXTURES: &[&str] = &[
        "aws-lambda-rust-runtime/apigw_request_path_with_space.json",
        "aws-lambda-rust-runtime/apigw_v2_proxy_request.json",
        "aws-lambda-rust-runtime/apigw_v2_proxy_request_minimal.json",
        "aws-lambda-rust-runtime/apigw_v2_proxy_request_with_stage_in_path.json",
        "aws-lambda-rust-runtime/apigw_v2_sam_local.json",
        "aws-lambda-rust-runtime/example-apigw-sam-http-request.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-iam.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-jwt-authorizer.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-lambda-authorizer.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-multi-value-parameters.json",
        "aws-lambda-rust-runtime/example-apigw-v2-request-no-authorizer.json",
        "datadog-lambda-python/http-api.json",
        "powertools-lambda-python/apiGatewayProxyV2Event.json",
    ];

    #[test]
    fn every_http_api_fixture_is_detected_and_decodes() -> Result<(), DecodeError> {
        for path in FIXTURES {
            let event = fixture(path)?;
            assert_eq!(
                detect_kind(&event),
                Some(TriggerKind::ApigatewayHttp),
                "{path}"
            );
            let trigger = decode(&event)?;
            assert_eq!(trigger.items.len(), 1, "{path}");
            assert!(trigger.source.route.is_some(), "{path}");
        }
        Ok(())
    }

    #[test]
    fn http_api_facts() -> Result<(), DecodeError> {
        let trigger = decode(&fixture("datadog-lambda-python/http-api.json")?)?;
        assert_eq!(
            trigger.source,
            Source {
                arn: None,
                name: Some("x02yirxc7a".into()),
                region: Some("eu-west-1".into()),
                account: Some("601427279990".into()),
                stage: Some("$default".into()),
                route: Some("GET /httpapi/get".into()),
            }
        );
        let item = trigger.items.first();
        assert_eq!(item.and_then(|i| i.id.as_deref()), Some("FaHnXjKCGjQEJ7A="));
        assert_eq!(
            item.and_then(|i| i.event_name.as_deref()),
            Some("GET /httpapi/get")
        );
        assert_eq!(
            item.and_then(|i| i.time_unix_nano),
            Some(1_631_212_283_738_000_000)
        );
        assert_eq!(
            http(&trigger),
            Some(&HttpRequest {
                method: Some("GET".into()),
                path: Some("/httpapi/get".into()),
                query: None,
                host: Some("x02yirxc7a.execute-api.eu-west-1.amazonaws.com".into()),
                scheme: Some("https".into()),
                protocol: Some("HTTP/1.1".into()),
                user_agent: Some("curl/7.64.1".into()),
                client_ip: Some("38.122.226.210".into()),
                websocket_event: None,
                connection_id: None,
                domain: Some("x02yirxc7a.execute-api.eu-west-1.amazonaws.com".into()),
            })
        );
        Ok(())
    }

    #[test]
    fn trace_contexts_from_headers() -> Result<(), DecodeError> {
        // The sample's X-Amzn-Trace-Id has no Parent: nothing to link to.
        let t = decode(&fixture("datadog-lambda-python/http-api.json")?)?;
        let carriers: Vec<_> = t
            .items
            .iter()
            .flat_map(|i| i.contexts.iter().map(|f| f.carrier.as_str()))
            .collect();
        assert_eq!(carriers, vec!["headers.x-datadog-trace-id"]);
        let event = json!({
            "version": "2.0",
            "requestContext": {"http": {"method": "GET"}},
            "headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        });
        let t = decode(&event)?;
        let found = t.items.first().and_then(|i| i.contexts.first());
        assert_eq!(
            found.map(|f| f.context.trace_id.to_hex()).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(
            found.map(|f| f.context.span_id.to_hex()).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert_eq!(found.map(|f| f.context.sampled), Some(Some(true)));
        assert_eq!(
            found.map(|f| f.carrier.as_str()),
            Some("headers.traceparent")
        );
        Ok(())
    }

    #[test]
    fn raw_path_and_raw_query_are_kept_as_sent() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/apigw_request_path_with_space.json",
        )?)?;
        let h = http(&t);
        assert_eq!(
            h.and_then(|h| h.path.as_deref()),
            Some("/my/path-with space")
        );
        assert_eq!(
            h.and_then(|h| h.query.as_deref()),
            Some("parameter1=value1&parameter1=value2&parameter2=value")
        );
        assert_eq!(
            t.items.first().and_then(|i| i.event_name.as_deref()),
            Some("POST /my/path-with space")
        );
        Ok(())
    }

    #[test]
    fn sam_local_seconds_and_localhost() -> Result<(), DecodeError> {
        let t = decode(&fixture("aws-lambda-rust-runtime/apigw_v2_sam_local.json")?)?;
        assert_eq!(
            t.items.first().and_then(|i| i.time_unix_nano),
            Some(1_637_063_673_000_000_000)
        );
        assert_eq!(t.source.region, None);
        assert_eq!(http(&t).and_then(|h| h.scheme.as_deref()), Some("http"));
        Ok(())
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (json!({"version": "2.0", "requestContext": {}}), "apigateway-http event: missing field `requestContext.http`"),
            (
                json!({"requestContext": {"http": {}}}),
                "apigateway-http event: missing field `requestContext.http.method`",
            ),
            (
                json!({"requestContext": {"http": {"method": "GET"}, "timeEpoch": "soon"}}),
                "apigateway-http event: invalid field `requestContext.timeEpoch`: \"soon\" is not an unsigned integer",
            ),
            (
                json!({"requestContext": {"http": {"method": "GET"}}, "headers": {"h": ["x"]}}),
                "apigateway-http event: invalid field `headers.h`: expected a string, found an array",
            ),
            (
                json!({"requestContext": {"http": {"method": "GET"}}, "routeKey": 1}),
                "apigateway-http event: invalid field `routeKey`: expected a string, found a number",
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
