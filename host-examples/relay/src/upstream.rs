//! The upstream exporter: one attempt to send one batch, over OTLP/HTTP (protobuf or
//! JSON) or OTLP/gRPC, to `http://` or `https://`, and what the answer means. The senders,
//! the retry policy, the spool and the synchronous mode see only [`Answer`], the same for
//! every protocol.
//!
//! The client is hyper's pooled client on a small runtime of its own (one thread), driven
//! from the blocking sender threads with `block_on`; TLS is rustls ([`crate::upstream_tls`]).
//! OTLP/HTTP offers HTTP/1.1 and, over TLS, HTTP/2 by ALPN; OTLP/gRPC is HTTP/2 only (h2c
//! with prior knowledge on `http://`, ALPN `h2` on `https://`). A batch is encoded for the
//! wire once ([`Upstream::prepare`]: transcoded when the protocol wants the other OTLP
//! encoding, gzipped when asked) and that body is resent on every retry.

use std::sync::RwLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use relink::otlp::{self, Encoding, ExportTraceServiceResponse};

use crate::grpc::{self, GrpcStatus};
use crate::otlp_http;
use crate::retry::{self, Verdict};
use crate::upstream_config::{Compression, Protocol, UpstreamConfig};

/// The largest upstream response body read (an `ExportTraceServiceResponse` is tiny).
const UPSTREAM_RESPONSE_LIMIT: usize = 1024 * 1024;

/// What the upstream answered, shaped as an HTTP answer: synchronous mode hands the status
/// to the client (a gRPC status becomes the HTTP status that means the same to an OTLP
/// client), with its own `Status` body naming the upstream and the answer's reason.
#[derive(Debug)]
pub struct UpstreamReply {
    pub status: u16,
    /// `Retry-After`, passed on as is in synchronous mode.
    pub retry_after: Option<String>,
}

/// One attempt's outcome.
#[derive(Debug)]
pub struct Answer {
    pub verdict: Verdict,
    /// `status 503: ...` or `grpc status UNAVAILABLE: ...`, for logs.
    pub reason: String,
    /// The `dropped_total` reason when given up: `status_400`, `grpc_invalid_argument`.
    pub label: String,
    /// The server's wait (`Retry-After`, gRPC `RetryInfo`).
    pub retry_after: Option<Duration>,
    /// A delivered batch's `partial_success`: `(rejected spans, message)`.
    pub partial: Option<(i64, String)>,
    pub reply: UpstreamReply,
}

/// A batch as it goes on the wire.
pub struct Prepared {
    body: Bytes,
    encoding: Encoding,
}

type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The exporter; connections are pooled across attempts and senders.
pub struct Upstream {
    config: UpstreamConfig,
    /// Replaced after an attempt that got no answer in time. A connection that went silent
    /// (a NAT or load balancer that dropped the flow, a hung backend, an HTTP/2 handshake
    /// that never completes) would otherwise serve every later attempt: the pool keeps it,
    /// and over HTTP/2 all requests share it, so every retry would time out on it too.
    client: RwLock<Pool>,
    connector: HttpsConnector<HttpConnector>,
    handle: tokio::runtime::Handle,
    // Last: dropped after the client.
    _runtime: ClientRuntime,
}

/// A connection pool: HTTP/2 only for gRPC, idle connections closed after 90 s.
fn pool(connector: &HttpsConnector<HttpConnector>, grpc: bool) -> Pool {
    Client::builder(TokioExecutor::new())
        .http2_only(grpc)
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector.clone())
}

