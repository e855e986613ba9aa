//! OTLP trace codecs: `ExportTraceServiceRequest` from and to binary protobuf and
//! OTLP/JSON, encoding detection, bounded gzip, OTLP/HTTP response bodies, and the
//! attribute builders ([`kv`]) every span relink writes uses.
//!
//! The messages are opentelemetry-proto's prost types, re-exported here so that the rest
//! of the crate and the hosts name one set of types.
//!
//! For the processor's fast path, [`scan`] walks a binary request in place (where each
//! span is, its ids, whether it carries evidence) and [`splice`] rewrites only the spans
//! that changed into the original bytes; [`wire`] is the field reader both stand on.

mod content_coding;
mod encoding;
mod gzip;
mod json;
pub mod kv;
mod protobuf;
mod repair;
mod response;
pub mod scan;
pub mod splice;
pub mod wire;

pub use content_coding::{ContentCoding, UnsupportedCoding};
pub use encoding::{detect, Encoding};
pub use gzip::{gunzip, gzip, inflate, is_gzip, InflateError, DEFAULT_INFLATED_LIMIT};
pub use json::transcode::protobuf_to_json;
pub use json::{decode_json, encode_json, transcode};
pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
pub use protobuf::{decode_protobuf, encode_protobuf};
pub use repair::repair_strings;
pub use response::encode_response;

use crate::error::DecodeError;

/// Decodes a request in the given encoding (see [`detect`] when it is not known). Strings
/// that are not UTF-8 in protobuf are read with U+FFFD in their place ([`repair_strings`]),
/// as lone surrogate escapes in JSON are; [`decode_protobuf`] refuses them, as prost does.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest, DecodeError> {
    match encoding {
        Encoding::Protobuf => {
            decode_protobuf(bytes).or_else(|e| match repair_strings(bytes, usize::MAX) {
                Some(repaired) => decode_protobuf(&repaired),
                None => Err(e),
            })
        }
        Encoding::Json => decode_json(bytes),
    }
}

/// Encodes a request in the given encoding.
pub fn encode(request: &ExportTraceServiceRequest, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => encode_protobuf(request),
        Encoding::Json => encode_json(request),
    }
}
