//! The relay as a real process (`relink-relay serve`), its stderr collected, signals sent
//! with kill(1); and a client that sends batches of unique spans once, without retrying,
//! and remembers which spans were acknowledged.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use relink::otlp::{self, Encoding, ExportTraceServiceRequest};

pub struct RelayProcess {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl RelayProcess {
    /// `relink-relay serve --listen 127.0.0.1:0 --component ... --log-interval 0 ARGS`.
    pub fn spawn(args: &[&str]) -> RelayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relink-relay"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-interval", "0"])
            .arg("--component")
            .arg(crate::support::component())
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let log = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = found.send(rest.split('/').next().unwrap_or_default().to_string());
                }
                if let Ok(mut log) = lines.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        });
        let addr = address
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "the relay did not start: {}",
                    log.lock().map(|l| l.clone()).unwrap_or_default()
                )
            });
        RelayProcess { child, addr, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `needle`: a line logged as a client is answered
    /// reaches the stderr reader after the answer may have.
    pub fn log_shows(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.log().contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{name}");
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the stderr reader catch up with the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the relay did not exit: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The peak resident set (VmHWM) in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// `GET path`: `(status, body)`.
    pub fn get(&self, path: &str) -> (u16, String) {
        let response = agent(Duration::from_secs(10))
            .get(format!("http://{}{path}", self.addr))
            .call();
        match response {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.into_body().read_to_string().unwrap_or_default())
            }
            Err(e) => panic!("GET {path}: {e}"),
        }
    }

    /// A counter or gauge from `/metrics` (0 when absent).
    pub fn metric(&self, name: &str) -> u64 {
        let (_, text) = self.get("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A request of `spans` spans with ids never used before (in any test of this process),
/// each with a `pad`-byte attribute; protobuf.
pub fn batch(spans: usize, pad: usize) -> (Vec<u8>, HashSet<Vec<u8>>) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let text = "x".repeat(pad);
    let spans: Vec<Span> = (0..spans)
        .map(|_| {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            Span {
                trace_id: [&[7u8; 8][..], &n.to_be_bytes()].concat(),
                span_id: n.to_be_bytes().to_vec(),
                name: "fault".into(),
                start_time_unix_nano: 1,
                end_time_unix_nano: 2,
                attributes: vec![KeyValue {
                    key_strindex: 0,
                    key: "pad".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(text.clone())),
                    }),
                }],
                ..Span::default()
            }
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let ids = super::span_ids(&request);
    (otlp::encode(&request, Encoding::Protobuf), ids)
}

/// What one POST got: the status (0: no answer at all) and `Retry-After`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
}

/// POSTs a protobuf body once (no retry).
pub fn post(addr: &str, body: &[u8], timeout: Duration) -> Answer {
    let response = agent(timeout)
        .post(format!("http://{addr}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .send(body);
    match response {
        Ok(r) => Answer {
            status: r.status().as_u16(),
            retry_after: r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
        },
        Err(_) => Answer {
            status: 0,
            retry_after: None,
        },
    }
}
