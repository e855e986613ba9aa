//! The OTLP/HTTP protocol rules the relay follows, kept apart from the server loop so they
//! are testable without sockets: bounded decoding of the request's content coding
//! (`crate::codings`) that tells "too large" (413) from "not that coding" (400), reading an
//! upstream's partial success, and the `google.rpc.Status` body of error answers
//! ([`crate::rpc_status`]). Content types and success bodies come from `relink::otlp`.
//!
//! Spec: <https://opentelemetry.io/docs/specs/otlp/#otlphttp>. 400 for a body that does not
//! decode, 413 beyond the size limit, 415 for a content type or encoding the relay does
//! not speak; 4xx answers tell the client not to retry, 502/503 tell it to retry.

use crate::codings::{Coding, DecodeError};
use crate::rpc_status::Status;
use prost::Message;
use relink::otlp::{Encoding, ExportTraceServiceResponse};

/// A body that could not be turned into request bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (before or after inflation): 413.
    TooLarge(String),
    /// A `Content-Encoding` the relay does not read: 415.
    UnsupportedEncoding(String),
    /// A body that does not decode in its coding: 400.
    BadCoding(String),
}

/// Checks a received body against `limit`, then decodes its `content_encoding` (every
/// coding the Collector's receiver reads, `crate::codings`), again to at most `limit` bytes,
/// so a small compressed body cannot expand without bound.
pub fn decode_body(
    raw: Vec<u8>,
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let coding = Coding::from_content_encoding(content_encoding).ok_or_else(|| {
        BodyError::UnsupportedEncoding(format!(
            "content-encoding `{}` is not supported (use {})",
            content_encoding.unwrap_or_default().trim(),
            Coding::CONTENT_ENCODINGS
        ))
    })?;
    if raw.len() > limit {
        return Err(BodyError::TooLarge(format!(
            "request body exceeds the limit of {limit} bytes"
        )));
    }
    coding.decode(raw, limit).map_err(|e| match e {
        DecodeError::TooLarge => BodyError::TooLarge(format!(
            "request body inflates beyond the limit of {limit} bytes"
        )),
        DecodeError::Invalid(message) => BodyError::BadCoding(format!(
            "request body: invalid {}: {message}",
            coding.name()
        )),
    })
}

/// Reads the partial success out of an upstream's `ExportTraceServiceResponse` body:
/// `(rejected spans, message)`; `None` when the body is empty or not such a message.
pub fn partial_success_of(encoding: Encoding, body: &[u8]) -> Option<(i64, String)> {
    match encoding {
        Encoding::Protobuf => {
            let response = ExportTraceServiceResponse::decode(body).ok()?;
            let p = response.partial_success?;
            Some((p.rejected_spans, p.error_message))
        }
        Encoding::Json => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            let p = value.get("partialSuccess")?;
            let rejected = match p.get("rejectedSpans") {
                Some(serde_json::Value::String(s)) => s.parse().ok()?,
                Some(serde_json::Value::Number(n)) => n.as_i64()?,
                _ => 0,
            };
            let message = p
                .get("errorMessage")
                .and_then(|m| m.as_str())
                .unwrap_or_default();
            Some((rejected, message.to_string()))
        }
    }
}

/// The message of an OTLP error body (a `google.rpc.Status` in `encoding`); `None` for
/// anything else.
pub fn status_message_of(encoding: Encoding, body: &[u8]) -> Option<String> {
    match encoding {
        Encoding::Protobuf => Status::decode(body).ok().map(|s| s.message),
        Encoding::Json => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            value.get("message")?.as_str().map(String::from)
        }
    }
}

/// The error body for `message` in `encoding`.
pub fn status_body(encoding: Encoding, message: &str) -> Vec<u8> {
    encode_status(encoding, &Status::new(message))
}

/// `status` as the body of an OTLP/HTTP error answer in `encoding`.
pub fn encode_status(encoding: Encoding, status: &Status) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => status.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relink::otlp::{encode_response, gzip};

    #[test]
    fn status_bodies_read_back_in_either_encoding() {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let body = status_body(encoding, "quota \"exceeded\"");
            assert_eq!(
                status_message_of(encoding, &body).as_deref(),
                Some("quota \"exceeded\"")
            );
        }
        assert_eq!(status_message_of(Encoding::Json, b"<html>502</html>"), None);
    }

    #[test]
    fn bodies_are_bounded_before_and_after_inflation() {
        assert_eq!(decode_body(b"abcd".to_vec(), None, 4), Ok(b"abcd".to_vec()));
        assert_eq!(
            decode_body(b"abcde".to_vec(), Some("identity"), 4),
            Err(BodyError::TooLarge(
                "request body exceeds the limit of 4 bytes".into()
            ))
        );
        let packed = gzip(&[b'x'; 1000]);
        assert_eq!(
            decode_body(packed.clone(), Some("gzip"), 1000),
            Ok(vec![b'x'; 1000])
        );
        assert_eq!(
            decode_body(packed, Some("GZIP"), 999),
            Err(BodyError::TooLarge(
                "request body inflates beyond the limit of 999 bytes".into()
            ))
        );
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        assert_eq!(decode_body(two, Some("gzip"), 99), Ok(b"abcd".to_vec()));
        assert_eq!(
            decode_body(b"nope".to_vec(), Some("gzip"), 99),
            Err(BodyError::BadCoding(
                "request body: invalid gzip: unexpected end of file".into()
            ))
        );
        assert_eq!(
            decode_body(b"x".to_vec(), Some("br"), 99),
            Err(BodyError::UnsupportedEncoding(
                "content-encoding `br` is not supported (use gzip, zstd, deflate, zlib, \
                 snappy, x-snappy-framed, lz4 or none)"
                    .into()
            ))
        );
    }

    #[test]
    fn upstream_partial_success_is_read_in_both_encodings() {
        let proto = encode_response(2, "w", Encoding::Protobuf);
        assert_eq!(
            partial_success_of(Encoding::Protobuf, &proto),
            Some((2, "w".into()))
        );
        let json = encode_response(3, "x", Encoding::Json);
        assert_eq!(
            partial_success_of(Encoding::Json, &json),
            Some((3, "x".into()))
        );
        assert_eq!(
            partial_success_of(Encoding::Json, br#"{"partialSuccess":{"rejectedSpans":4}}"#),
            Some((4, "".into()))
        );
        assert_eq!(partial_success_of(Encoding::Json, b"{}"), None);
        assert_eq!(partial_success_of(Encoding::Protobuf, b""), None);
    }

    #[test]
    fn error_bodies_are_status_messages() {
        assert_eq!(
            status_body(Encoding::Protobuf, "bad"),
            [0x12, 0x03, b'b', b'a', b'd']
        );
        assert_eq!(
            status_body(Encoding::Json, "say \"no\""),
            br#"{"message":"say \"no\""}"#
        );
    }
}
