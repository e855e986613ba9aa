//! The HTTP routes: `POST /v1/traces` and `POST /v1/events` through admission control and
//! the [`Pipeline`], `GET /metrics`, `GET /health` (alive), `GET /ready` (503 while a
//! sending queue is full or the relay is stopping) and, with `--playground`, the
//! playground's files.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::Semaphore;

use crate::admission::{Admission, Refusal, RETRY_INFLIGHT};
use crate::export::{ExportRequest, Pipeline, Reply};
use crate::site::Site;

/// What every request handler shares.
pub struct Shared {
    pub pipeline: Arc<Pipeline>,
    pub site: Option<Arc<Site>>,
    /// `--workers`: exports processed at once.
    pub workers: Arc<Semaphore>,
    pub admission: Admission,
    pub connections: Arc<crate::connections::Connections>,
    /// Set once SIGTERM/SIGINT arrived.
    pub stopping: AtomicBool,
    /// `--bearer-token-file`: required on both receivers.
    pub bearer: Option<Arc<crate::auth::BearerToken>>,
}

pub async fn route(
    request: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let pipeline = &shared.pipeline;
    let reply = match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/traces") => export(request, shared.clone(), false).await,
        (&Method::POST, "/v1/events") => export(request, shared.clone(), true).await,
        (&Method::GET, "/metrics") => text_reply(200, METRICS_TYPE, metrics_text(&shared).await),
        (&Method::GET, "/health") => text_reply(200, "text/plain", "ok\n".into()),
        (&Method::GET, "/ready") => {
            if shared.stopping.load(Ordering::Relaxed) {
                text_reply(503, "text/plain", "stopping\n".into())
            } else if pipeline.outputs.is_full() {
                let mut reply = text_reply(503, "text/plain", "a sending queue is full or the spool refuses\n".into());
                reply.headers_mut().insert(RETRY_AFTER, HeaderValue::from(crate::delivery::RETRY_QUEUE_FULL));
                reply
            } else {
                text_reply(200, "text/plain", "ready\n".into())
            }
        }
        (_, "/v1/traces" | "/v1/events") => with_allow(not_served(&request, 405, "use POST\n".into()), "POST"),
        (_, "/metrics" | "/health" | "/ready") => with_allow(not_served(&request, 405, "use GET\n".into()), "GET"),
        (&Method::GET | &Method::HEAD, path) if shared.site.is_some() => {
            let asset = shared.site.as_deref().and_then(|s| s.get(path));
            match asset {
                Some(asset) => static_reply(asset, request.method() == Method::HEAD),
                None => text_reply(404, "text/plain", format!("no playground file {path}\n")),
            }
        }
        _ => not_served(
            &request,
            404,
            match shared.site {
                Some(_) => "relink serves POST /v1/traces, POST /v1/events, GET /metrics, /health, /ready and the playground (GET /)\n",
                None => "relink serves POST /v1/traces, POST /v1/events, GET /metrics, /health and /ready (and the playground with --playground DIR)\n",
            }
            .into(),
        ),
    };
    pipeline.metrics.response(reply.status().as_u16());
    Ok(reply)
}

