//! Accepting connections within a cap, on the OTLP/HTTP and the gRPC listener (one cap for
//! both), with TLS when configured and HTTP/1.1 or HTTP/2 (hyper-util's auto server: h2c
//! with prior knowledge, or `h2` chosen by ALPN). Every connection is registered with whether it is
//! in a request; hyper's header-read timeout (which starts whenever a connection waits for
//! a request, so it also ends idle keep-alive connections) bounds slow or silent clients.
//!
//! At the cap, as nginx does when it runs out of connections, the longest-idle connection
//! that is not in a request (a keep-alive connection or one still dribbling headers) is
//! closed to make room; if every connection is in a request, the new one is answered 503
//! with `Retry-After` and closed. So idle or slowloris connections cannot lock a new client
//! out, and the relay never runs out of file descriptors (the cap is kept 64 under the
//! process's limit).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use std::convert::Infallible;

use http_body_util::Either;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::metrics::Event;
use crate::routes::{metrics_text, route, Shared, METRICS_TYPE};
use crate::tls::TlsReceiver;

/// A connection is idle enough to be closed for a newcomer after this long without a
/// request (so a response just written has left).
const EVICTABLE_AFTER: Duration = Duration::from_secs(1);

/// hyper's read buffer per connection (headers must fit; bodies stream through it), so a
/// full house of connections holds at most `--max-connections` x 32 KiB.
const READ_BUFFER: usize = 32 * 1024;

struct Entry {
    in_request: usize,
    idle_since: Instant,
    close: Arc<Notify>,
}

/// The registry of open connections.
pub struct Connections {
    cap: usize,
    /// The soft open-files limit when it lowered the cap asked for.
    lowered_by: Option<usize>,
    entries: Mutex<(u64, BTreeMap<u64, Entry>)>,
}

/// One registered connection; unregisters on drop.
pub struct Connection {
    registry: Arc<Connections>,
    id: u64,
    pub close: Arc<Notify>,
}

/// Marks a connection as in a request while it lives.
pub struct InRequest {
    registry: Arc<Connections>,
    id: u64,
}

impl Connections {
    /// `cap` connections, lowered to 64 under the open-files limit.
    pub fn new(asked: usize) -> Arc<Connections> {
        let limit = open_files_limit();
        let cap = match limit {
            Some(limit) => asked.min(limit.saturating_sub(64).max(1)),
            None => asked,
        };
        Arc::new(Connections {
            cap,
            lowered_by: limit.filter(|_| cap < asked),
            entries: Mutex::default(),
        })
    }

    /// The open-files limit, when it lowered the cap asked for.
    pub fn lowered_by(&self) -> Option<usize> {
        self.lowered_by
    }

    fn lock(&self) -> MutexGuard<'_, (u64, BTreeMap<u64, Entry>)> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn open(&self) -> usize {
        self.lock().1.len()
    }

    /// Registers a new connection, closing the longest-idle one at the cap; `None` when
    /// every connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Connection> {
        let mut guard = self.lock();
        let (next, entries) = &mut *guard;
        if entries.len() >= self.cap {
            let victim = entries
                .iter()
                .filter(|(_, e)| e.in_request == 0 && e.idle_since.elapsed() >= EVICTABLE_AFTER)
                .min_by_key(|(_, e)| e.idle_since)
                .map(|(id, _)| *id)?;
            if let Some(entry) = entries.remove(&victim) {
                entry.close.notify_one();
            }
        }
        *next += 1;
        let close = Arc::new(Notify::new());
        entries.insert(
            *next,
            Entry {
                in_request: 0,
                idle_since: Instant::now(),
                close: close.clone(),
            },
        );
        Some(Connection {
            registry: self.clone(),
            id: *next,
            close,
        })
    }
}

impl Connection {
    /// Marks the connection busy until the returned guard is dropped.
    pub fn begin(&self) -> InRequest {
        if let Some(entry) = self.registry.lock().1.get_mut(&self.id) {
            entry.in_request += 1;
        }
        InRequest {
            registry: self.registry.clone(),
            id: self.id,
        }
    }

    /// How long the connection has been between requests; `None` while in one.
    pub fn idle_for(&self) -> Option<Duration> {
        let guard = self.registry.lock();
        let entry = guard.1.get(&self.id)?;
        (entry.in_request == 0).then(|| entry.idle_since.elapsed())
    }

