//! What Envoy does once a VM has failed (a trap, an abort, a failed allocation at V8's memory
//! cap: proxy-wasm-cpp-host's `FailState::RuntimeError`), per Envoy release and plugin
//! configuration. Followed:
//!
//! - proxy-wasm-cpp-host 52a0291, `src/context.cc` (`CHECK_FAIL_HTTP`): the stream whose
//!   callback failed continues only if the plugin's `fail_open_` is set, which Envoy fills
//!   from the legacy `PluginConfig.fail_open` alone; otherwise `failStream` sends a 503 once
//!   (Envoy `source/extensions/common/wasm/context.cc`, `Context::failStream`,
//!   `wasm_fail_stream`), and no further callback reaches the VM.
//! - Envoy 1.32 and earlier (`source/extensions/common/wasm/plugin.h` at 7909f3f): only
//!   `fail_open`. Later streams on the worker get a context without a VM (503) or, with
//!   `fail_open`, no filter at all.
//! - Envoy 1.33 added `failure_policy` (`FAIL_RELOAD`, `FAIL_CLOSED`, `FAIL_OPEN`; the
//!   release notes, `changelogs/1.33.0.yaml` at 33f8ceb: "The `FAIL_RELOAD` reload policy
//!   will be used by default"). The `plugin.h` of that change resolves `UNSPECIFIED` to
//!   `FAIL_RELOAD` while the runtime guard
//!   `envoy.reloadable_features.wasm_failure_reload_by_default` is on, and rejects a
//!   configuration that sets both `fail_open` and `failure_policy` ("only one of fail_open
//!   or failure_policy can be set").
//! - Envoy's later source (`PluginConfig::PluginConfig` in
//!   `source/extensions/common/wasm/wasm.cc`, read in a copy that carries Envoy's main
//!   branch; the reference index's own revision of that file predates `failure_policy`):
//!   `UNSPECIFIED` is `FAIL_CLOSED`, the same rejection; `PluginConfig::createContext` skips
//!   the filter (`FAIL_OPEN`) or gives it a VM-less context (503);
//!   `maybeReloadHandleIfNeeded` starts a new VM for `FAIL_RELOAD` (runtime errors only)
//!   once the backoff since the last load has passed (`reload_config.backoff`, base 1 s,
//!   `JitteredLowerBoundBackOffStrategy`: up to 1.5 times the base), and the new VM starts
//!   empty. The API reference packaged in PyPI `envoy-data-plane` 2.2.0 documents the same
//!   default ("The default policy is `FAIL_CLOSED`").

/// `PluginConfig.failure_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    #[default]
    Unspecified,
    FailReload,
    FailClosed,
    FailOpen,
}

/// The Envoy release whose rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvoyRelease {
    /// 1.32 and earlier: `fail_open` only; `failure_policy` is an unknown field.
    UpTo1_32,
    /// 1.33: `failure_policy`; unspecified is `FAIL_RELOAD` (runtime guard at its default).
    V1_33,
    /// Envoy's current source: unspecified is `FAIL_CLOSED`.
    #[default]
    Current,
}

/// What later streams meet once the VM failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// A new VM (empty state) once the backoff has passed; 503 until then.
    Reload,
    /// 503 for every stream through the filter.
    Closed,
    /// The filter is left out: streams pass untouched.
    Open,
}

/// The resolved policy of one plugin configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub after_failure: AfterFailure,
    /// `PluginBase::fail_open_`: the stream whose callback failed goes on (legacy
    /// `fail_open` only); otherwise it gets a 503.
    pub failing_stream_continues: bool,
}

/// Resolves a plugin configuration as the given release does; `Err` is Envoy's rejection
/// of the configuration.
pub fn resolve(
    release: EnvoyRelease,
    fail_open: bool,
    failure_policy: FailurePolicy,
) -> Result<Policy, String> {
    let after_failure = match (release, fail_open, failure_policy) {
        (EnvoyRelease::UpTo1_32, _, p) if p != FailurePolicy::Unspecified => {
            return Err(
                "Protobuf message (type envoy.extensions.wasm.v3.PluginConfig) has unknown fields"
                    .into(),
            );
        }
        (EnvoyRelease::UpTo1_32, true, _) => AfterFailure::Open,
        (EnvoyRelease::UpTo1_32, false, _) => AfterFailure::Closed,
        (_, true, FailurePolicy::Unspecified) => AfterFailure::Open,
        (_, true, _) => return Err("only one of fail_open or failure_policy can be set".into()),
        (EnvoyRelease::V1_33, false, FailurePolicy::Unspecified) => AfterFailure::Reload,
        (_, false, FailurePolicy::Unspecified) => AfterFailure::Closed,
        (_, false, FailurePolicy::FailReload) => AfterFailure::Reload,
        (_, false, FailurePolicy::FailClosed) => AfterFailure::Closed,
        (_, false, FailurePolicy::FailOpen) => AfterFailure::Open,
    };
    Ok(Policy {
        after_failure,
        failing_stream_continues: fail_open,
    })
}

/// Whether `FAIL_RELOAD` starts a new VM now: the backoff's upper bound (1.5 times the
/// base) since the last load, so that the answer does not depend on Envoy's jitter.
pub fn reload_due(now_unix_nano: u64, last_load_unix_nano: u64, base_ms: u64) -> bool {
    let elapsed_ms = now_unix_nano.saturating_sub(last_load_unix_nano) / 1_000_000;
    elapsed_ms >= base_ms.saturating_add(base_ms / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_release_resolves_an_unspecified_policy_its_way() {
        let unspecified = |release| resolve(release, false, FailurePolicy::Unspecified);
        assert_eq!(
            unspecified(EnvoyRelease::UpTo1_32).map(|p| p.after_failure),
            Ok(AfterFailure::Closed)
        );
        assert_eq!(
            unspecified(EnvoyRelease::V1_33).map(|p| p.after_failure),
            Ok(AfterFailure::Reload)
        );
        assert_eq!(
            unspecified(EnvoyRelease::Current).map(|p| p.after_failure),
            Ok(AfterFailure::Closed)
        );
    }

    #[test]
    fn fail_open_with_a_failure_policy_is_rejected_and_before_1_33_the_field_is_unknown() {
        for release in [EnvoyRelease::V1_33, EnvoyRelease::Current] {
            assert_eq!(
                resolve(release, true, FailurePolicy::FailReload),
                Err("only one of fail_open or failure_policy can be set".into())
            );
        }
        assert!(resolve(EnvoyRelease::UpTo1_32, false, FailurePolicy::FailOpen).is_err());
        let legacy = resolve(EnvoyRelease::Current, true, FailurePolicy::Unspecified);
        assert_eq!(
            legacy,
            Ok(Policy {
                after_failure: AfterFailure::Open,
                failing_stream_continues: true
            })
        );
        let open = resolve(EnvoyRelease::Current, false, FailurePolicy::FailOpen);
        assert_eq!(
            open,
            Ok(Policy {
                after_failure: AfterFailure::Open,
                failing_stream_continues: false
            })
        );
    }

    #[test]
    fn reload_waits_for_the_backoff_upper_bound() {
        let s = 1_000_000_000;
        assert!(!reload_due(s + 1_499_000_000, s, 1000));
        assert!(reload_due(s + 1_500_000_000, s, 1000));
        assert!(!reload_due(0, s, 1000), "a clock going back never reloads");
    }
}
