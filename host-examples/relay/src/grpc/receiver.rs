//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` over HTTP/2,
//! framed by hand per the gRPC-over-HTTP/2 specification
//! (<https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md>) on hyper's HTTP/2
//! server, so the export goes through the same admission, [`Pipeline`] and outputs as
//! OTLP/HTTP and only the envelope differs:
//!
//! - the request is one length-prefixed message (1-byte compressed flag, 4-byte big-endian
//!   length); a set flag means `grpc-encoding` (gzip, zstd or snappy: `crate::codings`) applies to that message;
//! - success is `200`, the framed `ExportTraceServiceResponse` (its `partial_success`
//!   carries relink's warning when it passed the request through unchanged), then the
//!   trailer `grpc-status: 0`;
//! - every failure is Trailers-Only: `grpc-status`, a percent-encoded `grpc-message` and,
//!   for back-pressure, `grpc-status-details-bin` with a `google.rpc.RetryInfo`, for
//!   `INVALID_ARGUMENT` one with a `google.rpc.BadRequest` naming the bad field.
//!
//! Codes follow the OTLP specification (<https://opentelemetry.io/docs/specs/otlp/#failures>):
//! back-pressure (a full queue or spool, the bytes-in-flight budget) and an unreachable
//! upstream in synchronous mode are `UNAVAILABLE`, with `RetryInfo` carrying the delay the
//! HTTP side puts in `Retry-After` (the spec's throttling signal; `RESOURCE_EXHAUSTED` is
//! kept for a message over `--max-body`, which no retry can fix); an undecodable message
//! is `INVALID_ARGUMENT`; another method is `UNIMPLEMENTED`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use crate::codings::Coding;
use http_body::{Body, Frame};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use prost::Message;
use relink::otlp::Encoding;

use super::{
    defined_name, details_bin, frame, percent_encode, CANCELLED, DEADLINE_EXCEEDED, INTERNAL,
    INVALID_ARGUMENT, OK, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAUTHENTICATED, UNAVAILABLE,
    UNIMPLEMENTED, UNKNOWN,
};
use crate::admission::{Refusal, RETRY_INFLIGHT};
use crate::export::{ExportRequest, Reply};
use crate::routes::Shared;
use crate::rpc_status::{Any, Status, BAD_REQUEST};

/// The one method served.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The message encodings the relay reads (`grpc-accept-encoding`), as the Collector's gRPC
/// receiver does (`crate::codings`).
const ACCEPT_ENCODING: &str = Coding::GRPC_ENCODINGS;
/// The length prefix of a gRPC message.
const PREFIX: usize = 5;

/// A gRPC response body: at most one data frame, then the trailers.
pub struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

/// Whether a request on the OTLP/HTTP port is gRPC (so one port can serve both).
pub fn is_grpc(request: &Request<Incoming>) -> bool {
    request.version() == hyper::Version::HTTP_2
        && content_type(request).is_some_and(|t| t.starts_with("application/grpc"))
}

fn content_type(request: &Request<Incoming>) -> Option<&str> {
    request.headers().get(CONTENT_TYPE)?.to_str().ok()
}

/// Serves one gRPC request.
pub async fn route(request: Request<Incoming>, shared: Arc<Shared>) -> Response<GrpcBody> {
    let response = answer(request, shared.clone()).await;
    let code = match response.status() {
        StatusCode::OK => grpc_status_of(&response),
        _ => UNKNOWN,
    };
    shared
        .pipeline
        .metrics
        .grpc_response(defined_name(code).unwrap_or("UNKNOWN"));
    response
}

