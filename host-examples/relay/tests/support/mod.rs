//! Helpers for the relay tests: the component, temp dirs, a recording loopback upstream,
//! starting a relay, and a small HTTP client.

#![allow(dead_code)]

pub mod certs;
pub mod h2;

use relink::otlp::ExportTraceServiceRequest;
use relink_relay::options::GrpcListen;
use relink_relay::upstream_config::UpstreamConfig;
use relink_relay::{Relay, ServeOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The repository root.
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.canonicalize().unwrap_or(here)
}

/// `RELINK_COMPONENT`, else `dist/relink.wasm`, built once by the build script if missing.
pub fn component() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = BUILT.get_or_init(|| {
        if let Some(path) = std::env::var_os("RELINK_COMPONENT") {
            return Ok(PathBuf::from(path));
        }
        let wasm = root().join("dist/relink.wasm");
        if !wasm.exists() {
            let script = root().join("host-examples/component/build.sh");
            let status = Command::new("bash")
                .arg(&script)
                .status()
                .map_err(|e| format!("{}: {e}", script.display()))?;
            if !status.success() {
                return Err(format!("{} failed: {status}", script.display()));
            }
        }
        Ok(wasm)
    });
    found
        .clone()
        .unwrap_or_else(|e| panic!("no component: {e}"))
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

pub fn manifest() -> serde_json::Value {
    json(&read(
        &root().join("host-examples/component/tests/cases.json"),
    ))
}

/// A golden summary's counters as sorted dotted names.
pub fn flatten(value: &serde_json::Value) -> Vec<(String, u64)> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, u64)>) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, inner) in fields {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    walk(&path, inner, out);
                }
            }
            other => out.push((prefix.to_string(), other.as_u64().unwrap_or(u64::MAX))),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out.sort();
    out
}

/// A golden case's batches in order: `(n, path, is_event)` for `input-N.json` (OTLP) and
/// `event-N.*` (raw payloads through the event entry point).
pub fn batches(dir: &Path) -> Vec<(u64, PathBuf, bool)> {
    let mut out: Vec<(u64, PathBuf, bool)> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            if let Some(n) = name
                .strip_prefix("input-")
                .and_then(|r| r.strip_suffix(".json"))
            {
                return Some((n.parse().ok()?, p, false));
            }
            let (n, _) = name.strip_prefix("event-")?.split_once('.')?;
            Some((n.parse().ok()?, p, true))
        })
        .collect();
    out.sort();
    out
}

pub fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// `google.rpc.Status` with only a message, as protobuf (messages under 128 bytes).
pub fn status_protobuf(message: &str) -> Vec<u8> {
    let mut out = vec![0x12, message.len() as u8];
    out.extend_from_slice(message.as_bytes());
    out
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("relink-relay-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A loopback OTLP/HTTP endpoint that records requests and answers each with a fixed
/// status and body after `delay`. Keep-alive connections are served until closed.
pub struct Upstream {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    pub fn start(status: u16, content_type: &str, body: &[u8], delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        head.extend_from_slice(body);
        let (log, answer) = (received.clone(), Arc::new(head));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, answer) = (log.clone(), answer.clone());
                std::thread::spawn(move || serve_connection(stream, &log, &answer, delay));
            }
        });
        Upstream { port, received }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// What was received once `n` requests arrived (the relay forwards from its queue
    /// after answering), waiting at most 10 s.
    pub fn wait_received(&self, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= n || std::time::Instant::now() > deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<Received>>, answer: &[u8], delay: Duration) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let (mut length, mut content_type) = (0usize, String::new());
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(mut log) = log.lock() {
            log.push(Received {
                path,
                content_type,
                body,
            });
        }
        std::thread::sleep(delay);
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}

/// An `http://127.0.0.1:PORT` URL where nothing listens (the port was just released).
pub fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// What a test relay is started with.
pub struct Opts<'a> {
    pub config: Option<&'a str>,
    pub upstream: Option<&'a Upstream>,
    pub upstream_url: Option<String>,
    pub out: Option<&'a Path>,
    pub max_body: usize,
    pub workers: usize,
    pub playground: Option<&'a Path>,
    /// 0: forward synchronously (the upstream's answer reaches the client).
    pub queue_bytes: usize,
    /// The gRPC receiver on an ephemeral port (else off).
    pub grpc: bool,
    pub tls: Option<relink_relay::options::TlsFiles>,
    pub bearer_token_file: Option<&'a Path>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            config: None,
            upstream: None,
            upstream_url: None,
            out: None,
            max_body: 1 << 20,
            workers: 2,
            playground: None,
            queue_bytes: 1 << 20,
            grpc: false,
            tls: None,
            bearer_token_file: None,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Starts a relay on an ephemeral port.
pub fn start(opts: Opts<'_>) -> Relay {
    let config = opts.config.map(|text| {
        let dir = std::env::temp_dir().join(format!("relink-relay-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{:x}.json", text.len()));
        let _ = std::fs::write(&path, text);
        path
    });
    let mut options = ServeOptions {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        component: component(),
        config,
        upstream: opts
            .upstream
            .map(Upstream::url)
            .or(opts.upstream_url)
            .map(|url| UpstreamConfig::http_base(&url).unwrap_or_else(|e| panic!("{e}"))),
        out: opts.out.map(Path::to_path_buf),
        max_body: opts.max_body,
        workers: opts.workers,
        log_interval: None,
        playground: opts.playground.map(Path::to_path_buf),
        // One sender keeps the upstream's order the clients' order, as the tests check.
        delivery: relink_relay::options::Delivery {
            queue_bytes: opts.queue_bytes,
            senders: 1,
            ..Default::default()
        },
        ..ServeOptions::default()
    };
    options.receivers = relink_relay::options::Receivers {
        grpc_listen: match opts.grpc {
            true => GrpcListen::Given("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))),
            false => GrpcListen::Off,
        },
        tls: opts.tls,
        bearer_token_file: opts.bearer_token_file.map(Path::to_path_buf),
    };
    options.admission.max_connections = opts.max_connections;
    options.admission.header_timeout = opts.header_timeout;
    options.admission.body_timeout = opts.body_timeout;
    Relay::start(&options).unwrap_or_else(|e| panic!("relay: {e}"))
}

/// An HTTP answer as the tests check it.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub allow: Option<String>,
    pub www_authenticate: Option<String>,
    pub body: Vec<u8>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let response = response.unwrap_or_else(|e| panic!("request failed: {e}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let (status, content_type, allow, www_authenticate) = (
        response.status().as_u16(),
        header("content-type").unwrap_or_default(),
        header("allow"),
        header("www-authenticate"),
    );
    let body = response
        .into_body()
        .read_to_vec()
        .unwrap_or_else(|e| panic!("body: {e}"));
    Reply {
        status,
        content_type,
        allow,
        www_authenticate,
        body,
    }
}

pub fn post_to(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut request = agent().post(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.send(body))
}

pub fn post(relay: &Relay, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    post_to(&relay.local_addr().to_string(), path, headers, body)
}

pub fn get(relay: &Relay, path: &str) -> Reply {
    reply(
        agent()
            .get(format!("http://{}{path}", relay.local_addr()))
            .call(),
    )
}