/// The client's runtime, shut down without blocking (the last `Arc<Upstream>` may be
/// dropped on a thread of the server's runtime, where a blocking shutdown panics).
struct ClientRuntime(Option<tokio::runtime::Runtime>);

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Upstream {
    /// Builds the client: reads the TLS files, starts the client runtime.
    pub fn new(config: &UpstreamConfig) -> Result<Upstream, String> {
        let tls = match config.is_https() {
            true => crate::upstream_tls::client_config(&config.tls)?,
            false => crate::upstream_tls::unused_config()?,
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        // A peer that vanished without a FIN is noticed on an idle pooled connection too.
        http.set_keepalive(Some(Duration::from_secs(30)));
        http.set_connect_timeout(Some(config.timeout));
        let builder = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let grpc = config.protocol == Some(Protocol::Grpc);
        let connector = match grpc {
            true => builder.enable_http2().wrap_connector(http),
            false => builder.enable_http1().enable_http2().wrap_connector(http),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("relink-upstream")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the upstream client: {e}"))?;
        Ok(Upstream {
            config: config.clone(),
            client: RwLock::new(pool(&connector, grpc)),
            connector,
            handle: runtime.handle().clone(),
            _runtime: ClientRuntime(Some(runtime)),
        })
    }

    /// The request URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Encodes a batch for the wire: the protocol's encoding (a batch kept in another one
    /// is transcoded), then gzip when asked. `Err` when the batch does not decode for
    /// transcoding (it would fail on every retry).
    /// The body is taken, not copied, when it goes as it is.
    pub fn prepare(&self, encoding: Encoding, body: Bytes) -> Result<Prepared, String> {
        let wire = match self.config.protocol {
            None => encoding,
            Some(Protocol::Grpc | Protocol::HttpProtobuf) => Encoding::Protobuf,
            Some(Protocol::HttpJson) => Encoding::Json,
        };
        let encoded = match wire == encoding {
            true => body,
            false => otlp::encode(
                &otlp::decode(&body, encoding)
                    .map_err(|e| format!("cannot transcode the batch: {e}"))?,
                wire,
            )
            .into(),
        };
        let gzipped = self.config.compression == Compression::Gzip;
        let body = match (self.config.protocol, gzipped) {
            (Some(Protocol::Grpc), _) => grpc::frame(&encoded, gzipped).into(),
            (_, true) => otlp::gzip(&encoded).into(),
            // The queued batch's own buffer, shared.
            (_, false) => encoded,
        };
        Ok(Prepared {
            body,
            encoding: wire,
        })
    }

    /// How long one attempt may take (`--upstream-timeout`).
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// One attempt. `Err` for a transport failure: no answer at all (the caller names the
    /// upstream).
    pub fn send(&self, prepared: &Prepared) -> Result<Answer, String> {
        let exchange = self.handle.block_on(self.exchange(prepared))?;
        Ok(match self.config.protocol {
            Some(Protocol::Grpc) => self.grpc_answer(exchange),
            _ => http_answer(exchange, prepared.encoding),
        })
    }

    /// `prepare` and one `send`, for synchronous mode; the error names the upstream.
    pub fn send_once(&self, encoding: Encoding, body: Vec<u8>) -> Result<Answer, String> {
        self.prepare(encoding, body.into())
            .and_then(|prepared| self.send(&prepared))
            .map_err(|e| format!("upstream {}: {e}", self.config.url))
    }

    async fn exchange(&self, prepared: &Prepared) -> Result<Exchange, String> {
        let grpc = self.config.protocol == Some(Protocol::Grpc);
        let mut request = hyper::Request::post(&self.config.url).header(
            "user-agent",
            concat!("relink-relay/", env!("CARGO_PKG_VERSION")),
        );
        request = match grpc {
            true => request
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .header("grpc-accept-encoding", "gzip")
                .header(
                    "grpc-timeout",
                    format!("{}m", self.config.timeout.as_millis().min(99_999_999)),
                ),
            false => request.header("content-type", prepared.encoding.content_type()),
        };
        if self.config.compression == Compression::Gzip {
            request = request.header(
                if grpc {
                    "grpc-encoding"
                } else {
                    "content-encoding"
                },
                "gzip",
            );
        }
        for (name, value) in self.config.headers.iter() {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(prepared.body.clone()))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let no_answer = || {
            format!(
                "no answer within --upstream-timeout {:?}",
                self.config.timeout
            )
        };
        let client = match self.client.read() {
            Ok(client) => client.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let response = match tokio::time::timeout_at(deadline, client.request(request)).await {
            Ok(answered) => answered.map_err(|e| self.transport_error(&e))?,
            Err(_) => {
                self.renew();
                return Err(no_answer());
            }
        };
        let (parts, body) = response.into_parts();
        let collect = Limited::new(body, UPSTREAM_RESPONSE_LIMIT).collect();
        let collected = match tokio::time::timeout_at(deadline, collect).await {
            Ok(collected) => collected.map_err(|e| error_chain(&*e)),
            Err(_) => {
                self.renew();
                Err(format!(
                    "the body did not arrive within --upstream-timeout {:?}",
                    self.config.timeout
                ))
            }
        };
        let (trailers, body, unread) = match collected {
            Ok(c) => (c.trailers().cloned(), c.to_bytes().to_vec(), None),
            // OTLP/HTTP: the status line is the answer. A 2xx whose body is too long, cut
            // short or too slow was still accepted (sending it again would deliver it
            // twice), and a 400 still refused it; only what the body said is lost.
            Err(e) if !grpc => (None, Vec::new(), Some(e)),
            // gRPC: the status is in the trailers, which come after the body.
            Err(e) => return Err(format!("reading the response: {e}")),
        };
        Ok(Exchange {
            status: parts.status.as_u16(),
            headers: parts.headers,
            trailers,
            body,
            unread,
        })
    }

    /// A new pool for the next attempts, so they connect afresh; requests still on the old
    /// one finish or time out there.
    fn renew(&self) {
        let grpc = self.config.protocol == Some(Protocol::Grpc);
        let fresh = pool(&self.connector, grpc);
        match self.client.write() {
            Ok(mut client) => *client = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
    }

    /// The error with its causes (hyper says "client error (Connect)"; rustls says which
    /// certificate check failed) and a hint for a TLS trust failure.
    fn transport_error(&self, e: &hyper_util::client::legacy::Error) -> String {
        let text = error_chain(e);
        match self.config.is_https() && text.contains("certificate") {
            true => format!("{text} (TLS: the upstream's certificate is not trusted by --upstream-ca or the system roots, or does not name the host)"),
            false => text,
        }
    }

    fn grpc_answer(&self, exchange: Exchange) -> Answer {
        let field = |map: &HeaderMap, name: &str| {
            map.get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let status = exchange
            .trailers
            .as_ref()
            .and_then(|t| GrpcStatus::from_fields(&|n| field(t, n)))
            .or_else(|| GrpcStatus::from_fields(&|n| field(&exchange.headers, n)))
            .unwrap_or_else(|| match exchange.status {
                200 => GrpcStatus {
                    code: grpc::INTERNAL,
                    message: "the response has no grpc-status".into(),
                    retry_delay: None,
                },
                other => GrpcStatus::from_http(other),
            });
        let verdict = status.verdict();
        let partial = match verdict {
            Verdict::Delivered => {
                let encoding = field(&exchange.headers, "grpc-encoding");
                grpc::unframe(&exchange.body, encoding.as_deref(), UPSTREAM_RESPONSE_LIMIT)
                    .ok()
                    .flatten()
                    .and_then(|m| ExportTraceServiceResponse::decode(m.as_slice()).ok())
                    .and_then(|r| r.partial_success)
                    .map(|p| (p.rejected_spans, p.error_message))
            }
            _ => None,
        };
        Answer {
            verdict,
            label: format!("grpc_{}", grpc::code_name(status.code).to_ascii_lowercase()),
            retry_after: status.retry_delay,
            partial,
            reply: UpstreamReply {
                status: status.http_status(),
                // Whole seconds, rounded up, as Retry-After counts.
                retry_after: status
                    .retry_delay
                    .map(|d| (d.as_secs() + u64::from(d.subsec_nanos() > 0)).to_string()),
            },
            reason: status.describe(),
        }
    }
}

/// A response as read: status, headers, trailers (gRPC) and body.
struct Exchange {
    status: u16,
    headers: HeaderMap,
    trailers: Option<HeaderMap>,
    body: Vec<u8>,
    /// Why the body could not be read (OTLP/HTTP only; the status still decides).
    unread: Option<String>,
}

/// An OTLP/HTTP answer: the status decides; a 2xx body may carry a partial success, in
/// the encoding its content type names (else the one sent).
fn http_answer(exchange: Exchange, sent: Encoding) -> Answer {
    let header = |name: &str| {
        exchange
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let (content_type, retry_after) = (header("content-type"), header("retry-after"));
    let status = exchange.status;
    let verdict = retry::verdict(status);
    let partial = match verdict {
        Verdict::Delivered => {
            let encoding = content_type
                .as_deref()
                .and_then(Encoding::from_content_type)
                .unwrap_or(sent);
            otlp_http::partial_success_of(encoding, &exchange.body)
        }
        _ => None,
    };
    // The message of an OTLP `Status` body, else the start of the body as text (a proxy's
    // error page).
    let answered = content_type
        .as_deref()
        .and_then(Encoding::from_content_type);
    let text: String = answered
        .and_then(|encoding| otlp_http::status_message_of(encoding, &exchange.body))
        .unwrap_or_else(|| String::from_utf8_lossy(&exchange.body).into_owned())
        .chars()
        .take(200)
        .collect();
    let reason = match (text.is_empty(), &exchange.unread) {
        (_, Some(unread)) => format!("status {status} (answer body not read: {unread})"),
        (true, None) => format!("status {status}"),
        (false, None) => format!("status {status}: {text}"),
    };
    Answer {
        verdict,
        reason,
        label: format!("status_{status}"),
        retry_after: retry_after
            .as_deref()
            .and_then(|v| retry::parse_retry_after(v, std::time::SystemTime::now())),
        partial,
        reply: UpstreamReply {
            status,
            retry_after,
        },
    }
}

/// An error and its sources, each once.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}
