//! The OpenTelemetry exporter variables (`OTEL_EXPORTER_OTLP_*`), read as the
//! specification says (<https://opentelemetry.io/docs/specs/otel/protocol/exporter/>), so
//! a relay dropped into an environment configured for SDKs sends where they would.
//!
//! - Per-signal (`OTEL_EXPORTER_OTLP_TRACES_*`) wins over generic, variable by variable
//!   (headers too: `TRACES_HEADERS` replaces `HEADERS`, it does not merge with it).
//! - `ENDPOINT` is a base: OTLP/HTTP appends `/v1/traces`; `TRACES_ENDPOINT` is used as is.
//! - An empty variable is unset, as the specification says.
//! - `HEADERS` is a W3C-baggage-like list `k1=v1,k2=v2` with percent-encoded values.
//! - `TIMEOUT` is in milliseconds.
//!
//! A value the relay cannot use stops it at start naming the variable (an SDK would warn and
//! carry on; a relay that silently drops an API key only fails later, at the upstream).
//! Header values are secrets and never appear in an error. Two exceptions warn at start
//! instead: `TIMEOUT`, where the specification requires a negative value be warned about
//! and ignored (and a value that is not an integer should be; `0` means no limit there,
//! which the relay does not take either, since an attempt without a limit holds its sender,
//! and every batch behind it, for as long as the upstream hangs), and `INSECURE`, a
//! boolean, where anything but `true` or `false` is warned about and taken as false.

use std::path::PathBuf;
use std::time::Duration;

use crate::upstream_config::{Compression, HeaderList, Protocol};

/// An endpoint and how it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A base URL (`--upstream`, `OTEL_EXPORTER_OTLP_ENDPOINT`): OTLP/HTTP appends `/v1/traces`.
    Base(String),
    /// The traces URL itself (`--upstream-traces-endpoint`, `..._TRACES_ENDPOINT`).
    Exact(String),
}

/// The upstream settings the variables give; `None` where neither variable is set.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OtlpEnv {
    pub endpoint: Option<Endpoint>,
    pub headers: Option<HeaderList>,
    pub protocol: Option<Protocol>,
    pub compression: Option<Compression>,
    pub timeout: Option<Duration>,
    pub certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub client_certificate: Option<PathBuf>,
    /// `INSECURE`: for a gRPC endpoint given without a scheme, plaintext (h2c) instead of TLS.
    pub insecure: Option<bool>,
    /// Variables warned about and ignored (`TIMEOUT`, `INSECURE`).
    pub ignored: Vec<String>,
}

const PREFIX: &str = "OTEL_EXPORTER_OTLP_";

