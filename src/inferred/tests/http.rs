//! API Gateway REST, HTTP and WebSocket APIs, ALB, function URLs.

use super::*;
use crate::event::HttpRequest;
use crate::inferred::{infer_spans, InferOptions};

fn request(id: Option<&str>, time_ms: u64, req: HttpRequest, contexts: Vec<Found>) -> Item {
    Item {
        id: id.map(String::from),
        event_name: req.method.clone(),
        time_unix_nano: Some(time_ms * 1_000_000),
        contexts,
        detail: Some(Detail::Http(req)),
        ..Default::default()
    }
}

/// Values of tests/fixtures/aws-lambda-rust-runtime/example-apigw-request.json.
fn rest_request() -> HttpRequest {
    HttpRequest {
        method: Some("POST".into()),
        path: Some("/hello/world".into()),
        query: Some("name=me".into()),
        host: Some("gy415nuibc.execute-api.us-east-1.amazonaws.com".into()),
        scheme: Some("https".into()),
        protocol: Some("HTTP/1.1".into()),
        user_agent: Some("PostmanRuntime/2.4.5".into()),
        client_ip: Some("192.168.196.186".into()),
        domain: Some("gy415nuibc.execute-api.us-east-2.amazonaws.com".into()),
        ..Default::default()
    }
}

fn apigw_source(route: &str, stage: &str) -> Source {
    Source {
        name: Some("gy415nuibc".into()),
        region: Some("us-east-2".into()),
        account: Some("123456789012".into()),
        stage: Some(stage.into()),
        route: Some(route.into()),
        ..Default::default()
    }
}

