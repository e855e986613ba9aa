//! Lambda function URL requests.
//!
//! Shape: <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads>:
//! the API Gateway payload format 2.0, told apart by a `requestContext.domainName` of the
//! form `{url-id}.lambda-url.{region}.on.aws`. The URL id names the function's endpoint;
//! `routeKey` and `stage` are always `$default` and so carry nothing.

use super::apigateway_http;
use super::http_request::{non_empty, region_from_domain};
use super::{Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{opt_str, req_str};
use serde_json::Value;

const INPUT: &str = "function-url event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let item = apigateway_http::item(value, INPUT)?;
    let domain = req_str(value, "/requestContext/domainName", INPUT)?;
    let url_id = domain
        .split('.')
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    // With auth type NONE the caller is unauthenticated and Lambda writes "anonymous".
    let account =
        non_empty(opt_str(value, "/requestContext/accountId", INPUT)?).filter(|a| a != "anonymous");
    Ok(Trigger {
        kind: TriggerKind::FunctionUrl,
        via: None,
        source: Source {
            arn: None,
            name: url_id,
            region: region_from_domain(domain, "lambda-url"),
            account,
            stage: None,
            route: None,
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
    use crate::event::HttpRequest;
    use serde_json::json;

    const FIXTURES: &[&str] = &[
        "aws-lambda-rust-runtime/lambda_function_url_request.json",
        "datadog-lambda-python/lambda-url.json",
        "powertools-lambda-python/lambdaFunctionUrlEvent.json",
        "powertools-lambda-python/lambdaFunctionUrlEventPathTrailingSlash.json",
        "powertools-lambda-python/lambdaFunctionUrlEventWithHeaders.json",
        "powertools-lambda-python/lambdaFunctionUrlIAMEvent.json",
    ];

    #[test]
    fn every_function_url_fixture_is_detected_and_decodes() -> Result<(), DecodeError> {
        for path in FIXTURES {
            let event = fixture(path)?;
            assert_eq!(
                detect_kind(&event),
                Some(TriggerKind::FunctionUrl),
                "{path}"
            );
            let trigger = decode(&event)?;
            assert_eq!(trigger.items.len(), 1, "{path}");
            assert!(trigger.source.region.is_some(), "{path}");
        }
        Ok(())
    }

    #[test]
    fn function_url_facts() -> Result<(), DecodeError> {
        let trigger = decode(&fixture("datadog-lambda-python/lambda-url.json")?)?;
        assert_eq!(
            trigger.source,
            Source {
                arn: None,
                name: Some("a8hyhsshac".into()),
                region: Some("eu-south-1".into()),
                account: Some("601427279990".into()),
                stage: None,
                route: None,
            }
        );
        let item = trigger.items.first();
        assert_eq!(
            item.and_then(|i| i.id.as_deref()),
            Some("ec4d58f8-2b8b-4ceb-a1d5-2be7bff58505")
        );
        assert_eq!(item.and_then(|i| i.event_name.as_deref()), Some("GET /"));
        assert_eq!(
            item.and_then(|i| i.time_unix_nano),
            Some(1_637_169_449_721_000_000)
        );
        assert_eq!(
            http(&trigger),
            Some(&HttpRequest {
                method: Some("GET".into()),
                path: Some("/".into()),
                query: None,
                host: Some("a8hyhsshac.lambda-url.eu-south-1.amazonaws.com".into()),
                scheme: Some("https".into()),
                protocol: Some("HTTP/1.1".into()),
                user_agent: Some(
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36"
                        .into()
                ),
                client_ip: Some("71.195.30.42".into()),
                websocket_event: None,
                connection_id: None,
                domain: Some("a8hyhsshac.lambda-url.eu-south-1.amazonaws.com".into()),
            })
        );
        Ok(())
    }

    #[test]
    fn root_only_xray_header_gives_no_context() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/lambda_function_url_request.json",
        )?)?;
        assert_eq!(t.items.first().map(|i| i.contexts.len()), Some(0));
        Ok(())
    }

    #[test]
    fn anonymous_account_and_trailing_slash() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "powertools-lambda-python/lambdaFunctionUrlEvent.json",
        )?)?;
        assert_eq!(t.source.account, None);
        assert_eq!(t.source.name.as_deref(), Some("<url-id>"));
        assert_eq!(t.source.region.as_deref(), Some("us-east-1"));
        let t = decode(&fixture(
            "powertools-lambda-python/lambdaFunctionUrlEventPathTrailingSlash.json",
        )?)?;
        assert_eq!(http(&t).and_then(|h| h.path.as_deref()), Some("/my/path/"));
        assert_eq!(
            http(&t).and_then(|h| h.query.as_deref()),
            Some("parameter1=value1&parameter1=value2&parameter2=value")
        );
        Ok(())
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (
                json!({"requestContext": {"http": {"method": "GET"}}}),
                "function-url event: missing field `requestContext.domainName`",
            ),
            (
                json!({"requestContext": {"http": {"method": ["GET"]}, "domainName": "x.lambda-url.r-1.on.aws"}}),
                "function-url event: invalid field `requestContext.http.method`: expected a string, found an array",
            ),
            (
                json!({"requestContext": {"http": "GET", "domainName": "x.lambda-url.r-1.on.aws"}}),
                "function-url event: invalid field `requestContext.http`: expected an object, found a string",
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
