//! Spans for HTTP requests: API Gateway REST, HTTP and WebSocket APIs, ALB, function URLs.
//!
//! One SERVER span per request, following the HTTP server span conventions: named
//! `{method} {http.route}` (`{method}` alone without a route template, `HTTP` for a method
//! outside the known set). Its parent is the request headers' context.

use super::attrs::{join_name, Attrs};
use super::shape::Shape;
use crate::event::{Detail, HttpRequest, Item, Trigger, TriggerKind};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// RFC 9110 methods, PATCH and QUERY: the HTTP conventions' default known methods.
const KNOWN_METHODS: [&str; 10] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE",
];

pub(crate) fn shape(trigger: &Trigger) -> Shape {
    let empty = HttpRequest::default();
    let req = match trigger.items.first().and_then(|i| i.detail.as_ref()) {
        Some(Detail::Http(r)) => r,
        _ => &empty,
    };
    let websocket = trigger.kind == TriggerKind::ApigatewayWebsocket;
    let apigateway = matches!(
        trigger.kind,
        TriggerKind::ApigatewayRest
            | TriggerKind::ApigatewayHttp
            | TriggerKind::ApigatewayWebsocket
    );
    let route_key = trigger.source.route.as_deref();
    let route = if websocket {
        None
    } else {
        route_key.and_then(route_template)
    };
    let method = req.method.as_deref().filter(|m| !m.is_empty());
    let known = method.filter(|m| KNOWN_METHODS.contains(m));

    let mut a = Attrs::new();
    if let Some(m) = method {
        a.str("http.request.method", known.unwrap_or("_OTHER"));
        if known.is_none() {
            a.str("http.request.method_original", m);
        }
    }
    // API Gateway and function URLs only listen on HTTPS (WebSocket APIs on WSS); an ALB
    // listener or a VPC Lattice service may be either.
    let default_scheme = match trigger.kind {
        TriggerKind::Alb | TriggerKind::VpcLattice => None,
        TriggerKind::ApigatewayWebsocket => Some("wss"),
        _ => Some("https"),
    };
    a.opt_str("url.path", req.path.as_deref())
        .opt_str("url.query", req.query.as_deref())
        .opt_str("url.scheme", req.scheme.as_deref().or(default_scheme))
        .opt_str("http.route", route);
    if let Some((host, port)) = req
        .host
        .as_deref()
        .or(req.domain.as_deref())
        .map(split_host_port)
    {
        a.opt_str("server.address", Some(host))
            .opt_int("server.port", port);
    }
    a.opt_str("client.address", req.client_ip.as_deref())
        .opt_str("user_agent.original", req.user_agent.as_deref())
        .opt_str(
            "network.protocol.version",
            req.protocol.as_deref().and_then(protocol_version),
        );
    if apigateway {
        a.opt_str("relink.apigateway.api_id", trigger.source.name.as_deref())
            .opt_str("relink.apigateway.stage", trigger.source.stage.as_deref());
    }
    if websocket {
        a.opt_str("relink.websocket.route_key", route_key)
            .opt_str(
                "relink.websocket.event_type",
                req.websocket_event.as_deref(),
            )
            .opt_str(
                "relink.websocket.connection_id",
                req.connection_id.as_deref(),
            );
    }

    let name = if websocket {
        // WebSocket frames have no method or path template: `{event type} {route key}`,
        // e.g. `CONNECT $connect`, `MESSAGE sendmessage`.
        join_name(&[req.websocket_event.as_deref(), route_key])
    } else {
        let method_name = if known.is_some() { known } else { Some("HTTP") };
        join_name(&[method_name, route])
    };
    Shape {
        kind: SpanKind::Server,
        name,
        faas_trigger: "http",
        attrs: a,
        http: true,
        item_attrs,
    }
}

/// The request id API Gateway and function URLs return in `x-amzn-RequestId`.
fn item_attrs(_trigger: &Trigger, item: &Item) -> Attrs {
    let mut a = Attrs::new();
    a.opt_str("aws.request_id", item.id.as_deref());
    a
}

/// The path template of a route key: `GET /items/{id}` and `/items/{id}` give
/// `/items/{id}`; `$default` and other keys that are not paths give `None`, since
/// `http.route` must not be populated with something that is not a template.
fn route_template(route: &str) -> Option<&str> {
    let path = match route.split_once(' ') {
        Some((method, path)) if method.bytes().all(|b| b.is_ascii_uppercase()) => path,
        _ => route,
    };
    path.starts_with('/').then_some(path)
}

/// Splits `host[:port]` and `[v6][:port]`; a port that does not parse stays in the host.
fn split_host_port(host: &str) -> (&str, Option<u64>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse::<u16>().ok());
            return (addr, port.map(u64::from));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
            Ok(port) => (h, Some(u64::from(port))),
            Err(_) => (host, None),
        },
        _ => (host, None),
    }
}

/// `HTTP/1.1` -> `1.1`, `HTTP/2.0` -> `2`, `HTTP/3.0` -> `3` (the conventions' examples
/// are `1.0`, `1.1`, `2`, `3`); anything else is not a version we can vouch for.
fn protocol_version(protocol: &str) -> Option<&str> {
    let version = protocol
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("HTTP/"))
        .and(protocol.get(5..))?;
    let version = match version {
        "2.0" => "2",
        "3.0" => "3",
        v => v,
    };
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates() {
        assert_eq!(route_template("GET /items/{id}"), Some("/items/{id}"));
        assert_eq!(route_template("ANY /{proxy+}"), Some("/{proxy+}"));
        assert_eq!(route_template("/items/{id}"), Some("/items/{id}"));
        assert_eq!(route_template("$default"), None);
        assert_eq!(route_template("sendmessage"), None);
        assert_eq!(route_template("get /x"), None);
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(
            split_host_port("example.com:8443"),
            ("example.com", Some(8443))
        );
        assert_eq!(
            split_host_port("example.com:http"),
            ("example.com:http", None)
        );
        assert_eq!(split_host_port("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("[::1"), ("[::1", None));
        assert_eq!(split_host_port("::1"), ("::1", None));
    }

    #[test]
    fn protocol_versions() {
        assert_eq!(protocol_version("HTTP/1.1"), Some("1.1"));
        assert_eq!(protocol_version("HTTP/1.0"), Some("1.0"));
        assert_eq!(protocol_version("HTTP/2.0"), Some("2"));
        assert_eq!(protocol_version("http/3.0"), Some("3"));
        assert_eq!(protocol_version("HTTP/"), None);
        assert_eq!(protocol_version("h2"), None);
        assert_eq!(protocol_version("HTTP/1.1 x"), None);
        assert_eq!(protocol_version("HTTP"), None);
    }
}
