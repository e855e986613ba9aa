//! Application Load Balancer requests to a Lambda target.
//!
//! Shape: <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html#receive-event-from-load-balancer>
//! (`requestContext.elb.targetGroupArn`, `httpMethod`, `path`, `queryStringParameters`,
//! `headers`, or their `multiValue` forms when the target group enables them). Unlike API
//! Gateway, ALB does not decode query parameters ("if the query parameters are
//! URL-encoded, the load balancer does not decode them"), so they are joined as given.
//! ALB adds `X-Amzn-Trace-Id` to every request; the event carries no request id or time.

use super::http_request::{event_name, non_empty, query_string, Headers};
use super::{Detail, HttpRequest, Item, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{opt_str, req_str};
use serde_json::Value;

const INPUT: &str = "alb event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let arn = req_str(value, "/requestContext/elb/targetGroupArn", INPUT)?;
    let method = req_str(value, "/httpMethod", INPUT)?;
    let path = opt_str(value, "/path", INPUT)?;
    let headers = Headers::read(value, INPUT)?;
    let request = HttpRequest {
        method: Some(method.to_owned()),
        path: path.map(str::to_owned),
        query: query_string(value, INPUT, false)?,
        host: non_empty(headers.get("host")),
        scheme: headers.scheme(),
        protocol: None,
        user_agent: non_empty(headers.get("user-agent")),
        client_ip: headers.forwarded_for(),
        websocket_event: None,
        connection_id: None,
        domain: None,
    };
    let item = Item {
        event_name: event_name(Some(method), path),
        contexts: headers.contexts(),
        detail: Some(Detail::Http(request)),
        ..Item::default()
    };
    let target = TargetGroupArn::parse(arn);
    Ok(Trigger {
        kind: TriggerKind::Alb,
        via: None,
        source: Source {
            arn: Some(arn.to_owned()),
            name: target.name,
            region: target.region,
            account: target.account,
            stage: None,
            route: None,
        },
        items: vec![item],
        step_functions: None,
    })
}

/// `arn:{partition}:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{id}`.
#[derive(Debug, Default, PartialEq)]
struct TargetGroupArn {
    name: Option<String>,
    region: Option<String>,
    account: Option<String>,
}

