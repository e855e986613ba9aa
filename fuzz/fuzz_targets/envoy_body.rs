//! The Envoy filter's body handler (`relink_envoy::body`, what `on_http_request_body`
//! runs at end of stream), on arbitrary bodies: the first byte picks the framing (OTLP/HTTP
//! protobuf or JSON, OTLP/gRPC length-prefixed messages; bit 2 gzip-wraps the body as a
//! `content-encoding: gzip` request arrives) and the configuration. The request headers go
//! through `classify` as Envoy would hand them over. A body that cannot be processed must
//! come back as an error (the filter then leaves the body alone); a new body must decode in
//! its framing and keep every span; processing the new body again must change nothing.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use relink::otlp::{self, Encoding};
use relink_envoy::body::{self as envoy_body, Framing, Options};

const HEADERS: [(&[u8], &[u8]); 3] = [
    (b"/v1/traces", b"application/x-protobuf"),
    (b"/v1/traces?x=1", b"application/json; charset=utf-8"),
    (
        b"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        b"application/grpc",
    ),
];

/// The OTLP requests in a body of this framing (gRPC: each length-prefixed message).
fn requests(framing: Framing, body: &[u8]) -> Option<Vec<(Encoding, Vec<u8>)>> {
    match framing {
        Framing::Http(encoding) => Some(vec![(encoding, body.to_vec())]),
        Framing::Grpc => {
            let mut out = Vec::new();
            let mut rest = body;
            while let [0, a, b, c, d, after @ ..] = rest {
                let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
                out.push((Encoding::Protobuf, after.get(..len)?.to_vec()));
                rest = after.get(len..)?;
            }
            rest.is_empty().then_some(out)
        }
    }
}

fn span_count(requests: &[(Encoding, Vec<u8>)]) -> Option<Vec<Vec<u8>>> {
    let mut ids = Vec::new();
    for (encoding, bytes) in requests {
        ids.extend(common::span_ids(&otlp::decode(bytes, *encoding).ok()?));
    }
    ids.sort();
    Some(ids)
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, raw)) = data.split_first() else {
        return;
    };
    let (path, content_type) = HEADERS[usize::from(mode & 3) % HEADERS.len()];
    let gzip = mode & 4 != 0;
    let encoding: &[u8] = if gzip { b"gzip" } else { b"" };
    let Ok(Some(export)) =
        envoy_body::classify(&Options::default(), b"POST", path, content_type, encoding)
    else {
        panic!("a trace export was not recognised");
    };
    assert_eq!(export.coding == otlp::ContentCoding::Gzip, gzip);
    let body = if gzip { otlp::gzip(raw) } else { raw.to_vec() };
    let Some(mut p) = common::processor(usize::from(mode >> 3)) else {
        return;
    };
    let before = requests(export.framing, raw).and_then(|r| span_count(&r));
    let Ok(Some(output)) = envoy_body::rewrite(&mut p, export, &body, common::NOW) else {
        return; // Unchanged or an error: the filter passes the body on as it came.
    };
    let plain = if gzip {
        otlp::gunzip(&output, usize::MAX).unwrap_or_else(|e| panic!("new body: {e}"))
    } else {
        output.clone()
    };
    let after = requests(export.framing, &plain).and_then(|r| span_count(&r));
    assert!(
        after.is_some(),
        "the new body does not decode in its framing"
    );
    assert_eq!(before, after, "spans changed");
    let again = envoy_body::rewrite(&mut p, export, &output, common::NOW + 1_000_000_000);
    assert!(
        matches!(again, Ok(None)),
        "re-processing the new body changed it"
    );
});
