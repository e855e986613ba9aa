//! OTLP protobuf decoding: never panics; what decodes re-encodes to bytes that decode to
//! the same request and re-encode identically; the JSON encoding of it never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink::otlp;

fuzz_target!(|data: &[u8]| {
    let _ = otlp::detect(data);
    let Ok(request) = otlp::decode_protobuf(data) else {
        return;
    };
    let encoded = otlp::encode_protobuf(&request);
    let again = otlp::decode_protobuf(&encoded).map(|r| otlp::encode_protobuf(&r));
    assert_eq!(again.as_ref(), Ok(&encoded), "protobuf round trip");
    // Ids of any length survive protobuf; JSON needs 16/8 bytes, so only no-panic here.
    let json = otlp::encode_json(&request);
    let _ = otlp::decode_json(&json);
});
