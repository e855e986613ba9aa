//! The `relink serve` command line, parsed into [`ServeOptions`]. The upstream exporter's
//! flags and variables are [`crate::upstream_config`]'s; `--relay-config FILE` adds flags
//! from a file ([`crate::relay_config`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::otlp_env::OtlpEnv;
use crate::upstream_config::{resolve, UpstreamConfig, UpstreamFlags, DEFAULT_TIMEOUT};

/// The usage text of `relink serve`.
pub const USAGE: &str =
    "usage: relink serve [--relay-config FILE] [--listen ADDR] [--component FILE]
                    [--config FILE] [--upstream URL] [--out FILE] [--max-body BYTES]
                    [--workers N] [--readers N] [--log-interval SECONDS]
                    [--playground DIR]
                    [upstream, delivery, admission, shutdown and receiver flags below]

  --relay-config FILE   the relay's own settings as JSON: {\"flag-name\": value, ...} with
                        the long flag names below (a list for a repeatable flag); flags
                        given on the command line win over the file
  --listen ADDR         address to accept OTLP/HTTP on (default 127.0.0.1:4318)
  --component FILE      the relink component (default dist/relink.wasm)
  --config FILE         relink configuration JSON (default: the built-in defaults, `{}`)
  --out FILE            append each relinked request to FILE as one OTLP/JSON line
  --max-body BYTES      largest accepted body, before and after decompression (default 16777216)
  --workers N           requests decompressed and relinked at once (default 3)
  --readers N           extra component instances that read a request's evidence while
                        the one holding the state is busy (default 1; 0 = none; at most
                        --workers - 1 are used)
  --log-interval SECS   print the counters every SECS seconds on stderr; 0 = never (default 60)
  --playground DIR      also serve the browser playground (dist/web) at GET /

upstream (each also from OTEL_EXPORTER_OTLP_[TRACES_]*; a flag wins over its variable):
  --upstream URL        base URL (http:// or https://): OTLP/HTTP goes to URL/v1/traces,
                        OTLP/gRPC to URL itself (OTEL_EXPORTER_OTLP_ENDPOINT)
  --upstream-traces-endpoint URL  the OTLP/HTTP traces URL, used as is
                        (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  --upstream-protocol P grpc | http/protobuf | http/json (OTEL_EXPORTER_OTLP_PROTOCOL;
                        default http/protobuf, and with --upstream alone OTLP/HTTP in the
                        encoding each request arrived in)
  --upstream-header NAME=VALUE  a request header such as an API key; repeatable
                        (OTEL_EXPORTER_OTLP_HEADERS=k1=v1,k2=v2); values are never logged
  --upstream-compression gzip|none  (OTEL_EXPORTER_OTLP_COMPRESSION; default none)
  --upstream-timeout D  one upstream attempt, connect to last byte (default 10s;
                        OTEL_EXPORTER_OTLP_TIMEOUT in milliseconds)
  --upstream-ca FILE    PEM CA bundle trusted instead of the system roots for https://
                        (OTEL_EXPORTER_OTLP_CERTIFICATE)
  --upstream-client-cert FILE, --upstream-client-key FILE  PEM client certificate chain and
                        key for mTLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, _CLIENT_KEY)

delivery (durations: 500ms, 5s, 2m; a bare number is seconds):
  --queue-bytes BYTES   upstream sending queue, in bytes (default 67108864); 0 = no queue:
                        each request waits for the upstream and gets its answer
  --senders N           concurrent upstream senders (default 4)
  --retry-initial D     first retry delay (default 5s)
  --retry-max-interval D  largest retry delay (default 30s)
  --retry-max-elapsed D   give a batch up after this long (default 300s; 0: never)
  --spool DIR           keep acknowledged batches in DIR until delivered (off by default)
  --spool-max-bytes BYTES  largest spool (default 1073741824)
  --out-queue-bytes BYTES  the --out file's queue (default 33554432)
  --out-fsync POLICY    never (default: written per line, synced on rotation and exit) | always
admission:
  --max-inflight-bytes BYTES  request bodies read or waiting for processing (default 33554432)
  --max-connections N   open connections (default 1024, at most the fd limit less 64)
  --header-timeout D    request headers, also the keep-alive idle limit (default 10s)
  --body-timeout D      a whole request body (default 30s)
  --shutdown-timeout D  drain on SIGTERM, longer than --upstream-timeout (default 30s)
receivers (OTLP/HTTP on --listen speaks HTTP/1.1 and HTTP/2; OTLP/gRPC beside it):
  --grpc-listen ADDR|off  address to accept OTLP/gRPC on (default 127.0.0.1:4317, skipped
                        when taken, as the start-up line says; off = none)
  --tls-cert FILE       serve both receivers over TLS with this PEM certificate chain
  --tls-key FILE        and this PEM private key (both re-read on SIGHUP)
  --tls-client-ca FILE  require client certificates signed by these PEM CAs (mTLS)
  --bearer-token-file FILE  require `authorization: Bearer <the file's first line>` on
                        both receivers (401 / UNAUTHENTICATED); re-read on SIGHUP";

/// Whether each `--out` line is synced to disk before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutFsync {
    /// Written with one `write` per line; synced on SIGHUP reopen and at exit.
    Never,
    /// `fdatasync` after every line.
    Always,
}

