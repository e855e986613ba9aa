//! The upstream OTLP/HTTP endpoint: one attempt to send one batch, its answer with the
//! `Retry-After` the retry policy and the synchronous mode need.

use std::time::{Duration, SystemTime};

use relink::otlp::Encoding;

/// The largest upstream response body read (an `ExportTraceServiceResponse` is tiny).
const UPSTREAM_RESPONSE_LIMIT: u64 = 1024 * 1024;

/// An upstream OTLP/HTTP traces endpoint; connections are pooled across requests.
pub struct Upstream {
    url: String,
    agent: ureq::Agent,
}

/// What the upstream answered.
pub struct UpstreamReply {
    pub status: u16,
    pub content_type: Option<String>,
    /// The raw `Retry-After` header, passed on as is in synchronous mode.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl UpstreamReply {
    /// The upstream's `Retry-After` as a wait.
    pub fn retry_after_delay(&self) -> Option<Duration> {
        let value = self.retry_after.as_deref()?;
        crate::retry::parse_retry_after(value, SystemTime::now())
    }
}

impl Upstream {
    /// `base` as checked by the options, without the `/v1/traces` path.
    /// `timeout` bounds one attempt, connect to last byte.
    pub fn new(base: &str, timeout: Duration) -> Upstream {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
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
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let (content_type, retry_after) = (header("content-type"), header("retry-after"));
        let body = response
            .into_body()
            .with_config()
            .limit(UPSTREAM_RESPONSE_LIMIT)
            .read_to_vec()
            .map_err(|e| format!("upstream {}: reading the response: {e}", self.url))?;
        Ok(UpstreamReply {
            status,
            content_type,
            retry_after,
            body,
        })
    }
}
