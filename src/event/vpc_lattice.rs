//! VPC Lattice requests to a Lambda target.
//!
//! Shape: <https://docs.aws.amazon.com/vpc-lattice/latest/ug/lambda-functions.html#receive-event-from-service>.
//! Version 2.0 (`version`, `method`, `path`, `headers`, `queryStringParameters`, and a
//! `requestContext` naming the service network, service and target group, the `region` and
//! `timeEpoch` in microseconds, as a string) and version 1.0 (`method`, `raw_path`,
//! `headers`, `query_string_parameters`, `is_base64_encoded`: nothing about the service).
//! Lattice forwards the client's headers, so a trace context in them continues the
//! caller's trace, as datadog-lambda reads it from any event with `headers`.

use super::http_request::{event_name, non_empty, query_string_at, region_from_domain, Headers};
use super::{arn, Detail, HttpRequest, Item, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{invalid, opt_str, req_str};
use serde_json::Value;

const INPUT: &str = "vpc-lattice event";

/// Whether an event is a VPC Lattice request: 2.0 by its request context's ARNs, 1.0 by its
/// snake_case fields, which no other Lambda trigger writes.
pub(crate) fn is_request(value: &Value) -> bool {
    let v2 = value
        .get("requestContext")
        .is_some_and(|c| c.get("serviceNetworkArn").is_some() || c.get("targetGroupArn").is_some());
    let v1 = ["raw_path", "method", "is_base64_encoded"]
        .iter()
        .all(|k| value.get(*k).is_some());
    v2 || v1
}

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let v2 = value.get("requestContext").is_some();
    let method = req_str(value, "/method", INPUT)?;
    // 1.0's raw_path is the path as the client sent it. Lattice passes query values as the
    // client sent them, like ALB: not escaped again.
    let (path, query) = match v2 {
        true => ("/path", "/queryStringParameters"),
        false => ("/raw_path", "/query_string_parameters"),
    };
    let path = opt_str(value, path, INPUT)?;
    let query = query_string_at(value, query, INPUT, false)?;
    let headers = Headers::read(value, INPUT)?;
    let host = non_empty(headers.get("host"));
    let request = HttpRequest {
        method: Some(method.to_owned()),
        path: path.map(str::to_owned),
        query,
        host: host.clone(),
        scheme: headers.scheme(),
        protocol: None,
        user_agent: non_empty(headers.get("user-agent")),
        client_ip: headers.forwarded_for(),
        websocket_event: None,
        connection_id: None,
        domain: None,
    };
    let service = opt_str(value, "/requestContext/serviceArn", INPUT)?;
    let item = Item {
        event_name: event_name(Some(method), path),
        time_unix_nano: time(value)?,
        contexts: headers.contexts(),
        detail: Some(Detail::Http(request)),
        ..Item::default()
    };
    // `arn:{partition}:vpc-lattice:{region}:{account}:service/{id}`.
    let name = service
        .and_then(arn::parse)
        .and_then(|a| a.resource_after("service"));
    let region = match non_empty(opt_str(value, "/requestContext/region", INPUT)?) {
        Some(region) => Some(region),
        // `{service}-{id}.{hash}.vpc-lattice-svcs.{region}.on.aws`.
        None => host.as_deref().and_then(|h| {
            let (_, rest) = h.split_once('.')?;
            region_from_domain(rest, "vpc-lattice-svcs")
        }),
    };
    Ok(Trigger {
        kind: TriggerKind::VpcLattice,
        via: None,
        source: arn::source(service, name, region.as_deref()),
        items: vec![item],
        step_functions: None,
    })
}