async fn answer(request: Request<Incoming>, shared: Arc<Shared>) -> Response<GrpcBody> {
    if request.method() != Method::POST {
        return http_error(StatusCode::METHOD_NOT_ALLOWED, "gRPC uses POST");
    }
    let subtype = match content_type(&request).and_then(|t| t.strip_prefix("application/grpc")) {
        Some(subtype) => subtype.to_ascii_lowercase(),
        None => {
            return http_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content-type must be application/grpc",
            )
        }
    };
    if request.uri().path() != EXPORT_PATH {
        let message = format!(
            "unknown method {}: relink serves {EXPORT_PATH}",
            request.uri().path()
        );
        return failure(UNIMPLEMENTED, &message, None);
    }
    if !matches!(subtype.as_str(), "" | "+proto") {
        let message = format!("content-type application/grpc{subtype} is not supported: use application/grpc or application/grpc+proto");
        return failure(UNIMPLEMENTED, &message, None);
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(coding) = Coding::from_grpc_encoding(header("grpc-encoding")) else {
        let message = format!(
            "grpc-encoding `{}` is not supported (use one of {ACCEPT_ENCODING})",
            header("grpc-encoding").unwrap_or_default().trim()
        );
        return failure(UNIMPLEMENTED, &message, None);
    };
    if let Some(token) = &shared.bearer {
        if !token.accepts(request.headers().get(hyper::header::AUTHORIZATION)) {
            return failure(UNAUTHENTICATED, crate::auth::REFUSED, None);
        }
    }
    let declared = header(CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    let (mut body, reservation) = match shared.admission.read(request.into_body(), declared).await {
        Ok(read) => read,
        Err(Refusal::TooLarge(message)) => return failure(RESOURCE_EXHAUSTED, &message, None),
        Err(Refusal::Busy(message)) => {
            shared.pipeline.metrics.refused("inflight_bytes");
            return failure(
                UNAVAILABLE,
                &message,
                Some(Duration::from_secs(RETRY_INFLIGHT.into())),
            );
        }
        Err(Refusal::Timeout(message)) => return failure(DEADLINE_EXCEEDED, &message, None),
        Err(Refusal::Broken(message)) => return failure(CANCELLED, &message, None),
    };
    let compressed = match unframe(&body) {
        Ok(compressed) => compressed,
        Err((code, message)) => return failure(code, &message, None),
    };
    if compressed && coding == Coding::Identity {
        return failure(
            INTERNAL,
            "the message is flagged compressed but the request has no grpc-encoding",
            None,
        );
    }
    body.drain(..PREFIX);
    let Ok(_permit) = shared.workers.clone().acquire_owned().await else {
        return failure(UNAVAILABLE, "the relay is shutting down", None);
    };
    let pipeline = shared.pipeline.clone();
    let job = move || {
        let reply = pipeline.export(ExportRequest {
            encoding: Encoding::Protobuf,
            content_encoding: compressed.then_some(coding.name()),
            body,
        });
        drop(reservation);
        reply
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(reply) => from_reply(reply),
        Err(e) => failure(INTERNAL, &format!("relink: request failed: {e}"), None),
    }
}

/// Checks the one message of a unary request and returns its compressed flag.
pub fn unframe(body: &[u8]) -> Result<bool, (u32, String)> {
    let invalid = |m: String| Err((INVALID_ARGUMENT, m));
    let Some((&[flag, a, b, c, d], message)) = body.split_first_chunk::<PREFIX>() else {
        return invalid(format!(
            "the request has no complete message ({} bytes)",
            body.len()
        ));
    };
    let length = u32::from_be_bytes([a, b, c, d]) as usize;
    if flag > 1 {
        return invalid(format!("message flag {flag} is neither 0 nor 1"));
    }
    match message.len().cmp(&length) {
        std::cmp::Ordering::Less => invalid(format!(
            "the message is cut short: {} of {length} bytes",
            message.len()
        )),
        std::cmp::Ordering::Greater => {
            invalid("Export is unary: the request carries more than one message".to_string())
        }
        std::cmp::Ordering::Equal => Ok(flag == 1),
    }
}

/// The pipeline's answer (an OTLP/HTTP status and protobuf body) as gRPC.
pub fn from_reply(reply: Reply) -> Response<GrpcBody> {
    if (200..300).contains(&reply.status) {
        return success(&reply.body);
    }
    let retry = reply
        .retry_after
        .as_deref()
        .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()));
    // The gRPC project's HTTP-to-gRPC table, with the OTLP/HTTP statuses the relay uses.
    // An upstream's 408 is UNKNOWN there, and must stay so: OTLP/HTTP does not retry 408,
    // and DEADLINE_EXCEEDED would have a gRPC client send the refused batch again.
    let code = match reply.status {
        400 | 415 => INVALID_ARGUMENT,
        401 => UNAUTHENTICATED,
        403 => PERMISSION_DENIED,
        404 => UNIMPLEMENTED,
        413 => RESOURCE_EXHAUSTED,
        429 | 502 | 503 | 504 => UNAVAILABLE,
        500 => INTERNAL,
        _ => UNKNOWN,
    };
    let retry = match code {
        UNAVAILABLE => retry,
        _ => None,
    };
    // The details the answer's Status carries (a 400's BadRequest) go on with the code.
    let details = match Encoding::from_content_type(&reply.content_type) {
        Some(Encoding::Protobuf) => Status::decode(reply.body.as_slice())
            .map(|s| s.details)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    failure_with(code, &message_of(&reply), details, retry)
}

/// The message of an error reply: the `google.rpc.Status` the relay writes, else the
/// start of whatever body came back.
fn message_of(reply: &Reply) -> String {
    let status = Encoding::from_content_type(&reply.content_type)
        .and_then(|encoding| crate::otlp_http::status_message_of(encoding, &reply.body))
        .filter(|message| !message.is_empty());
    if let Some(message) = status {
        return message;
    }
    let text = String::from_utf8_lossy(&reply.body[..reply.body.len().min(512)])
        .trim()
        .to_string();
    match text.is_empty() {
        true => format!("HTTP status {}", reply.status),
        false => format!("HTTP status {}: {text}", reply.status),
    }
}