/// Sending queue, retry and spool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// 0: no queue, requests are forwarded synchronously.
    pub queue_bytes: usize,
    pub senders: usize,
    pub upstream_timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max_interval: Duration,
    pub retry_max_elapsed: Duration,
    pub spool: Option<PathBuf>,
    pub spool_max_bytes: u64,
    pub out_queue_bytes: usize,
    pub out_fsync: OutFsync,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            queue_bytes: 64 << 20,
            senders: 4,
            upstream_timeout: Duration::from_secs(10),
            retry_initial: Duration::from_secs(5),
            retry_max_interval: Duration::from_secs(30),
            retry_max_elapsed: Duration::from_secs(300),
            spool: None,
            spool_max_bytes: 1 << 30,
            out_queue_bytes: 32 << 20,
            out_fsync: OutFsync::Never,
        }
    }
}

/// Admission control and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub max_inflight_bytes: usize,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub shutdown_timeout: Duration,
}

impl Default for Admission {
    fn default() -> Admission {
        Admission {
            max_inflight_bytes: 32 << 20,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Where OTLP/gRPC is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcListen {
    /// Not given: 127.0.0.1:4317, skipped with a warning when taken, so a second relay on
    /// one host (or a test) still starts.
    Default(SocketAddr),
    /// `--grpc-listen ADDR`: must bind.
    Given(SocketAddr),
    /// `--grpc-listen off`.
    Off,
}

/// The PEM files of the receivers' TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Client certificates are required and checked against these CAs.
    pub client_ca: Option<PathBuf>,
}

/// The receiving side: the gRPC listener, TLS, the bearer token (`--listen` stays above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receivers {
    pub grpc_listen: GrpcListen,
    pub tls: Option<TlsFiles>,
    pub bearer_token_file: Option<PathBuf>,
}

impl Default for Receivers {
    fn default() -> Receivers {
        Receivers {
            grpc_listen: GrpcListen::Default(SocketAddr::from(([127, 0, 0, 1], 4317))),
            tls: None,
            bearer_token_file: None,
        }
    }
}

/// The receiver flags as parsed, checked together once every word is read.
#[derive(Default)]
struct ReceiverFlags {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
}

impl ReceiverFlags {
    const NAMES: [&'static str; 5] = [
        "--grpc-listen",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
        "--bearer-token-file",
    ];

    fn take(&mut self, receivers: &mut Receivers, flag: &str, value: &str) -> Result<(), String> {
        match flag {
            "--grpc-listen" => {
                receivers.grpc_listen = match value {
                    "off" => GrpcListen::Off,
                    _ => GrpcListen::Given(value.parse().map_err(|_| {
                        format!(
                            "--grpc-listen: `{value}` is not an address like 127.0.0.1:4317 or off"
                        )
                    })?),
                }
            }
            "--tls-cert" => self.cert = Some(PathBuf::from(value)),
            "--tls-key" => self.key = Some(PathBuf::from(value)),
            "--tls-client-ca" => self.client_ca = Some(PathBuf::from(value)),
            _ => receivers.bearer_token_file = Some(PathBuf::from(value)),
        }
        Ok(())
    }