impl TargetGroupArn {
    /// Whatever parts are present; an ARN of another form gives none.
    fn parse(arn: &str) -> TargetGroupArn {
        let mut parts = arn.splitn(6, ':');
        let (
            Some("arn"),
            Some(_partition),
            Some("elasticloadbalancing"),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return TargetGroupArn::default();
        };
        let name = resource
            .strip_prefix("targetgroup/")
            .and_then(|rest| rest.split('/').next());
        TargetGroupArn {
            name: non_empty(name),
            region: non_empty(Some(region)),
            account: non_empty(Some(account)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::detect_kind;
    use crate::event::test_fixtures::{fixture, http};
    use serde_json::json;

    const FIXTURES: &[&str] = &[
        "aws-lambda-rust-runtime/alb_health_check.json",
        "aws-lambda-rust-runtime/alb_multi_value_request.json",
        "aws-lambda-rust-runtime/alb_multi_value_request_encoded_query_parameters.json",
        "aws-lambda-rust-runtime/alb_no_host.json",
        "aws-lambda-rust-runtime/alb_request.json",
        "aws-lambda-rust-runtime/alb_request_encoded_query_parameters.json",
        "aws-lambda-rust-runtime/example-alb-lambda-target-request-headers-only.json",
        "aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json",
        "datadog-lambda-python/application-load-balancer.json",
        "powertools-lambda-python/albEvent.json",
    ];

    #[test]
    fn every_alb_fixture_is_detected_and_decodes() -> Result<(), DecodeError> {
        for path in FIXTURES {
            let event = fixture(path)?;
            assert_eq!(detect_kind(&event), Some(TriggerKind::Alb), "{path}");
            let trigger = decode(&event)?;
            assert_eq!(trigger.items.len(), 1, "{path}");
            assert!(trigger.source.arn.is_some(), "{path}");
        }
        Ok(())
    }

    #[test]
    fn alb_facts() -> Result<(), DecodeError> {
        let trigger = decode(&fixture(
            "datadog-lambda-python/application-load-balancer.json",
        )?)?;
        assert_eq!(
            trigger.source,
            Source {
                arn: Some(
                    "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/lambda-xyz/123abc"
                        .into()
                ),
                name: Some("lambda-xyz".into()),
                region: Some("us-east-2".into()),
                account: Some("123456789012".into()),
                stage: None,
                route: None,
            }
        );
        let item = trigger.items.first();
        assert_eq!(item.and_then(|i| i.id.as_deref()), None);
        assert_eq!(item.and_then(|i| i.time_unix_nano), None);
        assert_eq!(
            item.and_then(|i| i.event_name.as_deref()),
            Some("GET /lambda")
        );
        assert_eq!(
            http(&trigger),
            Some(&HttpRequest {
                method: Some("GET".into()),
                path: Some("/lambda".into()),
                query: Some("query=1234ABCD".into()),
                host: Some("lambda-alb-123578498.us-east-2.elb.amazonaws.com".into()),
                scheme: Some("http".into()),
                protocol: None,
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/71.0.3578.98 Safari/537.36"
                        .into()
                ),
                client_ip: Some("72.12.164.125".into()),
                websocket_event: None,
                connection_id: None,
                domain: None,
            })
        );
        Ok(())
    }

    #[test]
    fn datadog_headers_in_the_sample() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "datadog-lambda-python/application-load-balancer.json",
        )?)?;
        let found = t
            .items
            .first()
            .map(|i| i.contexts.clone())
            .unwrap_or_default();
        let facts: Vec<_> = found
            .iter()
            .map(|f| {
                (
                    f.context.trace_id.low(),
                    f.context.span_id.as_u64(),
                    f.context.sampled,
                    f.carrier.as_str(),
                )
            })
            .collect();
        assert_eq!(
            facts,
            vec![(12345, 67890, Some(true), "headers.x-datadog-trace-id")]
        );
        // ALB's own X-Amzn-Trace-Id carries only a Root.
        let t = decode(&fixture("powertools-lambda-python/albEvent.json")?)?;
        assert_eq!(t.items.first().map(|i| i.contexts.len()), Some(0));
        Ok(())
    }

    #[test]
    fn encoded_query_parameters_stay_encoded() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/alb_request_encoded_query_parameters.json",
        )?)?;
        assert_eq!(
            http(&t).and_then(|h| h.query.as_deref()),
            Some("myKey=%3FshowAll%3Dtrue")
        );
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/alb_multi_value_request_encoded_query_parameters.json",
        )?)?;
        assert_eq!(
            http(&t).and_then(|h| h.query.as_deref()),
            Some("myKey=%3FshowAll%3Dtrue&myKey=%3FshowAll%3Dfalse")
        );
        Ok(())
    }

    #[test]
    fn multi_value_only_event_and_health_check() -> Result<(), DecodeError> {
        let t = decode(&fixture(
            "aws-lambda-rust-runtime/example-alb-lambda-target-request-multivalue-headers.json",
        )?)?;
        let h = http(&t);
        assert_eq!(
            h.and_then(|h| h.host.as_deref()),
            Some("lambda-test-alb-1234567.us-east-1.elb.amazonaws.com")
        );
        assert_eq!(h.and_then(|h| h.query.as_deref()), Some("key=hello"));
        assert_eq!(t.source.name.as_deref(), Some("lambda-target"));
        let t = decode(&fixture("aws-lambda-rust-runtime/alb_health_check.json")?)?;
        assert_eq!(http(&t).and_then(|h| h.query.as_deref()), None);
        assert_eq!(
            http(&t).and_then(|h| h.user_agent.as_deref()),
            Some("ELB-HealthChecker/2.0")
        );
        Ok(())
    }

    #[test]
    fn target_group_arns() {
        let parsed = TargetGroupArn::parse(
            "arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/tg/1",
        );
        assert_eq!(
            parsed,
            TargetGroupArn {
                name: Some("tg".into()),
                region: Some("cn-north-1".into()),
                account: Some("123456789012".into())
            }
        );
        assert_eq!(
            TargetGroupArn::parse("not-an-arn"),
            TargetGroupArn::default()
        );
        assert_eq!(
            TargetGroupArn::parse("arn:aws:s3:::bucket"),
            TargetGroupArn::default()
        );
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (json!({"requestContext": {"elb": {}}, "httpMethod": "GET"}), "alb event: missing field `requestContext.elb.targetGroupArn`"),
            (json!({"requestContext": {"elb": {"targetGroupArn": "a"}}}), "alb event: missing field `httpMethod`"),
            (
                json!({"requestContext": {"elb": {"targetGroupArn": "a"}}, "httpMethod": "GET", "multiValueHeaders": {"h": [1]}}),
                "alb event: invalid field `multiValueHeaders.h.0`: expected a string, found a number",
            ),
            (
                json!({"requestContext": {"elb": {"targetGroupArn": "a"}}, "httpMethod": "GET", "multiValueQueryStringParameters": {"k": {}}}),
                "alb event: invalid field `multiValueQueryStringParameters.k`: expected an array of strings, found an object",
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