fn success(message: &[u8]) -> Response<GrpcBody> {
    let framed = frame(message, false);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let mut response = Response::new(GrpcBody {
        data: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    });
    grpc_headers(response.headers_mut());
    response
}

/// A Trailers-Only error response.
pub fn failure(code: u32, message: &str, retry: Option<Duration>) -> Response<GrpcBody> {
    failure_with(code, message, Vec::new(), retry)
}

/// [`failure`] whose `grpc-status-details-bin` carries `details`, a `BadRequest` for
/// `INVALID_ARGUMENT`, and a `RetryInfo` with the delay when there is one.
fn failure_with(
    code: u32,
    message: &str,
    mut details: Vec<Any>,
    retry: Option<Duration>,
) -> Response<GrpcBody> {
    let mut response = Response::new(GrpcBody {
        data: None,
        trailers: None,
    });
    let headers = response.headers_mut();
    grpc_headers(headers);
    headers.insert("grpc-status", HeaderValue::from(code));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", value);
    }
    // OTLP: INVALID_ARGUMENT's details SHOULD hold a BadRequest describing the bad data.
    if code == INVALID_ARGUMENT && !details.iter().any(|d| d.type_url == BAD_REQUEST) {
        details.push(Any::bad_request(message));
    }
    details.extend(retry.map(Any::retry_info));
    if !details.is_empty() {
        let status = Status {
            code: i32::try_from(code).unwrap_or(0),
            message: message.to_string(),
            details,
        };
        if let Ok(value) = HeaderValue::from_str(&details_bin(&status)) {
            headers.insert("grpc-status-details-bin", value);
        }
    }
    response
}

fn grpc_headers(headers: &mut HeaderMap) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
}

/// A request that is not gRPC at all gets a plain HTTP status, as the spec asks.
fn http_error(status: StatusCode, message: &'static str) -> Response<GrpcBody> {
    let mut response = Response::new(GrpcBody {
        data: Some(Bytes::from_static(message.as_bytes())),
        trailers: None,
    });
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// The `grpc-status` of a response (its header, else its trailer: success).
fn grpc_status_of(response: &Response<GrpcBody>) -> u32 {
    let status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok());
    match status.map(|s| s.parse::<u32>()) {
        None => OK,
        Some(Ok(code)) => code,
        Some(Err(_)) => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_request() {
        assert_eq!(unframe(&[0, 0, 0, 0, 2, 8, 1]), Ok(false));
        assert_eq!(unframe(&[1, 0, 0, 0, 0]), Ok(true));
        assert_eq!(
            unframe(&[0, 0, 0, 0, 3, 8, 1]).map_err(|e| e.0),
            Err(INVALID_ARGUMENT)
        );
        assert_eq!(
            unframe(&[0, 0, 0, 0, 1, 8, 1]).map_err(|e| e.0),
            Err(INVALID_ARGUMENT)
        );
        assert_eq!(
            unframe(&[2, 0, 0, 0, 0]).map_err(|e| e.0),
            Err(INVALID_ARGUMENT)
        );
        assert_eq!(unframe(&[0, 0]).map_err(|e| e.0), Err(INVALID_ARGUMENT));
    }

    #[test]
    fn back_pressure_is_unavailable_with_retry_info() {
        let reply = Reply::busy(Encoding::Protobuf, 5, "the sending queue is full");
        let response = from_reply(reply);
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let status = crate::grpc::GrpcStatus::from_fields(&|n| Some(header(n)));
        assert_eq!(
            status,
            Some(crate::grpc::GrpcStatus {
                code: UNAVAILABLE,
                message: "the sending queue is full".into(),
                retry_delay: Some(Duration::from_secs(5)),
            })
        );
        let too_large = from_reply(Reply::status(413, Encoding::Protobuf, "too large"));
        assert_eq!(
            too_large.headers().get("grpc-status"),
            Some(&HeaderValue::from(8))
        );
        assert!(too_large.headers().get("grpc-status-details-bin").is_none());
    }

    /// A synchronous-mode upstream status keeps its retryability for a gRPC client: the
    /// HTTP-to-gRPC table, where only 429, 502, 503 and 504 become a retryable code.
    #[test]
    fn upstream_statuses_keep_their_retryability() {
        let cases = [
            (400, INVALID_ARGUMENT),
            (401, UNAUTHENTICATED),
            (403, PERMISSION_DENIED),
            (404, UNIMPLEMENTED),
            (408, UNKNOWN),
            (409, UNKNOWN),
            (413, RESOURCE_EXHAUSTED),
            (429, UNAVAILABLE),
            (500, INTERNAL),
            (502, UNAVAILABLE),
            (503, UNAVAILABLE),
            (504, UNAVAILABLE),
        ];
        for (status, code) in cases {
            let response = from_reply(Reply::status(status, Encoding::Protobuf, "upstream"));
            assert_eq!(
                response.headers().get("grpc-status"),
                Some(&HeaderValue::from(code)),
                "{status}"
            );
        }
    }
}