    fn finish(self, receivers: &mut Receivers) -> Result<(), String> {
        receivers.tls = match (self.cert, self.key, self.client_ca) {
            (None, None, None) => None,
            (Some(cert), Some(key), client_ca) => Some(TlsFiles {
                cert,
                key,
                client_ca,
            }),
            (None, _, _) => return Err("--tls-key and --tls-client-ca need --tls-cert".into()),
            (Some(_), None, _) => return Err("--tls-cert needs --tls-key".into()),
        };
        Ok(())
    }
}

/// What `relink serve` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub component: PathBuf,
    /// `None`: the built-in defaults.
    pub config: Option<PathBuf>,
    /// The upstream exporter, from the `--upstream*` flags and `OTEL_EXPORTER_OTLP_*`.
    pub upstream: Option<UpstreamConfig>,
    pub out: Option<PathBuf>,
    pub max_body: usize,
    pub workers: usize,
    /// Component instances that read evidence ahead (`prepare-traces`).
    pub readers: usize,
    /// `None`: no periodic log line.
    pub log_interval: Option<Duration>,
    /// The built playground folder to serve at `GET /`; `None`: not served.
    pub playground: Option<PathBuf>,
    pub delivery: Delivery,
    pub admission: Admission,
    pub receivers: Receivers,
    /// Settings warned about at start and ignored.
    pub warnings: Vec<String>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
            component: PathBuf::from("dist/relink.wasm"),
            config: None,
            upstream: None,
            out: None,
            max_body: 16 * 1024 * 1024,
            // Three workers: one request planned and applied by the instance holding the
            // state, one whose evidence the reader reads meanwhile, one being inflated and
            // decoded (on 2 cores, 1k-span batches with evidence on 10% of the spans: 45%
            // of the core's spans/s with 2 workers and no reader, 65% so; benches/RESULTS.md).
            // Each worker costs up to 3 x --max-body of memory.
            workers: 3,
            readers: 1,
            log_interval: Some(Duration::from_secs(60)),
            playground: None,
            delivery: Delivery::default(),
            admission: Admission::default(),
            receivers: Receivers::default(),
            warnings: Vec::new(),
        }
    }
}

impl ServeOptions {
    /// Parses the words after `serve` with the process environment's
    /// `OTEL_EXPORTER_OTLP_*` variables. Errors are one line naming the flag or variable.
    pub fn parse(words: &[String]) -> Result<ServeOptions, String> {
        ServeOptions::parse_in(words, &|name| std::env::var(name).ok())
    }

    /// [`ServeOptions::parse`] with the variables read through `env`.
    pub fn parse_in(
        words: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServeOptions, String> {
        let words = crate::relay_config::expand(words)?;
        let mut options = ServeOptions::default();
        let mut receiver_flags = ReceiverFlags::default();
        let mut upstream = UpstreamFlags::default();
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (word.as_str(), None),
            };
            if matches!(flag, "-h" | "--help") {
                return Err(USAGE.to_string());
            }
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?,
            };
            if upstream.flag(flag, &value)? {
                continue;
            }
            match flag {
                // Read by relay_config::expand before the other flags.
                "--relay-config" => {}
                "--listen" => {
                    options.listen = value.parse().map_err(|_| {
                        format!("--listen: `{value}` is not an address like 127.0.0.1:4318")
                    })?;
                }
                "--component" => options.component = PathBuf::from(value),
                "--config" => options.config = Some(PathBuf::from(value)),
                "--out" => options.out = Some(PathBuf::from(value)),
                "--playground" => options.playground = Some(PathBuf::from(value)),
                "--max-body" => options.max_body = positive(flag, &value)?,
                "--workers" => options.workers = positive(flag, &value)?,
                "--readers" => {
                    options.readers = value.parse().map_err(|_| {
                        format!("--readers: `{value}` is not a number of instances")
                    })?;
                }
                "--log-interval" => {
                    let secs: u64 = value.parse().map_err(|_| {
                        format!("--log-interval: `{value}` is not a number of seconds")
                    })?;
                    options.log_interval = (secs > 0).then(|| Duration::from_secs(secs));
                }
                flag if ReceiverFlags::NAMES.contains(&flag) => {
                    receiver_flags.take(&mut options.receivers, flag, &value)?
                }
                other => options.delivery_flag(other, &value)?,
            }
        }
        receiver_flags.finish(&mut options.receivers)?;
        let env = OtlpEnv::read(env)?;
        options.warnings.extend(env.ignored.iter().cloned());
        options.upstream = resolve(&upstream, &env)?;
        options.delivery.upstream_timeout = match &options.upstream {
            Some(config) => config.timeout,
            None => upstream.timeout.unwrap_or(DEFAULT_TIMEOUT),
        };
        let (d, a) = (&options.delivery, &options.admission);
        if a.shutdown_timeout <= d.upstream_timeout {
            return Err(format!(
                "--shutdown-timeout ({:?}) must be longer than --upstream-timeout ({:?}), so one attempt can finish",
                a.shutdown_timeout, d.upstream_timeout
            ));
        }
        if d.spool.is_some() && (options.upstream.is_none() || d.queue_bytes == 0) {
            return Err("--spool needs --upstream and a sending queue (--queue-bytes > 0)".into());
        }
        Ok(options)
    }

    /// The delivery and admission flags.
    fn delivery_flag(&mut self, flag: &str, value: &str) -> Result<(), String> {
        let (d, a) = (&mut self.delivery, &mut self.admission);
        match flag {
            "--queue-bytes" => {
                d.queue_bytes = value
                    .parse()
                    .map_err(|_| format!("--queue-bytes: `{value}` is not a number of bytes"))?
            }
            "--senders" => d.senders = positive(flag, value)?,
            "--retry-initial" => d.retry_initial = duration(flag, value)?,
            "--retry-max-interval" => d.retry_max_interval = duration(flag, value)?,
            "--retry-max-elapsed" => {
                d.retry_max_elapsed = match value {
                    "0" => Duration::ZERO,
                    _ => duration(flag, value)?,
                }
            }
            "--spool" => d.spool = Some(PathBuf::from(value)),
            "--spool-max-bytes" => d.spool_max_bytes = positive(flag, value)? as u64,
            "--out-queue-bytes" => d.out_queue_bytes = positive(flag, value)?,
            "--out-fsync" => {
                d.out_fsync = match value {
                    "never" => OutFsync::Never,
                    "always" => OutFsync::Always,
                    _ => return Err(format!("--out-fsync: `{value}` is not never or always")),
                }
            }
            "--max-inflight-bytes" => a.max_inflight_bytes = positive(flag, value)?,
            "--max-connections" => a.max_connections = positive(flag, value)?,
            "--header-timeout" => a.header_timeout = duration(flag, value)?,
            "--body-timeout" => a.body_timeout = duration(flag, value)?,
            "--shutdown-timeout" => a.shutdown_timeout = duration(flag, value)?,
            other => return Err(format!("unknown option `{other}`\n{USAGE}")),
        }
        Ok(())
    }
}

