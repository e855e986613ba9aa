//! The protobuf fast path against the full path (decode, rewrite, encode), for any input:
//! each batch goes through `process_traces` on one processor and `process_traces_full` on
//! another built from the same config, and the two must agree on everything a host sees:
//! the output decodes to the same request, it is the input itself exactly when the other
//! one is, errors and counters are equal. Each output is then processed again and must
//! come back as itself (idempotence), with no span lost.
//!
//! Inputs: generated batches (benches/support/batches.rs: resource/scope nesting, every
//! AnyValue type, evidence on 0 to 100% of spans, joins within and across batches)
//! rewritten at the wire level (fields shuffled, unknown fields and duplicates inserted),
//! corrupted ones, and every golden case under tests/golden/relink as protobuf (with its
//! raw events given to both processors' event entry point in between).

#[path = "../benches/support/batches.rs"]
mod batches;
mod common;
mod rewrite;

use batches::{Rng, Shape};
use proptest::prelude::*;
use prost::Message;
use relink::config::Config;
use relink::otlp::scan::{scan, Interest};
use relink::otlp::{decode_json, decode_protobuf, encode_protobuf, Encoding};
use relink::processor::{EventContext, Processed, Processor};
use rewrite::{generate, Rewrite};
use std::borrow::Cow;

const NOW: u64 = 1_709_929_400_000_000_000;

