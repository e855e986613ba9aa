//! API Gateway WebSocket API events (`$connect`, `$disconnect`, `$default` and custom
//! routes, Lambda proxy integration).
//!
//! Fields, as the WebSocket context variables define them
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html>):
//! `requestContext.eventType` is `CONNECT`, `MESSAGE` or `DISCONNECT`; `messageId` exists
//! only for `MESSAGE`; `requestId` equals `extendedRequestId`; `connectionId`, `routeKey`,
//! `apiId`, `stage`, `domainName`, `requestTimeEpoch` (ms) and `identity.sourceIp` as for
//! REST. `$connect` carries the upgrade request's headers and query string
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-route-keys-connect-disconnect.html>).

use super::http_request::{
    epoch_millis, non_empty, query_string, region_from_domain, Api, Headers,
};
use super::{Detail, HttpRequest, Item, Source, Trigger, TriggerKind};
use crate::error::DecodeError;
use crate::json::fields::{invalid, opt_str, req_str};
use serde_json::Value;

const INPUT: &str = "apigateway-websocket event";

pub(crate) fn decode(value: &Value) -> Result<Trigger, DecodeError> {
    let text = |path: &str| opt_str(value, path, INPUT);
    let event_type = req_str(value, "/requestContext/eventType", INPUT)?;
    if !matches!(event_type, "CONNECT" | "MESSAGE" | "DISCONNECT") {
        let message = format!("{event_type:?} is not CONNECT, MESSAGE or DISCONNECT");
        return Err(invalid(INPUT, "/requestContext/eventType", message));
    }
    let connection_id = req_str(value, "/requestContext/connectionId", INPUT)?;
    let headers = Headers::read(value, INPUT)?;
    let domain = non_empty(text("/requestContext/domainName")?);
    let request = HttpRequest {
        method: None,
        path: None,
        query: query_string(value, INPUT, true)?,
        host: non_empty(headers.get("host")),
        scheme: headers.scheme(),
        protocol: None,
        user_agent: non_empty(text("/requestContext/identity/userAgent")?)
            .or_else(|| non_empty(headers.get("user-agent"))),
        client_ip: non_empty(text("/requestContext/identity/sourceIp")?),
        websocket_event: Some(event_type.to_owned()),
        connection_id: Some(connection_id.to_owned()),
        domain: domain.clone(),
    };
    // A message has its own id; connects and disconnects only the request's.
    let id = non_empty(text("/requestContext/messageId")?)
        .or(non_empty(text("/requestContext/requestId")?));
    let item = Item {
        id,
        event_name: Some(event_type.to_owned()),
        time_unix_nano: epoch_millis(value, "/requestContext/requestTimeEpoch", INPUT)?,
        contexts: headers.contexts_after_authorizer(value, Api::Rest),
        detail: Some(Detail::Http(request)),
        ..Item::default()
    };
    Ok(Trigger {
        kind: TriggerKind::ApigatewayWebsocket,
        via: None,
        source: Source {
            arn: None,
            name: non_empty(text("/requestContext/apiId")?),
            region: domain
                .as_deref()
                .and_then(|d| region_from_domain(d, "execute-api")),
            account: non_empty(text("/requestContext/accountId")?),
            stage: non_empty(text("/requestContext/stage")?),
            route: non_empty(text("/requestContext/routeKey")?),
        },
        items: vec![item],
        step_functions: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::detect_kind;
    use crate::event::test_fixtures::http;
    use serde_json::json;

    // No fixture holds a WebSocket event. These follow the fields of the AWS pages cited
    // in the module header, laid out as the events API Gateway sends (the same layout as
    // aws-lambda-rust-runtime's lambda-events fixture
    // example-apigw-websocket-request-disconnect-route.json); values are made up.
    fn connect() -> Value {
        json!({
            "headers": {
                "Host": "abcd1234.execute-api.eu-west-1.amazonaws.com",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
                "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678",
                "X-Forwarded-For": "192.0.2.10",
                "X-Forwarded-Port": "443",
                "X-Forwarded-Proto": "https"
            },
            "multiValueHeaders": {
                "Host": ["abcd1234.execute-api.eu-west-1.amazonaws.com"],
                "X-Forwarded-Proto": ["https"]
            },
            "queryStringParameters": {"room": "a b"},
            "multiValueQueryStringParameters": {"room": ["a b"]},
            "requestContext": {
                "routeKey": "$connect",
                "eventType": "CONNECT",
                "extendedRequestId": "CONNreq1=",
                "requestTime": "09/Feb/2024:18:23:27 +0000",
                "messageDirection": "IN",
                "stage": "prod",
                "connectedAt": 1707503007396u64,
                "requestTimeEpoch": 1707503007396u64,
                "identity": {"sourceIp": "192.0.2.10", "userAgent": "wscat"},
                "requestId": "CONNreq1=",
                "domainName": "abcd1234.execute-api.eu-west-1.amazonaws.com",
                "connectionId": "conn-1=",
                "apiId": "abcd1234"
            },
            "isBase64Encoded": false
        })
    }

    fn message() -> Value {
        json!({
            "requestContext": {
                "routeKey": "sendmessage",
                "messageId": "msg-1=",
                "eventType": "MESSAGE",
                "extendedRequestId": "MSGreq1=",
                "messageDirection": "IN",
                "stage": "prod",
                "connectedAt": 1707503007396u64,
                "requestTimeEpoch": 1707503008000u64,
                "identity": {"sourceIp": "192.0.2.10"},
                "requestId": "MSGreq1=",
                "domainName": "abcd1234.execute-api.eu-west-1.amazonaws.com",
                "connectionId": "conn-1=",
                "apiId": "abcd1234"
            },
            "body": "{\"action\":\"sendmessage\"}",
            "isBase64Encoded": false
        })
    }

    #[test]
    fn connect_event_facts() -> Result<(), DecodeError> {
        let event = connect();
        assert_eq!(detect_kind(&event), Some(TriggerKind::ApigatewayWebsocket));
        let trigger = decode(&event)?;
        assert_eq!(
            trigger.source,
            Source {
                arn: None,
                name: Some("abcd1234".into()),
                region: Some("eu-west-1".into()),
                account: None,
                stage: Some("prod".into()),
                route: Some("$connect".into()),
            }
        );
        let item = trigger.items.first();
        assert_eq!(item.and_then(|i| i.id.as_deref()), Some("CONNreq1="));
        assert_eq!(item.and_then(|i| i.event_name.as_deref()), Some("CONNECT"));
        assert_eq!(
            item.and_then(|i| i.time_unix_nano),
            Some(1_707_503_007_396_000_000)
        );
        assert_eq!(
            http(&trigger),
            Some(&HttpRequest {
                method: None,
                path: None,
                query: Some("room=a%20b".into()),
                host: Some("abcd1234.execute-api.eu-west-1.amazonaws.com".into()),
                scheme: Some("https".into()),
                protocol: None,
                user_agent: Some("wscat".into()),
                client_ip: Some("192.0.2.10".into()),
                websocket_event: Some("CONNECT".into()),
                connection_id: Some("conn-1=".into()),
                domain: Some("abcd1234.execute-api.eu-west-1.amazonaws.com".into()),
            })
        );
        Ok(())
    }

    #[test]
    fn message_event_uses_the_message_id() -> Result<(), DecodeError> {
        let event = message();
        assert_eq!(detect_kind(&event), Some(TriggerKind::ApigatewayWebsocket));
        let trigger = decode(&event)?;
        let item = trigger.items.first();
        assert_eq!(item.and_then(|i| i.id.as_deref()), Some("msg-1="));
        assert_eq!(item.and_then(|i| i.event_name.as_deref()), Some("MESSAGE"));
        assert_eq!(trigger.source.route.as_deref(), Some("sendmessage"));
        assert_eq!(http(&trigger).and_then(|h| h.query.as_deref()), None);
        assert_eq!(http(&trigger).and_then(|h| h.host.as_deref()), None);
        Ok(())
    }

    #[test]
    fn trace_context_on_connect() -> Result<(), DecodeError> {
        let mut event = connect();
        if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
            headers.insert(
                "traceparent".into(),
                json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
            );
        }
        let t = decode(&event)?;
        let found = t.items.first().and_then(|i| i.contexts.first());
        assert_eq!(
            found.map(|f| f.context.trace_id.to_hex()).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        assert_eq!(found.map(|f| f.context.sampled), Some(Some(false)));
        assert_eq!(t.items.first().map(|i| i.contexts.len()), Some(1));
        Ok(())
    }

    #[test]
    fn disconnect_event() -> Result<(), DecodeError> {
        let mut event = message();
        if let Some(ctx) = event
            .get_mut("requestContext")
            .and_then(Value::as_object_mut)
        {
            ctx.insert("eventType".into(), json!("DISCONNECT"));
            ctx.insert("routeKey".into(), json!("$disconnect"));
            ctx.insert("messageId".into(), Value::Null);
            ctx.insert("disconnectStatusCode".into(), json!(1005));
        }
        let trigger = decode(&event)?;
        let item = trigger.items.first();
        assert_eq!(item.and_then(|i| i.id.as_deref()), Some("MSGreq1="));
        assert_eq!(
            http(&trigger).and_then(|h| h.websocket_event.as_deref()),
            Some("DISCONNECT")
        );
        Ok(())
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (
                json!({"requestContext": {"connectionId": "c"}}),
                "apigateway-websocket event: missing field `requestContext.eventType`",
            ),
            (
                json!({"requestContext": {"eventType": "CONNECT"}}),
                "apigateway-websocket event: missing field `requestContext.connectionId`",
            ),
            (
                json!({"requestContext": {"eventType": "OPEN", "connectionId": "c"}}),
                "apigateway-websocket event: invalid field `requestContext.eventType`: \"OPEN\" is not CONNECT, MESSAGE or DISCONNECT",
            ),
            (
                json!({"requestContext": {"eventType": "MESSAGE", "connectionId": "c", "requestTimeEpoch": -5}}),
                "apigateway-websocket event: invalid field `requestContext.requestTimeEpoch`: -5 is not an unsigned integer",
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