/// `500ms`, `5s`, `2m` or a bare number of seconds; never zero.
pub(crate) fn duration(flag: &str, value: &str) -> Result<Duration, String> {
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let n: u64 = digits.parse().unwrap_or(0);
    let parsed = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => Duration::ZERO,
    };
    match parsed.is_zero() {
        false => Ok(parsed),
        true => Err(format!(
            "{flag}: `{value}` is not a duration like 500ms, 5s or 2m"
        )),
    }
}

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: `{value}` is not a positive integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    /// No OTEL_EXPORTER_OTLP_* variables, whatever the test process has.
    fn parse(words: &[String]) -> Result<ServeOptions, String> {
        ServeOptions::parse_in(words, &|_| None)
    }

    #[test]
    fn defaults_and_every_flag() {
        assert_eq!(parse(&[]), Ok(ServeOptions::default()));
        let parsed = parse(&words(
            "--listen 0.0.0.0:9000 --component c.wasm --config r.json --upstream http://h:4318/ \
             --out o.jsonl --max-body=1024 --workers 2 --readers 0 --log-interval 0 \
             --playground dist/web",
        ));
        assert_eq!(
            parsed,
            Ok(ServeOptions {
                listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
                component: PathBuf::from("c.wasm"),
                config: Some(PathBuf::from("r.json")),
                upstream: UpstreamConfig::http_base("http://h:4318/").ok(),
                out: Some(PathBuf::from("o.jsonl")),
                max_body: 1024,
                workers: 2,
                readers: 0,
                log_interval: None,
                playground: Some(PathBuf::from("dist/web")),
                ..ServeOptions::default()
            })
        );
        let parsed = parse(&words(
            "--upstream http://h:1 --queue-bytes 1000 --senders 2 --upstream-timeout 500ms \
             --retry-initial 1 --retry-max-interval 2s --retry-max-elapsed 1m --spool /s \
             --spool-max-bytes 9 --out-queue-bytes 8 --out-fsync always \
             --max-inflight-bytes 7 --max-connections 6 --header-timeout 3s \
             --body-timeout 4s --shutdown-timeout 5s",
        ));
        let secs = Duration::from_secs;
        assert_eq!(
            parsed.map(|o| (o.delivery, o.admission)),
            Ok((
                Delivery {
                    queue_bytes: 1000,
                    senders: 2,
                    upstream_timeout: Duration::from_millis(500),
                    retry_initial: secs(1),
                    retry_max_interval: secs(2),
                    retry_max_elapsed: secs(60),
                    spool: Some(PathBuf::from("/s")),
                    spool_max_bytes: 9,
                    out_queue_bytes: 8,
                    out_fsync: OutFsync::Always,
                },
                Admission {
                    max_inflight_bytes: 7,
                    max_connections: 6,
                    header_timeout: secs(3),
                    body_timeout: secs(4),
                    shutdown_timeout: secs(5),
                }
            ))
        );
        // 0 is "never give up" (the Collector's max_elapsed_time: 0); other zeros are not
        // durations.
        let elapsed = |v: &str| {
            parse(&words(&format!("--retry-max-elapsed {v}"))).map(|o| o.delivery.retry_max_elapsed)
        };
        assert_eq!(elapsed("0"), Ok(Duration::ZERO));
        assert!(elapsed("0s").is_err() && elapsed("0ms").is_err());
    }

    #[test]
    fn receiver_flags() {
        let parsed = parse(&words(
            "--grpc-listen 0.0.0.0:5317 --tls-cert c.pem --tls-key k.pem --tls-client-ca ca.pem \
             --bearer-token-file t",
        ));
        assert_eq!(
            parsed.map(|o| o.receivers),
            Ok(Receivers {
                grpc_listen: GrpcListen::Given(SocketAddr::from(([0, 0, 0, 0], 5317))),
                tls: Some(TlsFiles {
                    cert: PathBuf::from("c.pem"),
                    key: PathBuf::from("k.pem"),
                    client_ca: Some(PathBuf::from("ca.pem")),
                }),
                bearer_token_file: Some(PathBuf::from("t")),
            })
        );
        assert_eq!(
            parse(&words("--grpc-listen off")).map(|o| o.receivers.grpc_listen),
            Ok(GrpcListen::Off)
        );
        assert_eq!(
            parse(&words("--grpc-listen 4317")),
            Err("--grpc-listen: `4317` is not an address like 127.0.0.1:4317 or off".into())
        );
        assert_eq!(
            parse(&words("--tls-cert c.pem")),
            Err("--tls-cert needs --tls-key".into())
        );
        assert_eq!(
            parse(&words("--tls-client-ca ca.pem")),
            Err("--tls-key and --tls-client-ca need --tls-cert".into())
        );
    }

    #[test]
    fn flags_win_over_the_file_which_wins_over_the_variables() {
        let dir = std::env::temp_dir().join(format!("relink-options-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("relay.json");
        let json =
            r#"{"upstream-protocol": "http/json", "upstream-compression": "gzip", "senders": 3}"#;
        assert!(std::fs::write(&file, json).is_ok());
        let env = |name: &str| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("https://env:4318".to_string()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_string()),
            "OTEL_EXPORTER_OTLP_COMPRESSION" => Some("gzip".to_string()),
            "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("2000".to_string()),
            _ => None,
        };
        let line = format!(
            "--relay-config {} --upstream-compression none",
            file.display()
        );
        let parsed = ServeOptions::parse_in(&words(&line), &env);
        let _ = std::fs::remove_dir_all(&dir);
        let upstream = parsed.as_ref().ok().and_then(|o| o.upstream.clone());
        assert_eq!(
            upstream.map(|u| (u.url, u.protocol, u.compression, u.timeout)),
            Some((
                "https://env:4318/v1/traces".to_string(),
                Some(crate::upstream_config::Protocol::HttpJson),
                crate::upstream_config::Compression::None,
                Duration::from_secs(2)
            ))
        );
        assert_eq!(
            parsed.map(|o| (o.delivery.senders, o.delivery.upstream_timeout)),
            Ok((3, Duration::from_secs(2)))
        );
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            parse(&words("--max-body 0")),
            Err("--max-body: `0` is not a positive integer".into())
        );
        assert_eq!(
            parse(&words("--listen")),
            Err("--listen needs a value".into())
        );
        assert_eq!(
            parse(&words("--listen nowhere")),
            Err("--listen: `nowhere` is not an address like 127.0.0.1:4318".into())
        );
        assert_eq!(
            parse(&words("--upstream ftp://x")),
            Err("--upstream: `ftp://x` must start with http:// or https://".into())
        );
        assert_eq!(
            parse(&words("--upstream http://")),
            Err("--upstream: `http://` is not a URL".into())
        );
        assert_eq!(
            parse(&words("--body-timeout 0")),
            Err("--body-timeout: `0` is not a duration like 500ms, 5s or 2m".into())
        );
        assert_eq!(
            parse(&words("--spool /x")),
            Err("--spool needs --upstream and a sending queue (--queue-bytes > 0)".into())
        );
        assert_eq!(
            parse(&words("--upstream-timeout 40s")),
            Err("--shutdown-timeout (30s) must be longer than --upstream-timeout (40s), so one attempt can finish".into())
        );
        assert!(
            parse(&words("--bogus 1")).is_err_and(|e| e.starts_with("unknown option `--bogus`"))
        );
    }
}