/// Configurations that change what the processor writes or reads, and whether the
/// processor's own idempotence holds under them (checked when it does; both paths must
/// agree on the second pass either way).
const CONFIGS: &[(&str, bool)] = &[
    ("{}", true),
    (r#"{"adoption":{"enabled":true}}"#, true),
    (
        r#"{"adoption":{"enabled":true},"messaging":{"parent_single_message":true}}"#,
        true,
    ),
    (r#"{"event_attribute":{"output":"keep"}}"#, true),
    (
        r#"{"event_attribute":{"output":"truncate","truncate_bytes":10}}"#,
        true,
    ),
    (
        r#"{"limits":{"max_attributes_scanned":4,"max_links_per_span":1}}"#,
        true,
    ),
    (
        r#"{"direct_links":{"heuristic_s3_key":true,"request_id_join":false}}"#,
        true,
    ),
    (
        r#"{"pointer_links":{"enabled":false},"attributes":{"event":"faas.event"}}"#,
        true,
    ),
    (
        r#"{"stamp":{"enabled":true},"event_attribute":{"output":"keep"}}"#,
        true,
    ),
    // Not idempotent in the processor itself: a pair the first pass missed because the
    // producer's entry was evicted within the batch joins on the second pass.
    (r#"{"index":{"max_entries":3}}"#, false),
    // Not idempotent in the processor itself: the event attribute is gone on the second
    // pass, so a trace is routed by its next claim.
    (r#"{"stamp":{"enabled":true}}"#, false),
];

fn processor(config: &str) -> Processor {
    match Config::from_json(config).and_then(|c| relink::Processor::new(&c)) {
        Ok(p) => p,
        Err(e) => panic!("{config}: {e}"),
    }
}

/// The request in prost's canonical encoding, or `None` if it does not decode.
fn canonical(bytes: &[u8]) -> Option<Vec<u8>> {
    decode_protobuf(bytes).ok().map(|r| encode_protobuf(&r))
}

fn span_count(bytes: &[u8]) -> Option<usize> {
    let r = decode_protobuf(bytes).ok()?;
    Some(
        r.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
    )
}

fn agree(
    what: &str,
    input: &[u8],
    fast: &Processed<'_>,
    full: &Processed<'_>,
) -> Result<(), String> {
    let borrowed = |p: &Processed<'_>| matches!(p.output, Cow::Borrowed(_));
    if fast.counters != full.counters {
        return Err(format!(
            "{what}: counters\n fast {:?}\n full {:?}",
            fast.counters, full.counters
        ));
    }
    if fast.error != full.error {
        return Err(format!(
            "{what}: errors {:?} / {:?}",
            fast.error, full.error
        ));
    }
    if borrowed(fast) != borrowed(full) {
        return Err(format!(
            "{what}: fast borrowed {} full borrowed {}",
            borrowed(fast),
            borrowed(full)
        ));
    }
    if let Cow::Borrowed(out) = fast.output {
        if !std::ptr::eq(out, input) {
            return Err(format!(
                "{what}: a borrowed output that is not the input itself"
            ));
        }
    }
    if canonical(&fast.output) != canonical(&full.output) {
        return Err(format!("{what}: outputs decode differently"));
    }
    // A request with strings that are not UTF-8 is written repaired: it holds the spans the
    // repaired input does.
    let repaired = (fast.counters.requests_repaired == 1)
        .then(|| relink::otlp::repair_strings(input, usize::MAX))
        .flatten();
    let input_spans = span_count(repaired.as_deref().unwrap_or(input));
    if fast.error.is_none() && span_count(&fast.output) != input_spans {
        return Err(format!("{what}: spans dropped or added"));
    }
    Ok(())
}

/// Runs the batches through both paths, then each output again.
fn check(config: (&str, bool), batches: &[Vec<u8>]) -> Result<(), String> {
    let batches: Vec<(Vec<u8>, bool)> = batches.iter().map(|b| (b.clone(), false)).collect();
    check_with_events(config, &batches)
}

/// [`check`] for batches that may be raw events (`true`), which go to the event entry
/// point of both processors alike, so their state follows the same sequence.
fn check_with_events(
    (config, idempotent): (&str, bool),
    batches: &[(Vec<u8>, bool)],
) -> Result<(), String> {
    let (mut fast, mut full) = (processor(config), processor(config));
    // `process_traces_to` on a third processor must write exactly `process_traces`' bytes;
    // a fourth decodes, edits and encodes the spans the others edit in their bytes.
    let mut streamed = processor(config);
    let mut decoding = processor(config);
    decoding.set_edit_span_bytes(false);
    // A fifth processor is given each request's evidence as `reader` read it ahead
    // (`prepare_traces`), and must return exactly the fast path's bytes and counters.
    let mut prepared = processor(config);
    let reader = processor(config);
    for (n, (input, event)) in batches.iter().enumerate() {
        let now = NOW + n as u64 * 1_000_000_000;
        if *event {
            let ctx = EventContext::default();
            let a = fast
                .process_event(input, &ctx, now)
                .map(|r| encode_protobuf(&r));
            let b = full
                .process_event(input, &ctx, now)
                .map(|r| encode_protobuf(&r));
            if a != b {
                return Err(format!("{config} event {n}: results differ"));
            }
            let _ = streamed.process_event(input, &ctx, now);
            let _ = decoding.process_event(input, &ctx, now);
            let _ = prepared.process_event(input, &ctx, now);
            continue;
        }
        let a = fast.process_traces(input, now);
        let b = full.process_traces_full(input, relink::otlp::detect(input), now);
        agree(&format!("{config} batch {n}"), input, &a, &b)?;
        same_as_written(
            &format!("{config} batch {n}"),
            &mut streamed,
            input,
            now,
            &a,
        )?;
        let what = format!("{config} batch {n}");
        same_edits(&what, input, &a, &decoding.process_traces(input, now))?;
        same_as_prepared(&what, &mut prepared, &reader, input, now, &a)?;
        let (once_a, once_b) = (a.output.into_owned(), b.output.into_owned());
        let again_a = fast.process_traces(&once_a, now);
        let again_c = decoding.process_traces(&once_a, now);
        same_as_prepared(
            &format!("{what} again"),
            &mut prepared,
            &reader,
            &once_a,
            now,
            &again_a,
        )?;
        same_edits(&format!("{what} again"), &once_a, &again_a, &again_c)?;
        same_as_written(
            &format!("{config} batch {n} again"),
            &mut streamed,
            &once_a,
            now,
            &again_a,
        )?;
        let again_b = full.process_traces_full(&once_b, relink::otlp::detect(&once_b), now);
        if idempotent && !matches!(again_a.output, Cow::Borrowed(_)) && again_a.error.is_none() {
            return Err(format!(
                "{config} batch {n}: processing the output again changed it: {:?}",
                again_a.counters
            ));
        }
        agree(
            &format!("{config} batch {n} again"),
            &once_a,
            &again_a,
            &again_b,
        )?;
    }
    if fast.counters() != full.counters()
        || streamed.counters() != fast.counters()
        || decoding.counters() != fast.counters()
        || prepared.counters() != fast.counters()
    {
        return Err(format!("{config}: cumulative counters differ"));
    }
    Ok(())
}

/// Spans edited in their bytes against the same spans decoded, edited and encoded again:
/// the same bytes for an input in prost's encoding, the same request for any other.
fn same_edits(
    what: &str,
    input: &[u8],
    bytes: &Processed<'_>,
    decoded: &Processed<'_>,
) -> Result<(), String> {
    if bytes.counters != decoded.counters || bytes.error != decoded.error {
        return Err(format!(
            "{what}: editing bytes reported {:?}, decoding {:?}",
            bytes.counters, decoded.counters
        ));
    }
    let same = if canonical(input).as_deref() == Some(input) {
        bytes.output == decoded.output
    } else {
        canonical(&bytes.output) == canonical(&decoded.output)
    };
    if !same {
        return Err(format!(
            "{what}: editing bytes and decoding wrote other spans"
        ));
    }
    Ok(())
}

/// `process_traces_prepared` with the evidence another processor read ahead returns what
/// `process_traces` returned: the same bytes, counters and error. Preparing changes nothing
/// in the processor that prepares.
fn same_as_prepared(
    what: &str,
    p: &mut Processor,
    reader: &Processor,
    input: &[u8],
    now: u64,
    want: &Processed<'_>,
) -> Result<(), String> {
    let ahead = reader.prepare_traces(input, None);
    if *reader.counters() != relink::processor::Counters::default() {
        return Err(format!("{what}: preparing changed the reader's counters"));
    }
    let encoding = relink::otlp::detect(input);
    let got = p.process_traces_prepared(input, encoding, ahead.as_deref().unwrap_or_default(), now);
    if got.output != want.output || got.counters != want.counters || got.error != want.error {
        return Err(format!(
            "{what}: prepared ({}) returned {:?}, process_traces {:?}",
            ahead.is_some(),
            got.counters,
            want.counters
        ));
    }
    Ok(())
}

/// `process_traces_to` writes what `process_traces` returned, with the same report.
fn same_as_written(
    what: &str,
    p: &mut Processor,
    input: &[u8],
    now: u64,
    want: &Processed<'_>,
) -> Result<(), String> {
    let mut written = Vec::new();
    let report = match p.process_traces_to(input, now, &mut written) {
        Ok(report) => report,
        Err(never) => match never {},
    };
    if written != *want.output {
        return Err(format!("{what}: process_traces_to wrote other bytes"));
    }
    if report.counters != want.counters
        || report.error != want.error
        || report.encoding != want.encoding
    {
        return Err(format!(
            "{what}: process_traces_to reported {report:?}, process_traces {:?}",
            want.counters
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_agrees_with_the_full_path(
        seed in any::<u64>(),
        spans in 0usize..40,
        percent in prop::sample::select(vec![0usize, 10, 50, 100]),
        services in 1usize..4,
        config in 0..CONFIGS.len(),
        batches in 1usize..4,
        (shuffle, unknown, duplicate) in any::<(bool, bool, bool)>(),
    ) {
        let how = Rewrite { shuffle, unknown, duplicate };
        let inputs = generate(seed, spans, percent, services, how, batches);
        if let Err(e) = check(CONFIGS[config], &inputs) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn corrupted_inputs_agree_and_the_scanner_accepts_only_what_prost_decodes(
        seed in any::<u64>(),
        spans in 1usize..12,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let how = Rewrite { shuffle: false, unknown: true, duplicate: false };
        let mut inputs = generate(seed, spans, 50, 2, how, 2);
        for input in &mut inputs {
            for (at, byte) in &flips {
                let i = at.index(input.len());
                input[i] = *byte;
            }
            if let Some(cut) = cut {
                input.truncate(cut.index(input.len() + 1));
            }
            let interest = Interest { span_attributes: &[], link_attributes: &[] };
            if scan(input, &interest).is_ok() {
                prop_assert!(decode_protobuf(input).is_ok(), "scanned but prost refuses");
            }
            if let Some(repaired) = relink::otlp::repair_strings(input, usize::MAX) {
                prop_assert!(decode_protobuf(&repaired).is_ok(), "repaired but prost refuses");
            }
        }
        if let Err(e) = check(CONFIGS[0], &inputs) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Fixed shapes at the benchmark's evidence levels, so every level is always covered.
#[test]
fn evidence_on_none_some_and_all_spans() {
    let how = Rewrite {
        shuffle: true,
        unknown: true,
        duplicate: true,
    };
    for percent in [0, 10, 100] {
        for (i, config) in CONFIGS.iter().copied().enumerate() {
            let inputs = generate(percent as u64 * 31 + i as u64, 60, percent, 3, how, 3);
            if let Err(e) = check(config, &inputs) {
                panic!("{percent}%: {e}");
            }
        }
    }
}

/// Every golden relink case, with its inputs converted to protobuf.
#[test]
fn golden_cases_agree_through_both_paths() {
    let cases = common::case_dirs(&common::root().join("tests/golden/relink"));
    assert!(cases.len() >= 10, "golden cases found: {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let config = std::fs::read_to_string(case.join("config.json")).unwrap_or_default();
        let mut inputs: Vec<(u64, Vec<u8>, bool)> = common::files_under(case, "")
            .into_iter()
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?;
                let bytes = std::fs::read(&p).ok()?;
                if let Some(n) = name
                    .strip_prefix("input-")
                    .and_then(|r| r.strip_suffix(".json"))
                {
                    // Inputs that are not OTLP/JSON (the malformed case) go in as they are.
                    let bytes = decode_json(&bytes)
                        .map(|r| encode_protobuf(&r))
                        .unwrap_or(bytes);
                    return Some((n.parse().ok()?, bytes, false));
                }
                let (n, _ext) = name.strip_prefix("event-")?.split_once('.')?;
                Some((n.parse().ok()?, bytes, true))
            })
            .collect();
        inputs.sort();
        let batches: Vec<(Vec<u8>, bool)> = inputs.into_iter().map(|(_, b, e)| (b, e)).collect();
        if let Err(e) = check_with_events((&config, true), &batches) {
            failures.push(format!("{}: {e}", case.display()));
        }
    }
    common::report(failures, cases.len());
}

#[test]
fn protobuf_inputs_take_the_fast_path() {
    // A batch with evidence, re-encoded with an unknown field the full path would drop:
    // the fast path keeps it, so the output proves which path ran.
    let mut rng = Rng(7);
    let mut bytes = batches::request(&Shape::realistic(200, 10), &mut rng).encode_to_vec();
    bytes.extend_from_slice(&[0xf8, 0x06, 0x2a]);
    let mut p = processor("{}");
    let out = p.process_traces(&bytes, NOW);
    assert!(out.counters.spans_changed > 0);
    assert_eq!(
        out.output.get(out.output.len() - 3..),
        Some(&[0xf8, 0x06, 0x2a][..])
    );
    assert_eq!(out.encoding, Encoding::Protobuf);
}

/// The whole-process benchmark's batches (examples/gen_batch.rs, benches/process.py) have
/// the shape they are described with: 20 attributes per span, evidence on the given share
/// of spans, every pair an S3 write and its notification, and every pair joins.
#[test]
fn s3_pair_batches_have_the_benchmark_shape() {
    use opentelemetry_proto::tonic::common::v1::any_value;
    let str_attr = |span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => Some(s.clone()),
                _ => None,
            })
    };
    let request = batches::request(&Shape::s3_pairs(1000, 10), &mut Rng(7));
    let spans: Vec<_> = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(spans.len(), 1000);
    assert!(spans.iter().all(|s| s.attributes.len() == 20));
    let producers = spans
        .iter()
        .filter(|s| str_attr(s, "rpc.system").as_deref() == Some("aws-api"))
        .inspect(|s| assert_eq!(str_attr(s, "rpc.service").as_deref(), Some("S3")))
        .count();
    let consumers = spans
        .iter()
        .filter_map(|s| str_attr(s, "relink.event"))
        .inspect(|e| assert!(e.contains("\"aws:s3\"") && e.len() < 1000, "{e}"))
        .count();
    assert_eq!((producers, consumers), (50, 50));

    let mut p = processor("{}");
    let input = request.encode_to_vec();
    let out = p.process_traces(&input, NOW);
    assert_eq!(out.error, None);
    assert_eq!(out.counters.spans_changed, 100);
    assert!(out.counters.links.exact >= 50, "{:?}", out.counters.links);
}
