//! The gRPC rules both sides of the relay share, apart from the transport so they are
//! testable without sockets: status codes, message framing, `grpc-message` encoding,
//! `grpc-status-details-bin` ([`crate::rpc_status`]); for the exporter, the status of a response
//! (trailers, or the headers of a Trailers-Only response, or the HTTP status when there is
//! none) and which codes OTLP retries. [`receiver`] serves OTLP/gRPC.
//!
//! Specs: gRPC over HTTP/2 (<https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md>),
//! its HTTP-to-gRPC status mapping (`doc/http-grpc-status-mapping.md`), and OTLP/gRPC
//! failures (<https://opentelemetry.io/docs/specs/otlp/#failures-1>): CANCELLED,
//! DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retryable,
//! RESOURCE_EXHAUSTED only when the server sends `RetryInfo`, whose delay the client waits.

use std::time::Duration;

use base64::Engine;
use prost::Message;
use relink::otlp::{gzip, inflate};

use crate::retry::Verdict;
use crate::rpc_status::{Any, Status};

/// gRPC status codes by number.
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
pub const OK: u32 = 0;
pub const CANCELLED: u32 = 1;
pub const UNKNOWN: u32 = 2;
pub const INVALID_ARGUMENT: u32 = 3;
pub const DEADLINE_EXCEEDED: u32 = 4;
pub const PERMISSION_DENIED: u32 = 7;
pub const RESOURCE_EXHAUSTED: u32 = 8;
pub const UNIMPLEMENTED: u32 = 12;
pub const INTERNAL: u32 = 13;
pub const UNAVAILABLE: u32 = 14;
pub const UNAUTHENTICATED: u32 = 16;

pub mod receiver;

/// A code's name (`UNAVAILABLE`), or its number when it is not one gRPC defines.
pub fn code_name(code: u32) -> String {
    defined_name(code).map_or_else(|| code.to_string(), str::to_string)
}

/// The name of a code gRPC defines.
pub fn defined_name(code: u32) -> Option<&'static str> {
    NAMES.get(usize::try_from(code).ok()?).copied()
}

/// `grpc-message`: bytes outside printable ASCII, and `%`, as `%XX` of their UTF-8.
pub fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        match byte {
            0x20..=0x7e if byte != b'%' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A length-prefixed message: the compressed flag, the length (big-endian u32), the bytes.
pub fn frame(message: &[u8], gzipped: bool) -> Vec<u8> {
    let payload = if gzipped {
        gzip(message)
    } else {
        message.to_vec()
    };
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(u8::from(gzipped));
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(&payload);
    out
}

/// The first message of a response body, inflated when flagged (with `grpc-encoding`
/// gzip) to at most `limit` bytes; `Ok(None)` for an empty body.
pub fn unframe(
    body: &[u8],
    encoding: Option<&str>,
    limit: usize,
) -> Result<Option<Vec<u8>>, String> {
    let Some((prefix, rest)) = body.split_first_chunk::<5>() else {
        return match body.is_empty() {
            true => Ok(None),
            false => Err("a response message shorter than its 5-byte prefix".into()),
        };
    };
    let [flag, length @ ..] = *prefix;
    let length = u32::from_be_bytes(length) as usize;
    let message = rest
        .get(..length)
        .ok_or("a response message shorter than its length prefix")?;
    match (flag, encoding) {
        (0, _) => Ok(Some(message.to_vec())),
        (1, Some("gzip")) => inflate(message, limit)
            .map(Some)
            .map_err(|e| format!("a gzip response message that does not inflate: {e}")),
        (1, other) => Err(format!(
            "a compressed response message with grpc-encoding `{}`",
            other.unwrap_or("")
        )),
        _ => Err(format!("a response message flag {flag}")),
    }
}

/// The status a call ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcStatus {
    pub code: u32,
    pub message: String,
    /// `google.rpc.RetryInfo.retry_delay` from `grpc-status-details-bin`.
    pub retry_delay: Option<Duration>,
}

impl GrpcStatus {
    /// Reads `grpc-status`, `grpc-message` (percent-encoded) and `grpc-status-details-bin`
    /// (base64 `google.rpc.Status`) through `get`: the trailers, or the headers of a
    /// Trailers-Only response. `None` when there is no `grpc-status`.
    pub fn from_fields(get: &dyn Fn(&str) -> Option<String>) -> Option<GrpcStatus> {
        let code = get("grpc-status")?.trim().parse().unwrap_or(UNKNOWN);
        let message = get("grpc-message")
            .map(|m| {
                percent_encoding::percent_decode_str(&m)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let retry_delay = get("grpc-status-details-bin").and_then(|b| retry_delay(&b));
        Some(GrpcStatus {
            code,
            message,
            retry_delay,
        })
    }

    /// The status a non-200 HTTP answer stands for (gRPC's HTTP-to-gRPC mapping), when a
    /// proxy answered instead of a gRPC server.
    pub fn from_http(status: u16) -> GrpcStatus {
        let code = match status {
            400 => INTERNAL,
            401 => UNAUTHENTICATED,
            403 => PERMISSION_DENIED,
            404 => UNIMPLEMENTED,
            429 | 502 | 503 | 504 => UNAVAILABLE,
            _ => UNKNOWN,
        };
        GrpcStatus {
            code,
            message: format!("HTTP status {status}"),
            retry_delay: None,
        }
    }

    /// What OTLP says to do with the batch.
    pub fn verdict(&self) -> Verdict {
        match self.code {
            OK => Verdict::Delivered,
            1 | 4 | 10 | 11 | UNAVAILABLE | 15 => Verdict::Retry,
            RESOURCE_EXHAUSTED if self.retry_delay.is_some() => Verdict::Retry,
            UNAUTHENTICATED | PERMISSION_DENIED => Verdict::Credentials,
            _ => Verdict::Permanent,
        }
    }

    /// The HTTP status a client of the relay gets in synchronous mode, so an OTLP/HTTP
    /// client draws the same conclusion (retry or not) the gRPC code means.
    pub fn http_status(&self) -> u16 {
        match (self.code, self.verdict()) {
            (_, Verdict::Delivered) => 200,
            (_, Verdict::Retry) => 503,
            (UNAUTHENTICATED, _) => 401,
            (PERMISSION_DENIED, _) => 403,
            (INVALID_ARGUMENT, _) => 400,
            (UNIMPLEMENTED | 5, _) => 404,
            _ => 500,
        }
    }

    /// `grpc status UNAVAILABLE: message`.
    pub fn describe(&self) -> String {
        match self.message.is_empty() {
            true => format!("grpc status {}", code_name(self.code)),
            false => format!("grpc status {}: {}", code_name(self.code), self.message),
        }
    }
}

/// The RetryInfo delay in a base64 `google.rpc.Status` (padded or not, as gRPC allows).
fn retry_delay(details_bin: &str) -> Option<Duration> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(details_bin.trim().trim_end_matches('='))
        .ok()?;
    Status::decode(bytes.as_slice()).ok()?.retry_delay()
}

/// `grpc-status-details-bin`: the status as unpadded base64 `google.rpc.Status`.
pub fn details_bin(status: &Status) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec())
}