    /// Whether the connection is in a request (then it is never closed for a newcomer).
    pub fn is_busy(&self) -> bool {
        self.registry
            .lock()
            .1
            .get(&self.id)
            .is_some_and(|e| e.in_request > 0)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.registry.lock().1.remove(&self.id);
    }
}

impl Drop for InRequest {
    fn drop(&mut self) {
        if let Some(entry) = self.registry.lock().1.get_mut(&self.id) {
            entry.in_request = entry.in_request.saturating_sub(1);
            entry.idle_since = Instant::now();
        }
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP (and the other HTTP routes) over HTTP/1.1 or HTTP/2; a gRPC request that
    /// arrives here is served as on the gRPC port.
    OtlpHttp,
    /// OTLP/gRPC, HTTP/2 only.
    OtlpGrpc,
}

/// One listening socket's protocol and TLS.
pub struct Endpoint {
    pub protocol: Protocol,
    pub tls: Option<TlsReceiver>,
}

/// The HTTP/2 limits: a window of 64 KiB per stream and per connection (HTTP/2's own
/// default) keeps what a connection can buffer at what HTTP/1.1 buffers, so the memory
/// bound holds whatever the protocol; 100 concurrent streams as gRPC servers commonly
/// allow; request headers at most 16 KiB like the HTTP/1.1 read buffer.
const H2_WINDOW: u32 = 64 * 1024;
const H2_MAX_STREAMS: u32 = 100;
const H2_MAX_HEADER_LIST: u32 = 16 * 1024;

/// Accepts connections until `stop`, serving each on its own task.
pub async fn accept_loop(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared>,
    registry: Arc<Connections>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match registry.admit() {
                    Some(connection) => {
                        let (endpoint, shared, stop) = (endpoint.clone(), shared.clone(), stop.clone());
                        tokio::spawn(serve(stream, connection, endpoint, shared, header_timeout, stop));
                    }
                    None => {
                        shared.pipeline.metrics.refused("connections");
                        // An HTTP/1.1 answer only where a plain HTTP/1.1 client may be
                        // listening; TLS and gRPC clients see the connection close, which
                        // they retry (gRPC: UNAVAILABLE).
                        if endpoint.protocol == Protocol::OtlpHttp && endpoint.tls.is_none() {
                            tokio::spawn(refuse(stream, shared.clone()));
                        }
                    }
                },
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    eprintln!("relink: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
}

/// One connection: the TLS handshake first (within the header timeout), then HTTP.
async fn serve(
    stream: TcpStream,
    connection: Connection,
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared>,
    header_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let Some(tls) = &endpoint.tls else {
        return serve_http(
            TokioIo::new(stream),
            connection,
            endpoint.protocol,
            shared,
            header_timeout,
            stop,
        )
        .await;
    };
    match tokio::time::timeout(header_timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => {
            serve_http(
                TokioIo::new(stream),
                connection,
                endpoint.protocol,
                shared,
                header_timeout,
                stop,
            )
            .await
        }
        // A client that does not trust the certificate, or has none under mTLS: its TLS
        // stack reports the alert; the relay counts it (one line per failure would let
        // any scanner fill the log).
        Ok(Err(_)) | Err(_) => shared.pipeline.metrics.count(Event::TlsHandshakeFailed),
    }
}

/// HTTP on an accepted (maybe TLS) connection: served until the client closes it, the
/// header timeout ends it (HTTP/1.1: hyper's header timer; HTTP/2: no stream for that
/// long), a newcomer needs its slot (only while it is between requests) or the relay
/// stops (then the requests in progress are answered first).
async fn serve_http<I>(
    io: TokioIo<I>,
    connection: Connection,
    protocol: Protocol,
    shared: Arc<Shared>,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(connection);
    let in_service = connection.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = in_service.begin();
        let shared = shared.clone();
        async move {
            let grpc = protocol == Protocol::OtlpGrpc || crate::grpc::receiver::is_grpc(&request);
            shared
                .pipeline
                .metrics
                .request(match (grpc, request.version()) {
                    (true, _) => "grpc",
                    (false, hyper::Version::HTTP_2) => "http2",
                    (false, _) => "http1",
                });
            let response = match grpc {
                true => crate::grpc::receiver::route(request, shared)
                    .await
                    .map(Either::Right),
                false => match route(request, shared).await {
                    Ok(response) => response.map(Either::Left),
                    Err(never) => match never {},
                },
            };
            drop(guard);
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // A client may shut its write side once its request is sent (HTTP/1.0 tools do):
        // it still gets its answer, instead of the batch going on unanswered and being
        // sent again by the client.
        .half_close(true)
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(READ_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .initial_stream_window_size(H2_WINDOW)
        .initial_connection_window_size(H2_WINDOW)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST);
    if protocol == Protocol::OtlpGrpc {
        builder = builder.http2_only();
    }
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    let mut idle_check = tokio::time::interval(header_timeout.min(Duration::from_secs(1)));
    // HTTP/2's graceful shutdown waits for the client to answer a PING before it closes;
    // a client that never does would keep its slot. So a connection told to go away is
    // dropped once it is idle and has had `header_timeout` to leave.
    let mut leave_by = stopping.then(|| Instant::now() + header_timeout);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = connection.close.notified() => {
                if !connection.is_busy() {
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                    leave_by = Some(Instant::now() + header_timeout);
                }
            }
            _ = idle_check.tick() => match leave_by {
                Some(at) => {
                    if Instant::now() >= at && !connection.is_busy() {
                        return;
                    }
                }
                None => {
                    if connection.idle_for().is_some_and(|idle| idle >= header_timeout) {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                        leave_by = Some(Instant::now() + header_timeout);
                    }
                }
            },
        }
    }
}

/// Answers a connection over the cap with 503 and closes it. The request is read (a
/// little, briefly) before closing, so the client sees the answer rather than a reset.
/// The liveness probe and the metrics scrape are answered even so: a relay at its
/// connection cap is alive and busy, and that is when its metrics are wanted (`/ready` is
/// the 503: it is not ready for more).
pub async fn refuse(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut head = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut head)).await;
    let head = match read {
        Ok(Ok(n)) => head.get(..n).unwrap_or_default(),
        _ => &[],
    };
    const BUSY: &str = "relink: too many connections; retry later";
    let (status, content_type, body) = match (probe(head), export_encoding(head)) {
        (Some("/health"), _) => ("200 OK", "text/plain", b"ok\n".to_vec()),
        (Some("/metrics"), _) => ("200 OK", METRICS_TYPE, metrics_text(&shared).await.into()),
        // An OTLP/HTTP export gets the `Status` OTLP/HTTP requires, in its own encoding.
        (_, Some(encoding)) => (
            "503 Service Unavailable\r\nRetry-After: 1",
            encoding.content_type(),
            crate::otlp_http::status_body(encoding, BUSY),
        ),
        (_, None) => (
            "503 Service Unavailable\r\nRetry-After: 1",
            "text/plain",
            format!("{BUSY}\n").into_bytes(),
        ),
    };
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let _ = stream.write_all(&answer).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        let mut total = 0;
        while let Ok(n) = stream.read(&mut sink).await {
            total += n;
            if n == 0 || total > 1 << 20 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The encoding of an HTTP/1.x `POST` whose head names an OTLP content type.
fn export_encoding(head: &[u8]) -> Option<relink::otlp::Encoding> {
    if !head.starts_with(b"POST ") {
        return None;
    }
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix("content-type:"))?
        .trim();
    if value.starts_with("application/x-protobuf") {
        Some(relink::otlp::Encoding::Protobuf)
    } else if value.starts_with("application/json") {
        Some(relink::otlp::Encoding::Json)
    } else {
        None
    }
}

