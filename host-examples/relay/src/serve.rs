//! The server: a tokio runtime running hyper's HTTP/1 server, routing `POST /v1/traces`
//! to the [`Pipeline`], `GET /metrics` to the counters and, with `--playground`, other
//! `GET`s to the playground's files ([`Site`]), with graceful shutdown.
//!
//! Concurrency: connections and body reads are async on two runtime threads; each export
//! then runs on a blocking thread (at most `--workers` at once) because the component call,
//! gzip inflation and forwarding are synchronous. Only the component call takes the lock
//! around the single [`Relinker`], so state persists across requests while reads,
//! inflation, file writes and forwards of different requests overlap.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::component::{LoadError, Relinker};
use crate::export::{ExportRequest, Pipeline, Reply};
use crate::options::ServeOptions;
use crate::sinks::{FileSink, Upstream};
use crate::site::Site;

/// How long shutdown waits for in-flight requests before it closes their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the relay could not start or stop cleanly; `code` is the process exit code.
#[derive(Debug)]
pub struct ServeError {
    pub message: String,
    pub code: u8,
}

impl ServeError {
    fn input(message: String) -> ServeError {
        ServeError { message, code: 2 }
    }
    fn system(message: String) -> ServeError {
        ServeError { message, code: 1 }
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServeError {}

/// A running relay.
pub struct Relay {
    addr: SocketAddr,
    pipeline: Arc<Pipeline>,
    runtime: tokio::runtime::Runtime,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Loads the component and the configuration, opens the sinks and starts listening.
    pub fn start(options: &ServeOptions) -> Result<Relay, ServeError> {
        let config_json = match &options.config {
            None => "{}".to_string(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                ServeError::input(format!("--config {}: cannot read: {e}", path.display()))
            })?,
        };
        let relinker = Relinker::load(&options.component, &config_json).map_err(|e| {
            match (e, &options.config) {
                (LoadError::Config(problems), Some(path)) => ServeError::input(format!(
                    "--config {}: {}",
                    path.display(),
                    problems.join("; ")
                )),
                (other, _) => ServeError::input(other.to_string()),
            }
        })?;
        let file = options
            .out
            .as_deref()
            .map(FileSink::open)
            .transpose()
            .map_err(ServeError::input)?;
        let site = options
            .playground
            .as_deref()
            .map(Site::load)
            .transpose()
            .map_err(ServeError::input)?;
        let site = site.map(Arc::new);
        let pipeline = Arc::new(Pipeline {
            relinker: Mutex::new(relinker),
            upstream: options.upstream.as_deref().map(Upstream::new),
            file,
            metrics: Default::default(),
            max_body: options.max_body,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ServeError::system(format!("cannot start the runtime: {e}")))?;
        let listener = runtime
            .block_on(TcpListener::bind(options.listen))
            .map_err(|e| {
                ServeError::system(format!("--listen {}: cannot listen: {e}", options.listen))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::system(format!("--listen {}: {e}", options.listen)))?;
        let (stop, stopped) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(options.workers));
        let server = runtime.spawn(accept_loop(
            listener,
            pipeline.clone(),
            site,
            permits,
            stopped.clone(),
        ));
        if let Some(every) = options.log_interval {
            runtime.spawn(log_loop(pipeline.clone(), every, stopped));
        }
        Ok(Relay {
            addr,
            pipeline,
            runtime,
            stop,
            server,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts watching SIGINT and SIGTERM (from now on they no longer end the process).
    pub fn watch_signals(&self) -> Result<Signals, ServeError> {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = self.runtime.enter();
        let failed = |e: std::io::Error| ServeError::system(format!("cannot watch signals: {e}"));
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).map_err(failed)?,
            interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
        })
    }

    /// Blocks until SIGINT or SIGTERM arrives; returns the signal's name.
    pub fn wait_for(&self, signals: &mut Signals) -> &'static str {
        self.runtime.block_on(async {
            tokio::select! {
                _ = signals.terminate.recv() => "SIGTERM",
                _ = signals.interrupt.recv() => "SIGINT",
            }
        })
    }

    /// Stops accepting, lets in-flight requests finish (up to a grace period), then
    /// flushes and syncs the output file.
    pub fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let _ = self.runtime.block_on(self.server);
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        match &self.pipeline.file {
            Some(file) => file.close().map_err(ServeError::system),
            None => Ok(()),
        }
    }
}

/// The signals that stop the relay, once watched.
pub struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