/// `requestContext.timeEpoch`: microseconds since the epoch, as a decimal string.
fn time(value: &Value) -> Result<Option<u64>, DecodeError> {
    const PATH: &str = "/requestContext/timeEpoch";
    let micros = match value.pointer(PATH) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        Some(_) => None,
    };
    match micros {
        Some(0) => Ok(None),
        Some(us) => us
            .checked_mul(1_000)
            .map(Some)
            .ok_or_else(|| invalid(INPUT, PATH, "epoch is out of range".into())),
        None => Err(invalid(
            INPUT,
            PATH,
            "expected microseconds since the epoch".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_fixtures::fixture;
    use crate::event::{detect_kind, Source};
    use serde_json::json;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn version_2_requests() -> Result<(), DecodeError> {
        let mut event = fixture("powertools-lambda-python/vpcLatticeV2Event.json")?;
        assert_eq!(detect_kind(&event), Some(TriggerKind::VpcLattice));
        event["headers"]["traceparent"] = json!(TRACEPARENT);
        let t = decode(&event)?;
        assert_eq!(
            t.source,
            Source {
                arn: Some(
                    "arn:aws:vpc-lattice:us-east-2:123456789012:service/svc-0a40eebed65f8d69c"
                        .into()
                ),
                name: Some("svc-0a40eebed65f8d69c".into()),
                region: Some("us-east-2".into()),
                account: Some("123456789012".into()),
                stage: None,
                route: None,
            }
        );
        let item = &t.items[0];
        assert_eq!(item.event_name.as_deref(), Some("GET /newpath"));
        assert_eq!(item.time_unix_nano, Some(1_696_331_543_569_073_000));
        assert_eq!(item.contexts.len(), 1);
        assert_eq!(
            item.contexts[0].context.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let Some(Detail::Http(request)) = &item.detail else {
            panic!("{item:?}")
        };
        assert_eq!(request.query.as_deref(), Some("order-id=1"));
        assert_eq!(
            request.host.as_deref(),
            Some("test-lambda-service-3908sdf9u3u.dkfjd93.vpc-lattice-svcs.us-east-2.on.aws")
        );
        assert_eq!(request.client_ip.as_deref(), Some("10.213.229.10"));
        Ok(())
    }

    #[test]
    fn version_1_requests() -> Result<(), DecodeError> {
        // powertools-lambda-python tests/events/vpcLatticeEvent.json (MIT-0), as published.
        let mut event = json!({
            "raw_path": "/testpath",
            "method": "GET",
            "headers": {
                "user_agent": "curl/7.64.1",
                "x-forwarded-for": "10.213.229.10",
                "host": "test-lambda-service-3908sdf9u3u.dkfjd93.vpc-lattice-svcs.us-east-2.on.aws",
                "accept": "*/*",
                "header1": "value1",
                "header2": "value1,value2"
            },
            "query_string_parameters": {"order-id": "1"},
            "body": "eyJ0ZXN0IjogImV2ZW50In0=",
            "is_base64_encoded": true
        });
        assert_eq!(detect_kind(&event), Some(TriggerKind::VpcLattice));
        event["headers"]["traceparent"] = json!(TRACEPARENT);
        let t = decode(&event)?;
        assert_eq!(t.source.arn, None);
        assert_eq!(t.source.region.as_deref(), Some("us-east-2"));
        let item = &t.items[0];
        assert_eq!(item.event_name.as_deref(), Some("GET /testpath"));
        assert_eq!(item.time_unix_nano, None);
        assert_eq!(item.contexts.len(), 1);
        Ok(())
    }

    #[test]
    fn bad_fields_are_named() {
        let mut event = fixture("powertools-lambda-python/vpcLatticeV2Event.json").unwrap();
        event["requestContext"]["timeEpoch"] = json!("yesterday");
        assert_eq!(
            decode(&event).map(|_| ()).map_err(|e| e.to_string()),
            Err("vpc-lattice event: invalid field `requestContext.timeEpoch`: expected microseconds since the epoch".into())
        );
        let mut event = fixture("powertools-lambda-python/vpcLatticeV2Event.json").unwrap();
        event["queryStringParameters"] = json!({"a": 1});
        assert!(decode(&event).is_err());
        event["queryStringParameters"] = json!(null);
        event.as_object_mut().unwrap().remove("method");
        assert_eq!(
            decode(&event).map(|_| ()).map_err(|e| e.to_string()),
            Err("vpc-lattice event: missing field `method`".into())
        );
    }
}
