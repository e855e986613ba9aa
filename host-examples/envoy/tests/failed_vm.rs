//! A VM that fails (a trap: here an allocation past the VM's memory cap, as at V8's 1 GiB)
//! and what Envoy then does, per failure policy and release (`relink_harness::envoy::failure`
//! names the upstream source): the failing stream gets a 503 unless the legacy `fail_open`
//! is set; later streams get 503 (`FAIL_CLOSED`), skip the filter (`FAIL_OPEN`), or meet a
//! new VM with an empty pointer index once the reload backoff has passed (`FAIL_RELOAD`).

mod common;

use common::*;
use relink::otlp::Encoding;
use relink_harness::envoy::{
    AfterFailure, EnvoyRelease, Exchange, FailurePolicy, Request, Settings, Vm, V8_MEMORY_LIMIT,
};

const SECOND: u64 = 1_000_000_000;

fn with_policy(release: EnvoyRelease, fail_open: bool, policy: FailurePolicy) -> Settings {
    let mut s = settings("{}");
    s.release = release;
    s.fail_open = fail_open;
    s.failure_policy = policy;
    s
}

fn send(vm: &mut Vm, request: &Request) -> Exchange {
    vm.send(request).unwrap_or_else(|e| panic!("send: {e}"))
}

/// Caps the VM's memory where it stands and sends an export it needs more memory for: the
/// allocation fails and the guest traps, as a VM at V8's cap does.
fn fail(vm: &mut Vm) -> Exchange {
    vm.set_memory_limit(vm.memory_bytes());
    let exchange = send(vm, &export("application/json", &many_spans(1500), 4));
    assert!(
        exchange.vm_failure.is_some(),
        "the VM did not fail: {:?}",
        exchange.calls
    );
    assert!(vm.failure().is_some());
    exchange
}

fn producer_export() -> Request {
    export("application/x-protobuf", &to_protobuf(&producer()), 2)
}

fn consumer_export() -> Request {
    export("application/x-protobuf", &to_protobuf(&consumer()), 2)
}

#[test]
fn the_memory_cap_is_v8s_1_gib_and_a_large_export_fits_well_within_it() {
    assert_eq!(Settings::new("{}").memory_limit, V8_MEMORY_LIMIT);
    assert_eq!(V8_MEMORY_LIMIT, 1 << 30);
    // The example's largest export (max_body_bytes 4 MiB), relinked: the VM's memory after.
    let body = many_spans(11_000);
    assert!(
        body.len() > 3 << 20 && body.len() < 4 << 20,
        "{}",
        body.len()
    );
    let mut s = settings("{}");
    s.buffer_limit = 8 << 20;
    s.vm_configuration =
        br#"{"max_body_bytes": 4194304, "per_connection_buffer_limit_bytes": 8388608}"#.to_vec();
    let mut vm = started(&s);
    let exchange = send(&mut vm, &export("application/json", &body, 64));
    assert_eq!(exchange.vm_failure, None);
    assert_eq!(exchange.local_reply, None);
    let expected = native("{}", &[(&body, Encoding::Json)]).remove(0);
    assert_eq!(exchange.upstream_body, expected);
    let used = vm.memory_bytes();
    eprintln!(
        "a {} byte export ({} spans): VM memory {} MiB of V8's 1024",
        body.len(),
        11_000,
        used >> 20
    );
    assert!(used < V8_MEMORY_LIMIT / 8, "{used}");
}

#[test]
fn fail_closed_answers_503_to_the_failing_stream_and_every_later_one() {
    let mut vm = started(&with_policy(
        EnvoyRelease::Current,
        false,
        FailurePolicy::FailClosed,
    ));
    let failing = fail(&mut vm);
    assert_eq!(failing.local_reply, Some(503));
    assert_eq!(
        failing.upstream_body, b"",
        "the failing export is not sent on"
    );
    for request in [
        producer_export(),
        Request::post("/healthz", &[], Vec::new()),
    ] {
        let exchange = send(&mut vm, &request);
        assert_eq!(exchange.local_reply, Some(503));
        assert_eq!(exchange.upstream_headers, None);
        assert_eq!(exchange.calls, [], "no VM to call");
    }
}

#[test]
fn fail_open_skips_the_filter_after_the_failure() {
    let mut vm = started(&with_policy(
        EnvoyRelease::Current,
        false,
        FailurePolicy::FailOpen,
    ));
    let failing = fail(&mut vm);
    assert_eq!(
        failing.local_reply,
        Some(503),
        "`failure_policy: FAIL_OPEN` does not set the plugin's fail_open_: the failing stream still fails"
    );
    let request = producer_export();
    let exchange = send(&mut vm, &request);
    assert!(exchange.filter_skipped);
    assert_eq!(exchange.local_reply, None);
    assert_eq!(
        exchange.upstream_body,
        request.chunks.concat(),
        "not relinked"
    );
    assert_eq!(exchange.upstream_headers.as_ref(), Some(&request.headers));
}