impl OtlpEnv {
    /// Reads the variables through `get` (the process environment, or a map in tests).
    pub fn read(get: &dyn Fn(&str) -> Option<String>) -> Result<OtlpEnv, String> {
        // `(name, value)` of the per-signal variable if set, else of the generic one.
        let pick = |name: &str| -> Option<(String, String)> {
            let nonempty = |var: String| get(&var).filter(|v| !v.is_empty()).map(|v| (var, v));
            nonempty(format!("{PREFIX}TRACES_{name}"))
                .or_else(|| nonempty(format!("{PREFIX}{name}")))
        };
        let endpoint = match pick("ENDPOINT") {
            Some((var, value)) if var.contains("TRACES") => Some(Endpoint::Exact(value)),
            Some((_, value)) => Some(Endpoint::Base(value)),
            None => None,
        };
        let headers = pick("HEADERS")
            .map(|(var, value)| parse_headers(&value).map_err(|e| format!("{var}: {e}")))
            .transpose()?;
        let protocol = pick("PROTOCOL")
            .map(|(var, value)| Protocol::parse(&value).map_err(|e| format!("{var}: {e}")))
            .transpose()?;
        let compression = pick("COMPRESSION")
            .map(|(var, value)| Compression::parse(&value).map_err(|e| format!("{var}: {e}")))
            .transpose()?;
        let mut ignored = Vec::new();
        // An unusable per-signal value counts as unset, so the generic one applies.
        let mut timeout = None;
        for var in [
            format!("{PREFIX}TRACES_TIMEOUT"),
            format!("{PREFIX}TIMEOUT"),
        ] {
            let Some(value) = get(&var).filter(|v| !v.is_empty()) else {
                continue;
            };
            match value.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => {
                    timeout = Some(Duration::from_millis(ms));
                    break;
                }
                Ok(_) => ignored.push(format!(
                    "{var}: 0 (no limit) is not taken: an attempt would wait for a hung upstream forever"
                )),
                Err(_) => ignored.push(format!(
                    "{var}: `{value}` is not a whole number of milliseconds, ignored"
                )),
            }
        }
        if timeout.is_none() && !ignored.is_empty() {
            ignored.push(format!(
                "the upstream timeout is the relay's own ({:?}, --upstream-timeout)",
                crate::upstream_config::DEFAULT_TIMEOUT
            ));
        }
        // A boolean: `true` in any case; the specification asks for a warning on anything
        // but `true` and `false`, taken as false.
        let insecure = pick("INSECURE").map(|(var, value)| {
            let value = value.trim();
            if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                ignored.push(format!(
                    "{var}: `{value}` is not true or false, taken as false"
                ));
            }
            value.eq_ignore_ascii_case("true")
        });
        let path = |name: &str| pick(name).map(|(_, value)| PathBuf::from(value));
        Ok(OtlpEnv {
            endpoint,
            headers,
            protocol,
            compression,
            timeout,
            certificate: path("CERTIFICATE"),
            client_key: path("CLIENT_KEY"),
            client_certificate: path("CLIENT_CERTIFICATE"),
            insecure,
            ignored,
        })
    }
}

