//! A scripted loopback upstream over HTTP/2 (h2c, or TLS with ALPN `h2` and optionally a
//! required client certificate), speaking OTLP/gRPC or OTLP/HTTP. Built on the `h2` crate
//! so the test controls the frames: a Trailers-Only answer is one HEADERS frame with
//! END_STREAM, a normal one is headers, a message, then trailers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use hyper::http::{HeaderMap, HeaderValue, Request, Response};
use relink::otlp::{self, Encoding};
use relink_relay::grpc;
use tokio_rustls::TlsAcceptor;

/// What the upstream answers to one request.
#[derive(Clone, Debug)]
pub enum Script {
    /// gRPC OK with a response message carrying `partial_success` when not `(0, "")`.
    GrpcOk(i64, &'static str),
    /// A gRPC status, with a RetryInfo delay, as Trailers-Only or after headers.
    GrpcStatus {
        code: u32,
        retry: Option<Duration>,
        trailers_only: bool,
    },
    /// An HTTP status with an OTLP/HTTP body (protobuf) for OTLP/HTTP.
    Http(u16),
    /// HTTP 200 with a `partial_success` (OTLP/JSON).
    HttpPartial(i64, &'static str),
}

/// One request received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: HeaderMap,
    /// The body as received (still framed for gRPC).
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The OTLP request in it: unframed (gRPC) and inflated.
    pub fn request(&self) -> otlp::ExportTraceServiceRequest {
        let message = match self.header("content-type") {
            Some("application/grpc") => {
                grpc::unframe(&self.body, self.header("grpc-encoding"), 64 << 20)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .unwrap_or_default()
            }
            _ if self.header("content-encoding") == Some("gzip") => {
                otlp::gunzip(&self.body, 64 << 20).unwrap_or_else(|e| panic!("{e}"))
            }
            _ => self.body.clone(),
        };
        let encoding = match self.header("content-type") {
            Some("application/json") => Encoding::Json,
            _ => Encoding::Protobuf,
        };
        otlp::decode(&message, encoding).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A required header: a request without it gets 401 / UNAUTHENTICATED.
pub type Required = Option<(&'static str, &'static str)>;

pub struct H2Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: Runtime,
}

struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.shutdown_background();
        }
    }
}

impl H2Upstream {
    /// Starts on 127.0.0.1; answers follow `script`, then `GrpcOk(0, "")` / `Http(200)`.
    pub fn start(script: Vec<Script>, tls: Option<TlsAcceptor>, required: Required) -> H2Upstream {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let shared = (seen.clone(), script);
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (shared, tls) = (shared.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, shared, required).await;
                            }
                        }
                        None => serve(tcp, shared, required).await,
                    }
                });
            }
        });
        H2Upstream {
            port,
            seen,
            _runtime: Runtime(Some(runtime)),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (at most 30 s) until `n` requests arrived.
    pub fn wait_seen(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen();
            if seen.len() >= n || Instant::now() > deadline {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

type Shared = (Arc<Mutex<Vec<Seen>>>, Arc<Mutex<VecDeque<Script>>>);

async fn serve<T>(io: T, shared: Shared, required: Required)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut connection) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, respond))) = connection.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = answer(request, respond, shared, required).await;
        });
    }
}

async fn answer(
    request: Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    (seen, script): Shared,
    required: Required,
) -> Result<(), h2::Error> {
    let (parts, mut body) = request.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let grpc = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v == "application/grpc");
    if let Ok(mut seen) = seen.lock() {
        seen.push(Seen {
            at: Instant::now(),
            path: parts.uri.path().to_string(),
            headers: parts.headers.clone(),
            body: bytes,
        });
    }
    let authorized =
        required.is_none_or(|(name, value)| parts.headers.get(name).is_some_and(|v| v == value));
    let next = match (authorized, grpc) {
        (false, true) => Script::GrpcStatus {
            code: grpc::UNAUTHENTICATED,
            retry: None,
            trailers_only: true,
        },
        (false, false) => Script::Http(401),
        _ => script
            .lock()
            .ok()
            .and_then(|mut s| s.pop_front())
            .unwrap_or(match grpc {
                true => Script::GrpcOk(0, ""),
                false => Script::Http(200),
            }),
    };
    match next {
        Script::GrpcOk(rejected, message) => {
            let response = Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap_or_default();
            let mut send = respond.send_response(response, false)?;
            let body = otlp::encode_response(rejected, message, Encoding::Protobuf);
            send.send_data(Bytes::from(grpc::frame(&body, false)), false)?;
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            send.send_trailers(trailers)?;
        }
        Script::GrpcStatus {
            code,
            retry,
            trailers_only,
        } => {
            let mut fields = HeaderMap::new();
            let value = |s: String| HeaderValue::from_str(&s).unwrap_or_else(|e| panic!("{e}"));
            fields.insert("grpc-status", value(code.to_string()));
            fields.insert(
                "grpc-message",
                value(format!("scripted%20{}", grpc::code_name(code))),
            );
            if let Some(delay) = retry {
                fields.insert(
                    "grpc-status-details-bin",
                    value(grpc::retry_info_details(code, "", delay)),
                );
            }
            let mut response = Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap_or_default();
            if trailers_only {
                response.headers_mut().extend(fields);
                respond.send_response(response, true)?;
            } else {
                let mut send = respond.send_response(response, false)?;
                send.send_trailers(fields)?;
            }
        }
        Script::HttpPartial(rejected, message) => {
            let response = Response::builder()
                .header("content-type", "application/json")
                .body(())
                .unwrap_or_default();
            let mut send = respond.send_response(response, false)?;
            let body = otlp::encode_response(rejected, message, Encoding::Json);
            send.send_data(Bytes::from(body), true)?;
        }
        Script::Http(status) => {
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/x-protobuf")
                .body(())
                .unwrap_or_default();
            let mut send = respond.send_response(response, false)?;
            let body = match status {
                200 => otlp::encode_response(0, "", Encoding::Protobuf),
                _ => b"\x12\x0bwrong key!!".to_vec(),
            };
            send.send_data(Bytes::from(body), true)?;
        }
    }
    Ok(())
}
