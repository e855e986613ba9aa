//! Where relinked requests go: an upstream OTLP/HTTP endpoint and/or a file of OTLP/JSON
//! lines. Both are called outside the component lock.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use relink::otlp::Encoding;

/// How long one forward may take, connect to last byte, before the client gets a 502.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest upstream response body read (an `ExportTraceServiceResponse` is tiny).
const UPSTREAM_RESPONSE_LIMIT: u64 = 1024 * 1024;

/// An append-only file with one OTLP/JSON `ExportTraceServiceRequest` per line. Lines are
/// written whole under a lock and flushed at once, so readers never see half a line.
pub struct FileSink {
    path: PathBuf,
    writer: Mutex<BufWriter<File>>,
}

impl FileSink {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path) -> Result<FileSink, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("--out {}: cannot open for appending: {e}", path.display()))?;
        Ok(FileSink {
            path: path.to_path_buf(),
            writer: Mutex::new(BufWriter::new(file)),
        })
    }

    /// Appends one line (`json` must hold no newline) and flushes it.
    pub fn append(&self, json: &[u8]) -> Result<(), String> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| self.error("lock poisoned"))?;
        writer
            .write_all(json)
            .and_then(|()| writer.write_all(b"\n"))
            .and_then(|()| writer.flush())
            .map_err(|e| self.error(&e.to_string()))
    }

    /// Flushes and syncs to disk; called on shutdown.
    pub fn close(&self) -> Result<(), String> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| self.error("lock poisoned"))?;
        writer.flush().map_err(|e| self.error(&e.to_string()))?;
        writer
            .get_ref()
            .sync_all()
            .map_err(|e| self.error(&e.to_string()))
    }

    fn error(&self, message: &str) -> String {
        format!("--out {}: {message}", self.path.display())
    }
}

/// An upstream OTLP/HTTP traces endpoint; connections are pooled across requests.
pub struct Upstream {
    url: String,
    agent: ureq::Agent,
}

/// What the upstream answered.
pub struct UpstreamReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Upstream {
    /// `base` as checked by the options, without the `/v1/traces` path.
    pub fn new(base: &str) -> Upstream {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(UPSTREAM_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Upstream {
            url: format!("{base}/v1/traces"),
            agent,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs one request body; `Err` for a transport failure (no HTTP answer).
    pub fn send(&self, encoding: Encoding, body: &[u8]) -> Result<UpstreamReply, String> {
        let response = self
            .agent
            .post(&self.url)
            .header("content-type", encoding.content_type())
            .send(body)
            .map_err(|e| format!("upstream {}: {e}", self.url))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let body = response
            .into_body()
            .with_config()
            .limit(UPSTREAM_RESPONSE_LIMIT)
            .read_to_vec()
            .map_err(|e| format!("upstream {}: reading the response: {e}", self.url))?;
        Ok(UpstreamReply {
            status,
            content_type,
            body,
        })
    }
}