/// `k1=v1,k2=v2`: list members separated by commas, each `key=value` with optional
/// whitespace around both, the value percent-decoded (UTF-8). Empty members are skipped; a
/// member without `=` or with an empty key, or a value that does not decode, is an error
/// naming the member by position (its value may be a secret).
pub fn parse_headers(text: &str) -> Result<HeaderList, String> {
    let mut headers = HeaderList::default();
    for (index, member) in text.split(',').enumerate() {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let n = index + 1;
        let Some((key, value)) = member.split_once('=') else {
            return Err(format!("header {n} is not key=value"));
        };
        let value = percent_encoding::percent_decode_str(value.trim())
            .decode_utf8()
            .map_err(|_| {
                format!(
                    "header {n} (`{}`): the value is not percent-encoded UTF-8",
                    key.trim()
                )
            })?;
        headers
            .push(key.trim(), &value)
            .map_err(|e| format!("header {n}: {e}"))?;
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<OtlpEnv, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), v.to_string()))
            .collect();
        OtlpEnv::read(&|name| map.get(name).cloned())
    }

    #[test]
    fn per_signal_wins_and_empty_is_unset() {
        let read = env(&[
            ("ENDPOINT", "http://generic:4318"),
            ("TRACES_ENDPOINT", "http://traces:4318/custom"),
            ("PROTOCOL", "grpc"),
            ("TRACES_PROTOCOL", "http/json"),
            ("COMPRESSION", "gzip"),
            ("TRACES_COMPRESSION", ""),
            ("TIMEOUT", "2500"),
            ("CERTIFICATE", "/generic.pem"),
            ("TRACES_CERTIFICATE", "/traces.pem"),
            ("CLIENT_KEY", "/k.pem"),
            ("TRACES_CLIENT_CERTIFICATE", "/c.pem"),
        ]);
        assert_eq!(
            read,
            Ok(OtlpEnv {
                endpoint: Some(Endpoint::Exact("http://traces:4318/custom".into())),
                headers: None,
                protocol: Some(Protocol::HttpJson),
                compression: Some(Compression::Gzip),
                timeout: Some(Duration::from_millis(2500)),
                certificate: Some("/traces.pem".into()),
                client_key: Some("/k.pem".into()),
                client_certificate: Some("/c.pem".into()),
                insecure: None,
                ignored: Vec::new(),
            })
        );
        assert_eq!(
            env(&[("ENDPOINT", "http://generic:4318/")]).map(|e| e.endpoint),
            Ok(Some(Endpoint::Base("http://generic:4318/".into())))
        );
        assert_eq!(env(&[("TRACES_ENDPOINT", "")]), Ok(OtlpEnv::default()));
    }

    #[test]
    fn headers_are_decoded_and_traces_headers_replace_headers() {
        let read = env(&[
            ("HEADERS", "api-key=generic"),
            (
                "TRACES_HEADERS",
                " x-api-key = a%20b%2Cc=d , ,Authorization=Bearer%20t0k3n,",
            ),
        ])
        .map(|e| e.headers.map(|h| h.reveal()));
        assert_eq!(
            read,
            Ok(Some(vec![
                ("x-api-key".to_string(), "a b,c=d".to_string()),
                ("authorization".to_string(), "Bearer t0k3n".to_string()),
            ]))
        );
        // `+` is not a space in percent-encoding.
        assert_eq!(
            parse_headers("k=a+b").map(|h| h.reveal()),
            Ok(vec![("k".into(), "a+b".into())])
        );
    }

    #[test]
    fn malformed_values_name_the_variable_never_the_secret() {
        let fails = |pairs: &[(&str, &str)]| env(pairs).err().unwrap_or_default();
        assert_eq!(
            fails(&[("HEADERS", "a=1,secretwithoutequals")]),
            "OTEL_EXPORTER_OTLP_HEADERS: header 2 is not key=value"
        );
        assert_eq!(
            fails(&[("TRACES_HEADERS", "=s3cret")]),
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS: header 1: the header name `` is not a valid HTTP header name"
        );
        assert_eq!(
            fails(&[("HEADERS", "k=%ff%fe")]),
            "OTEL_EXPORTER_OTLP_HEADERS: header 1 (`k`): the value is not percent-encoded UTF-8"
        );
        assert_eq!(
            fails(&[("HEADERS", "k=a%0Ab")]),
            "OTEL_EXPORTER_OTLP_HEADERS: header 1: the value of `k` has characters a header cannot carry"
        );
        assert_eq!(
            fails(&[("PROTOCOL", "http")]),
            "OTEL_EXPORTER_OTLP_PROTOCOL: `http` is not grpc, http/protobuf or http/json"
        );
        assert_eq!(
            fails(&[("TRACES_COMPRESSION", "br")]),
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: `br` is not gzip or none"
        );
    }

    /// The specification: a negative timeout MUST be warned about and ignored, one that is
    /// not an integer SHOULD be; `0` (no limit) is warned about and not taken.
    #[test]
    fn a_timeout_the_relay_cannot_use_is_warned_about_and_ignored() {
        for value in ["-5", "10s", "1.5", "0"] {
            let read = env(&[("TIMEOUT", value), ("ENDPOINT", "http://h:4318")]);
            let Ok(read) = read else {
                panic!("{value}: {read:?}");
            };
            assert_eq!(read.timeout, None, "{value}");
            assert_eq!(read.ignored.len(), 2, "{value}");
            assert!(
                read.ignored[0].starts_with("OTEL_EXPORTER_OTLP_TIMEOUT: "),
                "{}",
                read.ignored[0]
            );
        }
        // An unusable per-signal value is unset: the generic one applies.
        let read = env(&[("TRACES_TIMEOUT", "-1"), ("TIMEOUT", "2000")]);
        assert_eq!(
            read.map(|r| (r.timeout, r.ignored.len())),
            Ok((Some(Duration::from_millis(2000)), 1))
        );
    }

    #[test]
    fn insecure_is_a_boolean() {
        let read = |v: &str| env(&[("INSECURE", v)]).map(|r| (r.insecure, r.ignored.len()));
        assert_eq!(read("true"), Ok((Some(true), 0)));
        assert_eq!(read("TRUE"), Ok((Some(true), 0)));
        assert_eq!(read("false"), Ok((Some(false), 0)));
        assert_eq!(read("yes"), Ok((Some(false), 1)));
        assert_eq!(read(""), Ok((None, 0)));
    }
}