/// `grpc-status-details-bin` for a status carrying a RetryInfo delay: what the receiver
/// sends with back-pressure, and the tests' upstream.
pub fn retry_info_details(code: u32, message: &str, delay: Duration) -> String {
    details_bin(&Status {
        code: i32::try_from(code).unwrap_or(0),
        message: message.to_string(),
        details: vec![Any::retry_info(delay)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn status(fields: &[(&str, &str)]) -> Option<GrpcStatus> {
        let map: HashMap<&str, &str> = fields.iter().copied().collect();
        GrpcStatus::from_fields(&|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn frames_round_trip_plain_and_gzip() {
        let plain = frame(b"hello", false);
        assert_eq!(plain, [0, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(unframe(&plain, None, 99), Ok(Some(b"hello".to_vec())));
        let packed = frame(b"hello", true);
        assert_eq!(packed.first(), Some(&1));
        assert_eq!(
            unframe(&packed, Some("gzip"), 99),
            Ok(Some(b"hello".to_vec()))
        );
        assert!(unframe(&packed, Some("snappy"), 99).is_err());
        assert!(unframe(&plain[..7], None, 99).is_err());
        assert_eq!(unframe(b"", None, 99), Ok(None));
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("a b%c\u{e9}\n"), "a b%25c%C3%A9%0A");
    }

    #[test]
    fn otlp_retryable_codes() {
        let verdicts: Vec<(String, Verdict)> = (0..18)
            .map(|code| {
                let s = GrpcStatus {
                    code,
                    message: String::new(),
                    retry_delay: None,
                };
                (code_name(code), s.verdict())
            })
            .filter(|(_, v)| *v != Verdict::Permanent)
            .collect();
        let expected: Vec<(String, Verdict)> = [
            ("OK", Verdict::Delivered),
            ("CANCELLED", Verdict::Retry),
            ("DEADLINE_EXCEEDED", Verdict::Retry),
            ("PERMISSION_DENIED", Verdict::Credentials),
            ("ABORTED", Verdict::Retry),
            ("OUT_OF_RANGE", Verdict::Retry),
            ("UNAVAILABLE", Verdict::Retry),
            ("DATA_LOSS", Verdict::Retry),
            ("UNAUTHENTICATED", Verdict::Credentials),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
        assert_eq!(verdicts, expected);
    }

    #[test]
    fn status_fields_and_retry_info() {
        let details = retry_info_details(RESOURCE_EXHAUSTED, "", Duration::from_millis(2500));
        let s = status(&[
            ("grpc-status", "8"),
            ("grpc-message", "slow%20down%3A%20quota"),
            ("grpc-status-details-bin", &details),
        ]);
        assert_eq!(
            s.clone(),
            Some(GrpcStatus {
                code: RESOURCE_EXHAUSTED,
                message: "slow down: quota".into(),
                retry_delay: Some(Duration::from_millis(2500)),
            })
        );
        assert_eq!(
            s.map(|s| (s.verdict(), s.http_status())),
            Some((Verdict::Retry, 503))
        );
        // Without RetryInfo, RESOURCE_EXHAUSTED is permanent.
        let s = status(&[("grpc-status", "8")]);
        assert_eq!(
            s.map(|s| (s.verdict(), s.describe())),
            Some((Verdict::Permanent, "grpc status RESOURCE_EXHAUSTED".into()))
        );
        // Padded base64 is accepted too.
        let padded = format!("{details}{}", "=".repeat((4 - details.len() % 4) % 4));
        assert_eq!(
            status(&[("grpc-status", "14"), ("grpc-status-details-bin", &padded)])
                .and_then(|s| s.retry_delay),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(status(&[("grpc-message", "x")]), None);
        assert_eq!(GrpcStatus::from_http(503).verdict(), Verdict::Retry);
        assert_eq!(GrpcStatus::from_http(401).http_status(), 401);
        assert_eq!(
            GrpcStatus::from_http(400).describe(),
            "grpc status INTERNAL: HTTP status 400"
        );
    }
}