#[test]
fn the_legacy_fail_open_lets_even_the_failing_stream_through() {
    for release in [
        EnvoyRelease::UpTo1_32,
        EnvoyRelease::V1_33,
        EnvoyRelease::Current,
    ] {
        let mut vm = started(&with_policy(release, true, FailurePolicy::Unspecified));
        assert_eq!(vm.policy().after_failure, AfterFailure::Open, "{release:?}");
        vm.set_memory_limit(vm.memory_bytes());
        let request = export("application/json", &many_spans(1500), 4);
        let failing = send(&mut vm, &request);
        assert!(failing.vm_failure.is_some(), "{release:?}");
        assert_eq!(failing.local_reply, None, "{release:?}");
        assert_eq!(
            failing.upstream_body,
            request.chunks.concat(),
            "{release:?}"
        );
        let exchange = send(&mut vm, &producer_export());
        assert!(exchange.filter_skipped, "{release:?}");
    }
}

#[test]
fn fail_reload_starts_a_new_vm_after_the_backoff_with_an_empty_index() {
    let mut vm = started(&with_policy(
        EnvoyRelease::Current,
        false,
        FailurePolicy::FailReload,
    ));
    let producer = to_protobuf(&producer());
    let consumer = to_protobuf(&consumer());
    let relinked = send(&mut vm, &producer_export());
    assert_ne!(relinked.upstream_body, producer, "the producer is indexed");

    let failing = fail(&mut vm);
    assert_eq!(failing.local_reply, Some(503));
    // Within the backoff (1 s base, up to 1.5 s with Envoy's jitter): no new VM yet.
    vm.set_now(NOW + SECOND / 2);
    let early = send(&mut vm, &consumer_export());
    assert_eq!(early.local_reply, Some(503));
    assert_eq!(vm.reloads(), 0);

    vm.set_now(NOW + 2 * SECOND);
    let exchange = send(&mut vm, &consumer_export());
    assert_eq!(vm.reloads(), 1);
    assert!(
        exchange
            .calls
            .iter()
            .any(|c| c.export == "proxy_on_vm_start"),
        "a new VM came up: {:?}",
        exchange.calls
    );
    assert_eq!(exchange.local_reply, None);
    // The new VM relinks as a fresh processor does: the producer it never saw is not linked.
    let fresh = native("{}", &[(&consumer, Encoding::Protobuf)]).remove(0);
    let remembered = native(
        "{}",
        &[
            (&producer, Encoding::Protobuf),
            (&consumer, Encoding::Protobuf),
        ],
    )
    .remove(1);
    assert_ne!(fresh, remembered, "the index makes a difference here");
    assert_eq!(exchange.upstream_body, fresh);
}

#[test]
fn the_default_policy_depends_on_the_envoy_release() {
    let unspecified = |release| {
        started(&with_policy(release, false, FailurePolicy::Unspecified))
            .policy()
            .after_failure
    };
    assert_eq!(unspecified(EnvoyRelease::UpTo1_32), AfterFailure::Closed);
    assert_eq!(unspecified(EnvoyRelease::V1_33), AfterFailure::Reload);
    assert_eq!(unspecified(EnvoyRelease::Current), AfterFailure::Closed);

    // 1.33 reloads without being asked.
    let mut vm = started(&with_policy(
        EnvoyRelease::V1_33,
        false,
        FailurePolicy::Unspecified,
    ));
    fail(&mut vm);
    vm.set_now(NOW + 2 * SECOND);
    let exchange = send(&mut vm, &producer_export());
    assert_eq!(vm.reloads(), 1);
    assert_eq!(exchange.local_reply, None);
}

#[test]
fn envoy_rejects_fail_open_together_with_a_failure_policy() {
    for policy in [
        FailurePolicy::FailReload,
        FailurePolicy::FailClosed,
        FailurePolicy::FailOpen,
    ] {
        for release in [EnvoyRelease::V1_33, EnvoyRelease::Current] {
            match host().start(&with_policy(release, true, policy)) {
                Err(e) => assert_eq!(
                    e.to_string(),
                    "only one of fail_open or failure_policy can be set"
                ),
                Ok(_) => panic!("{release:?} {policy:?} accepted"),
            }
        }
        assert!(
            host()
                .start(&with_policy(EnvoyRelease::UpTo1_32, false, policy))
                .is_err(),
            "before 1.33 failure_policy is an unknown field"
        );
    }
}
