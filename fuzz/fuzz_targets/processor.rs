//! The processor on arbitrary bytes: the entry point every host calls with a request body.
//! The first byte picks plain or gzip (bit 0, so the bounded-inflation path is reached) and
//! the configuration (see `common::CONFIGS`). The request is processed twice (state carries
//! over) and the output once more, which must add nothing.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use relink::otlp;

fuzz_target!(|data: &[u8]| {
    let Some((mode, body)) = data.split_first() else {
        return;
    };
    let input = if mode & 1 == 1 {
        otlp::gzip(body)
    } else {
        body.to_vec()
    };
    let before = otlp::decode(body, otlp::detect(body)).ok();
    let Some(mut p) = common::processor(usize::from(mode >> 1)) else {
        return;
    };
    let first = p.process_traces(&input, common::NOW);
    common::check(&input, before.as_ref(), &first);
    let again = p.process_traces(&input, common::NOW + 1_000_000_000);
    common::check(&input, before.as_ref(), &again);
    let output = first.output.to_vec();
    let reprocessed = p.process_traces(&output, common::NOW + 2_000_000_000);
    common::check(&output, None, &reprocessed);
    if first.error.is_none() {
        assert!(
            reprocessed.output.as_ref() == output.as_slice(),
            "re-processing changed the output"
        );
    }
});
