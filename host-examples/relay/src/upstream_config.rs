//! The upstream exporter's settings: the `--upstream-*` flags, merged with the
//! `OTEL_EXPORTER_OTLP_*` variables ([`crate::otlp_env`]) into one checked
//! [`UpstreamConfig`]. Flags (and the `--relay-config` file, which is flags) win over
//! variables, setting by setting, as the Collector and the SDKs order them.
//!
//! Header values are API keys: [`HeaderList`] never prints them (its `Debug` redacts), and
//! no error message carries one.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::otlp_env::{Endpoint, OtlpEnv};

/// The OTLP/gRPC method every traces export calls.
pub const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// One attempt's limit when neither `--upstream-timeout` nor `OTEL_EXPORTER_OTLP_TIMEOUT` says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The exporter protocol, named as `OTEL_EXPORTER_OTLP_PROTOCOL` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

impl Protocol {
    pub fn parse(value: &str) -> Result<Protocol, String> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            _ => Err(format!("`{value}` is not grpc, http/protobuf or http/json")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// Request compression toward the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
}

impl Compression {
    pub fn parse(value: &str) -> Result<Compression, String> {
        match value.trim() {
            "gzip" => Ok(Compression::Gzip),
            "none" => Ok(Compression::None),
            _ => Err(format!("`{value}` is not gzip or none")),
        }
    }
}

/// Headers the relay owns: a user header of these names would break the protocol.
const RESERVED: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "te",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-timeout",
];

/// Extra request headers (API keys); values are kept out of every printout.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    /// Adds `name: value` after checking both are sendable; names are lower-cased (HTTP/2
    /// requires it). The error names the header, never its value.
    pub fn push(&mut self, name: &str, value: &str) -> Result<(), String> {
        let name = name.to_ascii_lowercase();
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "the header name `{name}` is not a valid HTTP header name"
            ));
        }
        if RESERVED.contains(&name.as_str()) {
            return Err(format!("`{name}` is set by the relay itself"));
        }
        if hyper::header::HeaderValue::from_str(value).is_err() {
            return Err(format!(
                "the value of `{name}` has characters a header cannot carry"
            ));
        }
        self.0.push((name, value.to_string()));
        Ok(())
    }

    /// `(name, value)` pairs, to put on requests.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The header names, for logs.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub fn reveal(self) -> Vec<(String, String)> {
        self.0
    }
}

impl fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, _)| (n, "<redacted>")))
            .finish()
    }
}

/// PEM files for TLS toward the upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA bundle that replaces the system roots.
    pub ca: Option<PathBuf>,
    /// Client certificate chain and key, for mTLS (both or neither).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// The upstream flags as given (`None`: not given, so a variable or the default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamFlags {
    pub base: Option<String>,
    pub traces_endpoint: Option<String>,
    pub protocol: Option<Protocol>,
    pub headers: Option<HeaderList>,
    pub compression: Option<Compression>,
    pub timeout: Option<Duration>,
    pub tls: TlsFiles,
}