/// `relink serve`: starts the relay, serves until SIGINT/SIGTERM, shuts down gracefully.
pub fn serve(options: &ServeOptions) -> Result<(), ServeError> {
    let relay = Relay::start(options)?;
    let mut signals = relay.watch_signals()?;
    let mut sinks = Vec::new();
    if let Some(url) = relay.pipeline.upstream.as_ref().map(Upstream::url) {
        sinks.push(format!("forwarding to {url}"));
    }
    if let Some(out) = &options.out {
        sinks.push(format!("appending to {}", out.display()));
    }
    if sinks.is_empty() {
        sinks.push("no --upstream or --out: relinked requests are only counted".to_string());
    }
    eprintln!(
        "relink: listening on http://{}/v1/traces with {}; {}",
        relay.local_addr(),
        options.component.display(),
        sinks.join(", ")
    );
    if let Some(dir) = &options.playground {
        eprintln!(
            "relink: playground ({}) at http://{}/",
            dir.display(),
            relay.local_addr()
        );
    }
    let signal = relay.wait_for(&mut signals);
    eprintln!("relink: {signal}: finishing in-flight requests");
    let pipeline = relay.pipeline.clone();
    relay.shutdown()?;
    eprintln!("{}", pipeline.log_line());
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    pipeline: Arc<Pipeline>,
    site: Option<Arc<Site>>,
    permits: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (pipeline, site, permits) = (pipeline.clone(), site.clone(), permits.clone());
                    let service = hyper::service::service_fn(move |request| {
                        route(request, pipeline.clone(), site.clone(), permits.clone())
                    });
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    let watched = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = watched.await;
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(e) => {
                    eprintln!("relink: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            eprintln!("relink: in-flight requests did not finish within {SHUTDOWN_GRACE:?}");
        }
    }
}

async fn log_loop(pipeline: Arc<Pipeline>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(every);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let p = pipeline.clone();
                if let Ok(line) = tokio::task::spawn_blocking(move || p.log_line()).await {
                    eprintln!("{line}");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

async fn route(
    request: Request<Incoming>,
    pipeline: Arc<Pipeline>,
    site: Option<Arc<Site>>,
    permits: Arc<Semaphore>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/traces") => export(request, pipeline.clone(), permits, false).await,
        (&Method::POST, "/v1/events") => export(request, pipeline.clone(), permits, true).await,
        (&Method::GET, "/metrics") => {
            let p = pipeline.clone();
            let text = tokio::task::spawn_blocking(move || p.prometheus()).await.unwrap_or_default();
            text_reply(200, "text/plain; version=0.0.4", text)
        }
        (_, "/v1/traces" | "/v1/events") => with_allow(text_reply(405, "text/plain", "use POST\n".into()), "POST"),
        (_, "/metrics") => with_allow(text_reply(405, "text/plain", "use GET\n".into()), "GET"),
        (&Method::GET | &Method::HEAD, path) if site.is_some() => {
            let asset = site.as_deref().and_then(|s| s.get(path));
            match asset {
                Some(asset) => static_reply(asset, request.method() == Method::HEAD),
                None => text_reply(404, "text/plain", format!("no playground file {path}\n")),
            }
        }
        _ => text_reply(
            404,
            "text/plain",
            match site {
                Some(_) => "relink serves POST /v1/traces, POST /v1/events, GET /metrics and the playground (GET /)\n",
                None => "relink serves POST /v1/traces, POST /v1/events and GET /metrics (and the playground with --playground DIR)\n",
            }
            .into(),
        ),
    };
    pipeline.metrics.response(reply.status().as_u16());
    Ok(reply)
}

/// `POST /v1/traces` (an OTLP export) or, with `raw_event`, `POST /v1/events` (a raw AWS
/// payload, answered in OTLP/JSON whatever its content type).
async fn export(
    request: Request<Incoming>,
    pipeline: Arc<Pipeline>,
    permits: Arc<Semaphore>,
    raw_event: bool,
) -> Response<Full<Bytes>> {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let (content_type, content_encoding) = (header(CONTENT_TYPE), header(CONTENT_ENCODING));
    let encoding = match raw_event {
        true => relink::otlp::Encoding::Json,
        false => match Pipeline::negotiate(content_type.as_deref()) {
            Ok(encoding) => encoding,
            Err(reply) => return http_reply(reply),
        },
    };
    let declared = header(CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if declared > pipeline.max_body as u64 {
        let message = format!(
            "request body of {declared} bytes exceeds the limit of {} bytes",
            pipeline.max_body
        );
        return http_reply(Reply::status(413, encoding, &message));
    }
    let body = match Limited::new(request.into_body(), pipeline.max_body)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            let message = format!(
                "request body exceeds the limit of {} bytes",
                pipeline.max_body
            );
            return http_reply(Reply::status(413, encoding, &message));
        }
        Err(e) => return http_reply(Reply::status(400, encoding, &format!("request body: {e}"))),
    };
    let Ok(_permit) = permits.acquire().await else {
        return http_reply(Reply::status(503, encoding, "the relay is shutting down"));
    };
    let job = move || {
        let request = ExportRequest {
            encoding,
            content_encoding: content_encoding.as_deref(),
            body,
        };
        match raw_event {
            true => pipeline.event(request),
            false => pipeline.export(request),
        }
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(reply) => http_reply(reply),
        Err(e) => http_reply(Reply::status(
            500,
            encoding,
            &format!("relink: request failed: {e}"),
        )),
    }
}

fn http_reply(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(&reply.content_type) {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

/// A playground file. `no-cache`: the browser revalidates, so a rebuilt playground shows.
fn static_reply(asset: &crate::site::Asset, head: bool) -> Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        asset.body.clone()
    };
    let mut response = Response::new(Full::new(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        hyper::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn text_reply(status: u16, content_type: &str, text: String) -> Response<Full<Bytes>> {
    http_reply(Reply {
        status,
        content_type: content_type.to_string(),
        body: text.into_bytes(),
    })
}

fn with_allow(mut response: Response<Full<Bytes>>, methods: &'static str) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(methods));
    response
}
