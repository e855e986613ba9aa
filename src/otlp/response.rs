//! `ExportTraceServiceResponse` bodies for OTLP/HTTP receivers.
//!
//! The specification: a fully accepted request is answered with an empty response
//! (`{}` in JSON, zero bytes in protobuf); `partial_success` reports rejected spans, and
//! a server may also use it with zero rejected spans and a message to convey a warning.

use super::json::write::Writer;
use super::Encoding;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

/// The response body for a request of which `rejected_spans` spans were rejected.
///
/// `partial_success` is set only when spans were rejected or `error_message` is not
/// empty; a negative count is treated as zero.
pub fn encode_response(rejected_spans: i64, error_message: &str, encoding: Encoding) -> Vec<u8> {
    let rejected_spans = rejected_spans.max(0);
    let partial_success =
        (rejected_spans > 0 || !error_message.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans,
            error_message: error_message.to_owned(),
        });
    match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        Encoding::Json => {
            let mut w = Writer::new();
            w.begin_object();
            w.message_field("partialSuccess", partial_success.as_ref(), |w, p| {
                w.begin_object();
                w.i64_field("rejectedSpans", p.rejected_spans);
                w.str_field("errorMessage", &p.error_message);
                w.end_object();
            });
            w.end_object();
            w.finish()
        }
    }
}
