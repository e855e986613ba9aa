//! OTLP/JSON: the proto3 JSON mapping with the OTLP specification's deviations (hex ids,
//! integer enums, lowerCamelCase keys only, unknown fields ignored).
//!
//! Written by hand rather than with opentelemetry-proto's `with-serde` derives, which
//! (checked on 0.33.1) differ from the specification: they write every default field
//! (`"traceId":""`, `"startTimeUnixNano":"0"`, `"attributes":[]`, `"status":null`), and
//! on input reject enum names, strings for 32-bit integers, and `null` for repeated fields.
//!
//! - [`decode`]: JSON bytes to a request, errors naming the field path.
//! - [`encode`]: a request to compact, deterministic JSON.
//! - [`transcode`]: binary protobuf to the same JSON without decoding into the model.

mod decode;
mod encode;
mod path;
mod read;
pub mod transcode;
pub(crate) mod write;

pub use decode::decode_json;
pub use encode::encode_json;
