//! The shipped component (`dist/relink.wasm`, or `RELINK_COMPONENT`) through the relay's
//! wasmtime embedding, against the native core: same answer for every input, and never a
//! trap. libFuzzer sees only the host side's coverage (the guest is compiled by
//! cranelift), so this target is for replaying the corpora the native targets grew
//! (`processor`, `event`, `web`) through the real artifact; wasm-only failures (a smaller
//! stack, 32-bit sizes) show up here and nowhere else.
//!
//! The first byte picks the call, as in the `processor` target: even for `process-traces`
//! (auto-detected encoding), odd for `process-event`. Configuration: the defaults, with
//! adoption on, as a second-tier relay runs.

#![no_main]

use libfuzzer_sys::fuzz_target;
use relink::config::Config;
use relink::processor::EventContext as CoreContext;
use relink_relay::component::{describe, CallError, Encoding, LoadedComponent, Relinker};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

const NOW: u64 = 1_722_369_353_000_000_000;
const CONFIG: &str = r#"{"adoption": {"enabled": true}}"#;

fn loaded() -> &'static LoadedComponent {
    static LOADED: OnceLock<LoadedComponent> = OnceLock::new();
    LOADED.get_or_init(|| {
        let path = std::env::var_os("RELINK_COMPONENT").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist/relink.wasm")
        });
        match LoadedComponent::load(&path) {
            Ok(loaded) => loaded,
            Err(e) => panic!("{e} (build it: host-examples/component/build.sh)"),
        }
    })
}

struct Pair {
    component: Relinker,
    native: relink::processor::Processor,
}

/// One component instance and one native processor for the whole run: both see the same
/// inputs in the same order, so their state (the index, the adoption table) stays the
/// same, and each call costs a call rather than an instantiation (14 vs thousands per
/// second).
fn pair() -> MutexGuard<'static, Pair> {
    static PAIR: OnceLock<Mutex<Pair>> = OnceLock::new();
    let pair = PAIR.get_or_init(|| {
        let component = match loaded().processor(CONFIG) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let native = match Config::from_json(CONFIG).and_then(|c| relink::Processor::new(&c)) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        Mutex::new(Pair { component, native })
    });
    pair.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let mut pair = pair();
    let Pair { component, native } = &mut *pair;
    if mode % 2 == 0 {
        let got = component.process_traces(rest, Encoding::Auto, NOW);
        let want = native.process_traces(rest, NOW);
        match (got, want.error) {
            (Ok(bytes), None) => assert!(bytes == want.output.as_ref(), "outputs differ"),
            (Err(CallError::Component(e)), Some(error)) => assert_eq!(describe(&e), error.to_string()),
            (Err(CallError::Trap(trap)), _) => panic!("component trapped: {trap}"),
            (got, want) => panic!("component {got:?}, native error {want:?}"),
        }
    } else {
        let got = component.process_event(rest, None, NOW);
        let want = native.process_event(rest, &CoreContext::default(), NOW);
        match (got, want) {
            (Ok(bytes), Ok(request)) => {
                assert!(bytes == relink::otlp::encode_json(&request), "outputs differ")
            }
            (Err(CallError::Component(e)), Err(error)) => assert_eq!(describe(&e), error.to_string()),
            (Err(CallError::Trap(trap)), _) => panic!("component trapped: {trap}"),
            (got, want) => panic!("component {got:?}, native {want:?}"),
        }
    }
});