#[test]
fn rest_request_is_a_server_span_under_the_header_context() {
    let item = request(
        Some("deef4878-7910-11e6-8f14-25afc3e9ae33"),
        1589522469693,
        rest_request(),
        vec![w3c()],
    );
    let t = trigger(
        TriggerKind::ApigatewayRest,
        apigw_source("/{proxy+}", "testStage"),
        vec![item],
    );
    let opts = InferOptions {
        invocation_start_unix_nano: Some(1_589_522_469_700_000_000),
        ..Default::default()
    };
    assert_eq!(
        render_spans(&infer_spans(&t, &opts)),
        r#"span "POST /{proxy+}" SPAN_KIND_SERVER
  ids trace=4bf92f3577b34da6a3ce929d0e0e4736 span=58825fb78febc0ca parent=00f067aa0ba902b7 flags=0x301 state="congo=t61rcWkgMzE"
  time 1589522469693000000..1589522469700000000
  faas.trigger = "http"
  http.request.method = "POST"
  url.path = "/hello/world"
  url.query = "name=me"
  url.scheme = "https"
  http.route = "/{proxy+}"
  server.address = "gy415nuibc.execute-api.us-east-1.amazonaws.com"
  client.address = "192.168.196.186"
  user_agent.original = "PostmanRuntime/2.4.5"
  network.protocol.version = "1.1"
  relink.apigateway.api_id = "gy415nuibc"
  relink.apigateway.stage = "testStage"
  aws.request_id = "deef4878-7910-11e6-8f14-25afc3e9ae33"
  relink.inferred = true
  relink.trigger.kind = "apigateway-rest"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn http_api_route_key_gives_the_route_and_default_gives_none() {
    let req = HttpRequest {
        method: Some("GET".into()),
        path: Some("/pets/10".into()),
        query: Some(String::new()),
        host: Some("aaaaaaaaaa.execute-api.us-west-2.amazonaws.com".into()),
        scheme: Some("https".into()),
        protocol: Some("HTTP/2.0".into()),
        user_agent: Some("curl/7.58.0".into()),
        client_ip: Some("1.2.3.4".into()),
        ..Default::default()
    };
    let item = request(Some("LV7fzho-PHcEJPw="), 1587481701067, req, vec![]);
    let mut t = trigger(
        TriggerKind::ApigatewayHttp,
        apigw_source("GET /pets/{petId}", "$default"),
        vec![item],
    );
    t.source.name = Some("aaaaaaaaaa".into());
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "GET /pets/{petId}" SPAN_KIND_SERVER
  ids trace=430bff52d3591eacdb0b715ea0544d6c span=c21ff78593347ecf parent=- flags=0x101 state=""
  time 1587481701067000000..1587481701067000000
  faas.trigger = "http"
  http.request.method = "GET"
  url.path = "/pets/10"
  url.scheme = "https"
  http.route = "/pets/{petId}"
  server.address = "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com"
  client.address = "1.2.3.4"
  user_agent.original = "curl/7.58.0"
  network.protocol.version = "2"
  relink.apigateway.api_id = "aaaaaaaaaa"
  relink.apigateway.stage = "$default"
  aws.request_id = "LV7fzho-PHcEJPw="
  relink.inferred = true
  relink.trigger.kind = "apigateway-http"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
    t.source.route = Some("$default".into());
    let spans = infer_spans(&t, &InferOptions::default());
    assert_eq!(spans[0].name, "GET");
    assert!(!render_spans(&spans).contains("http.route"));
}

#[test]
fn websocket_connect_is_named_by_event_and_route_key() {
    let req = HttpRequest {
        host: Some("abcdef1234.execute-api.us-east-1.amazonaws.com".into()),
        websocket_event: Some("CONNECT".into()),
        connection_id: Some("ZZ2dEfG0oAMCKkA=".into()),
        client_ip: Some("203.0.113.7".into()),
        ..Default::default()
    };
    let item = request(Some("ZZ2dEfG0oAMFQ9g="), 1700000000000, req, vec![]);
    let mut source = apigw_source("$connect", "production");
    source.name = Some("abcdef1234".into());
    let t = trigger(TriggerKind::ApigatewayWebsocket, source, vec![item]);
    assert_eq!(
        render_spans(&infer_spans(&t, &InferOptions::default())),
        r#"span "CONNECT $connect" SPAN_KIND_SERVER
  ids trace=2f5f9e4c1bd8943ff1867167efe9e11f span=e4f6636e3b7037a4 parent=- flags=0x101 state=""
  time 1700000000000000000..1700000000000000000
  faas.trigger = "http"
  url.scheme = "wss"
  server.address = "abcdef1234.execute-api.us-east-1.amazonaws.com"
  client.address = "203.0.113.7"
  relink.apigateway.api_id = "abcdef1234"
  relink.apigateway.stage = "production"
  relink.websocket.route_key = "$connect"
  relink.websocket.event_type = "CONNECT"
  relink.websocket.connection_id = "ZZ2dEfG0oAMCKkA="
  aws.request_id = "ZZ2dEfG0oAMFQ9g="
  relink.inferred = true
  relink.trigger.kind = "apigateway-websocket"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn alb_request_with_an_unknown_method_and_a_host_port() {
    let req = HttpRequest {
        method: Some("PURGE".into()),
        path: Some("/lambda".into()),
        query: Some("query=1234ABCD".into()),
        host: Some("lambda-alb-123578498.us-east-2.elb.amazonaws.com:8080".into()),
        user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6)".into()),
        ..Default::default()
    };
    let mut item = request(None, 0, req, vec![]);
    item.time_unix_nano = None;
    let source = Source {
        arn: Some("arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a".into()),
        ..Default::default()
    };
    let t = trigger(TriggerKind::Alb, source, vec![item]);
    let opts = InferOptions {
        invocation_start_unix_nano: Some(1_600_000_000_000_000_000),
        ..Default::default()
    };
    assert_eq!(
        render_spans(&infer_spans(&t, &opts)),
        r#"span "HTTP" SPAN_KIND_SERVER
  ids trace=8c4dc2d73d7283d0c64674fcb086af36 span=4f6e3f647b15b67b parent=- flags=0x101 state=""
  time 1600000000000000000..1600000000000000000
  faas.trigger = "http"
  http.request.method = "_OTHER"
  http.request.method_original = "PURGE"
  url.path = "/lambda"
  url.query = "query=1234ABCD"
  server.address = "lambda-alb-123578498.us-east-2.elb.amazonaws.com"
  server.port = 8080
  user_agent.original = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_6)"
  cloud.resource_id = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a"
  relink.inferred = true
  relink.trigger.kind = "alb"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}

#[test]
fn function_url_is_parented_under_the_first_context_and_links_the_others() {
    let req = HttpRequest {
        method: Some("GET".into()),
        path: Some("/my/path".into()),
        query: Some("parameter1=value1&parameter1=value2&parameter2=value".into()),
        host: Some("id.lambda-url.eu-west-2.on.aws".into()),
        scheme: Some("https".into()),
        protocol: Some("HTTP/1.1".into()),
        user_agent: Some("curl/7.68.0".into()),
        client_ip: Some("65.78.31.245".into()),
        ..Default::default()
    };
    let mut xray_header = xray();
    xray_header.carrier = "headers".into();
    // Listed twice (traceparent and a duplicate): linked once, and never to the parent.
    let item = request(
        Some("MIZRNhJtIAMEMDw="),
        1673437534837,
        req,
        vec![w3c(), xray_header, w3c()],
    );
    let source = Source {
        name: Some("id".into()),
        region: Some("eu-west-2".into()),
        route: Some("$default".into()),
        ..Default::default()
    };
    let t = trigger(TriggerKind::FunctionUrl, source, vec![item]);
    // HTTP requests are parented whatever `parent_single_message` says.
    let opts = InferOptions {
        parent_single_message: false,
        ..Default::default()
    };
    assert_eq!(
        render_spans(&infer_spans(&t, &opts)),
        r#"span "GET" SPAN_KIND_SERVER
  ids trace=4bf92f3577b34da6a3ce929d0e0e4736 span=46edcab9c600e933 parent=00f067aa0ba902b7 flags=0x301 state="congo=t61rcWkgMzE"
  time 1673437534837000000..1673437534837000000
  faas.trigger = "http"
  http.request.method = "GET"
  url.path = "/my/path"
  url.query = "parameter1=value1&parameter1=value2&parameter2=value"
  url.scheme = "https"
  server.address = "id.lambda-url.eu-west-2.on.aws"
  client.address = "65.78.31.245"
  user_agent.original = "curl/7.68.0"
  network.protocol.version = "1.1"
  aws.request_id = "MIZRNhJtIAMEMDw="
  relink.inferred = true
  relink.trigger.kind = "function-url"
  link trace=5759e988bd862e3fe1be46a994272793 span=53995c3f42cd8ad8 flags=0x301 state=""
    aws.request_id = "MIZRNhJtIAMEMDw="
    relink.context.format = "xray"
    relink.context.carrier = "headers"
  dropped attributes=0 events=0 links=0 events=0 status=unset
"#
    );
}