/// The path of an HTTP/1.x `GET` request for a probe route, from the start of its head.
fn probe(head: &[u8]) -> Option<&'static str> {
    ["/health", "/metrics"].into_iter().find(|path| {
        head.strip_prefix(b"GET ")
            .and_then(|rest| rest.strip_prefix(path.as_bytes()))
            .is_some_and(|rest| rest.starts_with(b" ") || rest.starts_with(b"?"))
    })
}

/// The soft open-files limit, from `/proc/self/limits` (Linux).
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_idle_connection_makes_room() {
        let registry = Arc::new(Connections {
            cap: 2,
            lowered_by: None,
            entries: Mutex::default(),
        });
        let old = registry.admit();
        let busy = registry.admit();
        let (Some(old), Some(busy)) = (old, busy) else {
            panic!("not admitted")
        };
        let _request = busy.begin();
        assert!(busy.is_busy());
        // Nobody idle long enough yet: refused.
        assert!(registry.admit().is_none());
        if let Some(entry) = registry.lock().1.get_mut(&old.id) {
            entry.idle_since -= EVICTABLE_AFTER;
        }
        let newcomer = registry.admit();
        assert!(newcomer.is_some());
        assert_eq!(registry.open(), 2);
        assert!(!registry.lock().1.contains_key(&old.id));
        assert!(open_files_limit().is_some());
    }
}