/// `POST /v1/traces` (an OTLP export) or, with `raw_event`, `POST /v1/events` (a raw AWS
/// payload, answered in OTLP/JSON whatever its content type).
async fn export(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    raw_event: bool,
) -> Response<Full<Bytes>> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let (content_type, content_encoding) = (header(CONTENT_TYPE), header(CONTENT_ENCODING));
    let encoding = match raw_event {
        true => relink::otlp::Encoding::Json,
        false => match Pipeline::negotiate(content_type.as_deref()) {
            Ok(encoding) => encoding,
            Err(reply) => return http_reply(reply),
        },
    };
    if let Some(token) = &shared.bearer {
        if !token.accepts(request.headers().get(AUTHORIZATION)) {
            let mut reply = http_reply(Reply::status(401, encoding, crate::auth::REFUSED));
            reply
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return reply;
        }
    }
    let declared = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    // HTTP/1.0 has no chunked coding, so a body without `Content-Length` reads as empty:
    // answering 200 would acknowledge an export never read. RFC 1945 (7.2.2) requires the
    // length on every HTTP/1.0 POST.
    if request.version() == hyper::Version::HTTP_10 && header(CONTENT_LENGTH).is_none() {
        return http_reply(Reply::status(
            411,
            encoding,
            "an HTTP/1.0 request needs Content-Length",
        ));
    }
    let (body, reservation) = match shared.admission.read(request.into_body(), declared).await {
        Ok(read) => read,
        Err(Refusal::TooLarge(message)) => {
            return http_reply(Reply::status(413, encoding, &message))
        }
        Err(Refusal::Busy(message)) => {
            shared.pipeline.metrics.refused("inflight_bytes");
            return http_reply(Reply::busy(encoding, RETRY_INFLIGHT, &message));
        }
        // 503, not 408: OTLP clients retry only 429, 502, 503 and 504, and a slow client
        // (the Collector's receiver sets no body timeout at all) must not lose its batch.
        Err(Refusal::Timeout(message)) => {
            return http_reply(Reply::busy(encoding, RETRY_INFLIGHT, &message))
        }
        Err(Refusal::Broken(message)) => return http_reply(Reply::status(400, encoding, &message)),
    };
    let Ok(_permit) = shared.workers.clone().acquire_owned().await else {
        return http_reply(Reply::status(503, encoding, "the relay is shutting down"));
    };
    let pipeline = shared.pipeline.clone();
    let job = move || {
        let request = ExportRequest {
            encoding,
            content_encoding: content_encoding.as_deref(),
            body,
        };
        let reply = match raw_event {
            true => pipeline.event(request),
            false => pipeline.export(request),
        };
        drop(reservation);
        reply
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(reply) => http_reply(reply),
        Err(e) => http_reply(Reply::status(
            500,
            encoding,
            &format!("relink: request failed: {e}"),
        )),
    }
}

/// The media type of the Prometheus text format.
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4";

/// The `/metrics` page: the relay's and the component's counters, and the connection
/// gauges.
pub async fn metrics_text(shared: &Arc<Shared>) -> String {
    let p = shared.pipeline.clone();
    let mut text = tokio::task::spawn_blocking(move || p.prometheus())
        .await
        .unwrap_or_default();
    for (name, value) in [
        ("relink_relay_open_connections", shared.connections.open()),
        ("relink_relay_inflight_bytes", shared.admission.in_flight()),
    ] {
        text.push_str(&format!("# TYPE {name} gauge\n{name} {value}\n"));
    }
    text
}

fn http_reply(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(&reply.content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    if let Some(value) = reply
        .retry_after
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

/// A playground file. `no-cache`: the browser revalidates, so a rebuilt playground shows.
fn static_reply(asset: &crate::site::Asset, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        asset.body.clone()
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn text_reply(status: u16, content_type: &str, text: String) -> Response<Full<Bytes>> {
    http_reply(Reply {
        status,
        content_type: content_type.to_string(),
        retry_after: None,
        body: text.into_bytes(),
    })
}

/// A 404 or 405. An OTLP client (a request with an OTLP content type, such as an SDK whose
/// endpoint is the relay exporting metrics to `/v1/metrics`) gets a `google.rpc.Status` in
/// its encoding, as OTLP/HTTP requires of every 4xx; anyone else gets the text.
fn not_served(request: &Request<Incoming>, status: u16, text: String) -> Response<Full<Bytes>> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match content_type.and_then(relink::otlp::Encoding::from_content_type) {
        Some(encoding) => http_reply(Reply::status(status, encoding, text.trim_end())),
        None => text_reply(status, "text/plain", text),
    }
}

fn with_allow(mut response: Response<Full<Bytes>>, methods: &'static str) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(methods));
    response
}