impl UpstreamFlags {
    /// Takes one of the upstream flags; `Ok(false)` when `flag` is not one of them.
    pub fn flag(&mut self, flag: &str, value: &str) -> Result<bool, String> {
        let path = || Some(PathBuf::from(value));
        match flag {
            "--upstream" => self.base = Some(value.to_string()),
            "--upstream-traces-endpoint" => self.traces_endpoint = Some(value.to_string()),
            "--upstream-protocol" => {
                self.protocol = Some(Protocol::parse(value).map_err(|e| format!("{flag}: {e}"))?)
            }
            "--upstream-header" => {
                let Some((name, text)) = value.split_once('=') else {
                    return Err(format!("{flag}: expected NAME=VALUE"));
                };
                self.headers
                    .get_or_insert_with(HeaderList::default)
                    .push(name.trim(), text.trim())
                    .map_err(|e| format!("{flag}: {e}"))?;
            }
            "--upstream-compression" => {
                self.compression =
                    Some(Compression::parse(value).map_err(|e| format!("{flag}: {e}"))?)
            }
            "--upstream-timeout" => self.timeout = Some(crate::options::duration(flag, value)?),
            "--upstream-ca" => self.tls.ca = path(),
            "--upstream-client-cert" => self.tls.client_cert = path(),
            "--upstream-client-key" => self.tls.client_key = path(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Where and how the relay exports, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// The request URL: `.../v1/traces` (or the exact traces endpoint) for OTLP/HTTP, the
    /// endpoint with [`GRPC_EXPORT_PATH`] for OTLP/gRPC.
    pub url: String,
    /// `None`: OTLP/HTTP in the encoding each batch arrived in (the relay's behaviour
    /// before the protocol could be chosen, kept for `--upstream` alone).
    pub protocol: Option<Protocol>,
    pub headers: HeaderList,
    pub compression: Compression,
    pub timeout: Duration,
    pub tls: TlsFiles,
}

impl UpstreamConfig {
    /// An OTLP/HTTP upstream at a base URL (`--upstream URL` alone).
    pub fn http_base(base: &str) -> Result<UpstreamConfig, String> {
        resolve(
            &UpstreamFlags {
                base: Some(base.to_string()),
                ..UpstreamFlags::default()
            },
            &OtlpEnv::default(),
        )?
        .ok_or_else(|| "no upstream".to_string())
    }

    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// Whether the upstream is one of `own` (the relay's bound listeners), so every batch
    /// would come back in and go out again forever: an environment that points SDKs at
    /// the relay (`OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318`) and that the relay
    /// inherits. Only literal addresses and `localhost` are compared: no DNS at start.
    pub fn is_one_of(&self, own: &[std::net::SocketAddr]) -> bool {
        let Ok(uri) = self.url.parse::<hyper::Uri>() else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if self.is_https() { 443 } else { 80 });
        let host = uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ips: Vec<std::net::IpAddr> = match host.parse() {
            Ok(ip) => vec![ip],
            Err(_) if host.eq_ignore_ascii_case("localhost") => {
                vec![
                    std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::Ipv6Addr::LOCALHOST.into(),
                ]
            }
            Err(_) => return false,
        };
        own.iter().any(|addr| {
            addr.port() == port
                && ips.iter().any(|ip| {
                    *ip == addr.ip()
                        || (addr.ip().is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
                })
        })
    }

    /// One line for the start-up log: no header values.
    pub fn describe(&self) -> String {
        let mut parts = vec![self
            .protocol
            .map_or("http, in each request's encoding", Protocol::name)
            .to_string()];
        if self.compression == Compression::Gzip {
            parts.push("gzip".into());
        }
        if !self.headers.is_empty() {
            parts.push(format!("headers {}", self.headers.names().join(", ")));
        }
        if self.tls.client_cert.is_some() {
            parts.push("client certificate".into());
        }
        format!("{} ({})", self.url, parts.join(", "))
    }
}

/// Merges flags and variables. `Ok(None)` when no endpoint is configured: variables alone
/// never start forwarding unless they name an endpoint (an SDK's default, localhost:4318,
/// is the relay itself).
pub fn resolve(flags: &UpstreamFlags, env: &OtlpEnv) -> Result<Option<UpstreamConfig>, String> {
    let from_flags = match (&flags.base, &flags.traces_endpoint) {
        (Some(_), Some(_)) => {
            return Err(
                "--upstream and --upstream-traces-endpoint name the same thing: give one".into(),
            )
        }
        (Some(base), None) => Some(("--upstream", Endpoint::Base(base.clone()))),
        (None, Some(exact)) => Some(("--upstream-traces-endpoint", Endpoint::Exact(exact.clone()))),
        (None, None) => None,
    };
    let (source, endpoint, protocol) = match (from_flags, &env.endpoint) {
        (Some((source, endpoint)), _) => (source, endpoint, flags.protocol.or(env.protocol)),
        (None, Some(endpoint)) => {
            let source = match endpoint {
                Endpoint::Base(_) => "OTEL_EXPORTER_OTLP_ENDPOINT",
                Endpoint::Exact(_) => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            };
            // The specification's default protocol.
            let protocol = flags
                .protocol
                .or(env.protocol)
                .unwrap_or(Protocol::HttpProtobuf);
            let endpoint = match protocol {
                Protocol::Grpc => grpc_scheme(endpoint, env.insecure),
                _ => endpoint.clone(),
            };
            (source, endpoint, Some(protocol))
        }
        (None, None) => {
            let set = flags.protocol.is_some()
                || flags.headers.is_some()
                || flags.compression.is_some()
                || flags.tls != TlsFiles::default();
            return match set {
                true => Err("--upstream-* settings need an endpoint: --upstream URL, --upstream-traces-endpoint URL or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT".into()),
                false => Ok(None),
            };
        }
    };
    let url = request_url(source, &endpoint, protocol)?;
    let tls = TlsFiles {
        ca: flags.tls.ca.clone().or(env.certificate.clone()),
        client_cert: flags
            .tls
            .client_cert
            .clone()
            .or(env.client_certificate.clone()),
        client_key: flags.tls.client_key.clone().or(env.client_key.clone()),
    };
    let https = url.starts_with("https://");
    if !https && flags.tls != TlsFiles::default() {
        return Err(format!(
            "--upstream-ca and --upstream-client-* are for https:// upstreams; {source} is `{url}`"
        ));
    }
    if https && tls.client_cert.is_some() != tls.client_key.is_some() {
        return Err("a client certificate needs its key and a key its certificate (--upstream-client-cert with --upstream-client-key, or OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE with OTEL_EXPORTER_OTLP_CLIENT_KEY)".into());
    }
    Ok(Some(UpstreamConfig {
        url,
        protocol,
        headers: flags
            .headers
            .clone()
            .or(env.headers.clone())
            .unwrap_or_default(),
        compression: flags.compression.or(env.compression).unwrap_or_default(),
        timeout: flags.timeout.or(env.timeout).unwrap_or(DEFAULT_TIMEOUT),
        // Variables meant for an https endpoint do not apply to a plain one.
        tls: if https { tls } else { TlsFiles::default() },
    }))
}

/// A gRPC endpoint variable without a scheme (`collector:4317`, the form gRPC clients take)
/// gets one from `OTEL_EXPORTER_OTLP_INSECURE`: `http://` (h2c) when true, else `https://`.
fn grpc_scheme(endpoint: &Endpoint, insecure: Option<bool>) -> Endpoint {
    let with = |value: &String| match value.contains("://") {
        true => value.clone(),
        false if insecure == Some(true) => format!("http://{value}"),
        false => format!("https://{value}"),
    };
    match endpoint {
        Endpoint::Base(v) => Endpoint::Base(with(v)),
        Endpoint::Exact(v) => Endpoint::Exact(with(v)),
    }
}

/// The URL requests go to: a base gets `/v1/traces` for OTLP/HTTP; an exact endpoint is
/// used as is (`/` when it has no path); gRPC takes scheme and authority only.
fn request_url(
    source: &str,
    endpoint: &Endpoint,
    protocol: Option<Protocol>,
) -> Result<String, String> {
    let value = match endpoint {
        Endpoint::Base(v) | Endpoint::Exact(v) => v.as_str(),
    };
    let uri: hyper::Uri = value
        .parse()
        .map_err(|_| format!("{source}: `{value}` is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(format!(
            "{source}: `{value}` must start with http:// or https://"
        ));
    }
    let authority = match uri.authority() {
        Some(a) if !a.host().is_empty() => a.as_str(),
        _ => return Err(format!("{source}: `{value}` has no host")),
    };
    if authority.contains('@') {
        return Err(format!(
            "{source}: credentials in the URL are not supported (they would be logged); use --upstream-header authorization=..."
        ));
    }
    let origin = format!("{}://{authority}", uri.scheme_str().unwrap_or("http"));
    let path = uri.path_and_query().map_or("", |p| p.as_str());
    match (protocol, endpoint) {
        (Some(Protocol::Grpc), _) if !matches!(path, "" | "/") => Err(format!(
            "{source}: `{value}`: an OTLP/gRPC endpoint has no path (the method is {GRPC_EXPORT_PATH})"
        )),
        (Some(Protocol::Grpc), _) => Ok(format!("{origin}{GRPC_EXPORT_PATH}")),
        // The signal path goes on the URL's path, before any query string.
        (_, Endpoint::Base(_)) => Ok(format!(
            "{origin}{}/v1/traces{}",
            uri.path().trim_end_matches('/'),
            uri.query().map_or(String::new(), |q| format!("?{q}"))
        )),
        (_, Endpoint::Exact(_)) if path.is_empty() => Ok(format!("{origin}/")),
        (_, Endpoint::Exact(_)) => Ok(format!("{origin}{path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(words: &[&str]) -> UpstreamFlags {
        let mut flags = UpstreamFlags::default();
        for pair in words.chunks(2) {
            if let [flag, value] = pair {
                assert_eq!(flags.flag(flag, value), Ok(true), "{flag}");
            }
        }
        flags
    }

    fn url(words: &[&str], env: &OtlpEnv) -> Result<Option<(String, Option<Protocol>)>, String> {
        resolve(&flags(words), env).map(|c| c.map(|c| (c.url, c.protocol)))
    }

    #[test]
    fn an_upstream_at_the_relays_own_address_is_recognised() {
        let own: Vec<std::net::SocketAddr> = ["127.0.0.1:4318", "0.0.0.0:4317", "[::1]:9000"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let is_own = |u: &str| UpstreamConfig::http_base(u).is_ok_and(|c| c.is_one_of(&own));
        assert!(is_own("http://localhost:4318"));
        assert!(is_own("http://127.0.0.1:4318/otlp"));
        assert!(is_own("https://127.0.0.1:4317"));
        assert!(is_own("http://[::1]:9000"));
        assert!(!is_own("http://127.0.0.1:4319"));
        assert!(!is_own("http://10.0.0.1:4318"));
        assert!(!is_own("http://collector:4318"));
        assert!(!is_own("http://127.0.0.1"));
    }

    #[test]
    fn endpoints_per_the_specification() {
        let none = OtlpEnv::default();
        let base = |v: &str| OtlpEnv {
            endpoint: Some(Endpoint::Base(v.into())),
            ..OtlpEnv::default()
        };
        let exact = |v: &str| OtlpEnv {
            endpoint: Some(Endpoint::Exact(v.into())),
            ..OtlpEnv::default()
        };
        let http = |u: &str, p| Ok(Some((u.to_string(), p)));
        // --upstream: a base, as before; the batch's own encoding.
        assert_eq!(
            url(&["--upstream", "http://h:4318/"], &none),
            http("http://h:4318/v1/traces", None)
        );
        // The generic variable is a base, with or without a path or a trailing slash.
        assert_eq!(
            url(&[], &base("http://h:4318")),
            http("http://h:4318/v1/traces", Some(Protocol::HttpProtobuf))
        );
        assert_eq!(
            url(&[], &base("https://h/otlp/")),
            http("https://h/otlp/v1/traces", Some(Protocol::HttpProtobuf))
        );
        // A query string stays after the appended path.
        assert_eq!(
            url(&["--upstream", "https://h/otlp/?tenant=a"], &none),
            http("https://h/otlp/v1/traces?tenant=a", None)
        );
        assert_eq!(
            url(&[], &base("http://h:4318?tenant=a")),
            http(
                "http://h:4318/v1/traces?tenant=a",
                Some(Protocol::HttpProtobuf)
            )
        );
        // The per-signal variable is used as is; without a path it is the root.
        assert_eq!(
            url(&[], &exact("https://h:443/api/traces")),
            http("https://h:443/api/traces", Some(Protocol::HttpProtobuf))
        );
        assert_eq!(
            url(&[], &exact("http://h:4318")),
            http("http://h:4318/", Some(Protocol::HttpProtobuf))
        );
        // gRPC takes the endpoint as is and calls the Export method.
        let grpc = OtlpEnv {
            protocol: Some(Protocol::Grpc),
            ..base("https://h:4317")
        };
        assert_eq!(
            url(&[], &grpc),
            http(
                &format!("https://h:4317{GRPC_EXPORT_PATH}"),
                Some(Protocol::Grpc)
            )
        );
        assert!(url(
            &[],
            &OtlpEnv {
                protocol: Some(Protocol::Grpc),
                ..base("http://h:4317/x")
            }
        )
        .is_err_and(|e| e.contains("an OTLP/gRPC endpoint has no path")));
        // A gRPC endpoint variable without a scheme: TLS unless `INSECURE` is true.
        let bare = |insecure| OtlpEnv {
            protocol: Some(Protocol::Grpc),
            insecure,
            ..base("collector:4317")
        };
        for (insecure, scheme) in [
            (None, "https"),
            (Some(false), "https"),
            (Some(true), "http"),
        ] {
            assert_eq!(
                url(&[], &bare(insecure)),
                http(
                    &format!("{scheme}://collector:4317{GRPC_EXPORT_PATH}"),
                    Some(Protocol::Grpc)
                )
            );
        }
        // OTLP/HTTP endpoints keep needing their scheme.
        assert!(url(&[], &base("collector:4318"))
            .is_err_and(|e| e.ends_with("must start with http:// or https://")));
        // Flags win over variables, setting by setting.
        assert_eq!(
            url(&["--upstream-traces-endpoint", "http://f/t"], &grpc),
            Err("--upstream-traces-endpoint: `http://f/t`: an OTLP/gRPC endpoint has no path (the method is /opentelemetry.proto.collector.trace.v1.TraceService/Export)".into())
        );
        assert_eq!(
            url(
                &[
                    "--upstream",
                    "http://f:1",
                    "--upstream-protocol",
                    "http/json"
                ],
                &grpc
            ),
            http("http://f:1/v1/traces", Some(Protocol::HttpJson))
        );
        // Variables without an endpoint configure nothing; flags without one are an error.
        assert_eq!(
            url(
                &[],
                &OtlpEnv {
                    protocol: Some(Protocol::Grpc),
                    ..none.clone()
                }
            ),
            Ok(None)
        );
        assert!(url(&["--upstream-compression", "gzip"], &none)
            .is_err_and(|e| e.contains("need an endpoint")));
    }

    #[test]
    fn headers_timeout_compression_and_tls_precedence() {
        let mut env_headers = HeaderList::default();
        assert_eq!(env_headers.push("x-env", "from-env"), Ok(()));
        let env = OtlpEnv {
            endpoint: Some(Endpoint::Base("https://h".into())),
            headers: Some(env_headers.clone()),
            compression: Some(Compression::Gzip),
            timeout: Some(Duration::from_millis(1500)),
            certificate: Some("/env-ca.pem".into()),
            client_key: Some("/k.pem".into()),
            client_certificate: Some("/c.pem".into()),
            ..OtlpEnv::default()
        };
        let config = resolve(&flags(&[]), &env).ok().flatten();
        assert_eq!(
            config.map(|c| (c.headers, c.compression, c.timeout, c.tls)),
            Some((
                env_headers,
                Compression::Gzip,
                Duration::from_millis(1500),
                TlsFiles {
                    ca: Some("/env-ca.pem".into()),
                    client_cert: Some("/c.pem".into()),
                    client_key: Some("/k.pem".into())
                }
            ))
        );
        let given = flags(&[
            "--upstream-header",
            "X-Api-Key=k1",
            "--upstream-header",
            "b = v=2",
            "--upstream-compression",
            "none",
            "--upstream-timeout",
            "3s",
            "--upstream-ca",
            "/f.pem",
        ]);
        let config = resolve(&given, &env).ok().flatten();
        assert_eq!(
            config.map(|c| (c.headers.reveal(), c.compression, c.timeout, c.tls.ca)),
            Some((
                vec![
                    ("x-api-key".into(), "k1".into()),
                    ("b".into(), "v=2".into())
                ],
                Compression::None,
                Duration::from_secs(3),
                Some("/f.pem".into())
            ))
        );
        // TLS variables do not apply to a plain upstream; TLS flags there are a mistake.
        let plain = OtlpEnv {
            endpoint: Some(Endpoint::Base("http://h".into())),
            ..env
        };
        assert_eq!(
            resolve(&flags(&[]), &plain).ok().flatten().map(|c| c.tls),
            Some(TlsFiles::default())
        );
        assert!(resolve(&flags(&["--upstream-ca", "/x"]), &plain)
            .is_err_and(|e| e.contains("are for https://")));
        assert!(resolve(
            &flags(&["--upstream", "https://h", "--upstream-client-cert", "/c"]),
            &OtlpEnv::default()
        )
        .is_err_and(|e| e.starts_with("a client certificate needs its key")));
    }

    #[test]
    fn bad_values_name_the_flag_not_the_secret() {
        let mut f = UpstreamFlags::default();
        assert_eq!(
            f.flag("--upstream-header", "s3cret"),
            Err("--upstream-header: expected NAME=VALUE".into())
        );
        assert_eq!(
            f.flag("--upstream-header", "x=a\u{1}b"),
            Err("--upstream-header: the value of `x` has characters a header cannot carry".into())
        );
        assert_eq!(
            f.flag("--upstream-header", "Content-Type=x"),
            Err("--upstream-header: `content-type` is set by the relay itself".into())
        );
        assert_eq!(
            f.flag("--upstream-protocol", "h2"),
            Err("--upstream-protocol: `h2` is not grpc, http/protobuf or http/json".into())
        );
        assert_eq!(f.flag("--listen", "x"), Ok(false));
        assert!(url(&["--upstream", "ftp://h"], &OtlpEnv::default())
            .is_err_and(|e| e.ends_with("must start with http:// or https://")));
        assert!(url(&["--upstream", "http://u:pw@h"], &OtlpEnv::default())
            .is_err_and(|e| !e.contains("pw")));
        let mut headers = HeaderList::default();
        assert_eq!(headers.push("x-api-key", "s3cret"), Ok(()));
        assert_eq!(format!("{headers:?}"), r#"{"x-api-key": "<redacted>"}"#);
    }
}
