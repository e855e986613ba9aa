//! OTLP/JSON decoding: never panics; what decodes re-encodes to JSON that decodes and
//! re-encodes identically, and survives a trip through protobuf unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink::otlp;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = otlp::decode_json(data) else {
        return;
    };
    let json = otlp::encode_json(&request);
    let again = otlp::decode_json(&json).map(|r| otlp::encode_json(&r));
    assert_eq!(again.as_ref(), Ok(&json), "json round trip");
    let pb = otlp::encode_protobuf(&request);
    let via_pb = otlp::decode_protobuf(&pb).map(|r| otlp::encode_json(&r));
    assert_eq!(via_pb.as_ref(), Ok(&json), "json -> protobuf -> json");
});
