//! The relay process: loads the component, opens the outputs (sending queue, senders,
//! spool and its replay, the `--out` writer), runs hyper's HTTP/1.1 and HTTP/2 server (the
//! OTLP/HTTP and the OTLP/gRPC listener, TLS when configured) on a two-thread
//! tokio runtime, and shuts down in order: stop accepting, answer every request already
//! read, drain the queues until `--shutdown-timeout`, keep the rest in the spool, and say
//! what was not delivered.
//!
//! Concurrency: connections and body reads are async; each export then runs on a blocking
//! thread (at most `--workers` at once) because inflation and the component call are
//! synchronous. Only the component call takes the lock around the [`Relinker`] that holds
//! the state, so state persists across requests; while it is busy, a request's evidence
//! is read on one of `--readers` other instances (`Pipeline::relink`). Delivery runs on
//! its own threads ([`crate::sender`], [`crate::outfile`]) from byte-bounded queues, so
//! clients are answered at queue speed.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::admission::Admission;
use crate::auth::BearerToken;
use crate::component::{LoadError, LoadedComponent, Relinker};
use crate::connections::{Connections, Endpoint, Protocol};
use crate::delivery::{Leftover, Outputs};
use crate::export::Pipeline;
use crate::metrics::{Event, RelayMetrics};
use crate::options::GrpcListen;
use crate::options::ServeOptions;
use crate::routes::Shared;
use crate::site::Site;
use crate::tls::TlsReceiver;

/// Why the relay could not start or stop cleanly; `code` is the process exit code.
#[derive(Debug)]
pub struct ServeError {
    pub message: String,
    pub code: u8,
}

impl ServeError {
    pub(crate) fn input(message: String) -> ServeError {
        ServeError { message, code: 2 }
    }
    pub(crate) fn system(message: String) -> ServeError {
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
    shared: Arc<Shared>,
    connections: Arc<Connections>,
    runtime: tokio::runtime::Runtime,
    stop: watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    /// The OTLP/HTTP and (when on) the gRPC listener, for TLS reloads.
    endpoints: Vec<Arc<Endpoint>>,
    grpc_addr: Option<SocketAddr>,
    /// Why the default gRPC address was not taken.
    pub grpc_skipped: Option<String>,
    /// Settings the machine lowered (`--readers` past `--workers` - 1, `--max-connections`
    /// past the open-files limit), each as the line `relink serve` prints at start.
    pub lowered: Vec<String>,
    shutdown_timeout: Duration,
    /// How long before the shutdown deadline requests still waiting for a worker are
    /// answered 503: in synchronous mode a worker holds a request for up to
    /// --upstream-timeout, so one given a worker later could not be answered in time.
    worker_cutoff: Duration,
    spool_dir: Option<std::path::PathBuf>,
}

impl Relay {
    /// Loads the component and the configuration, opens the outputs and starts listening.
    pub fn start(options: &ServeOptions) -> Result<Relay, ServeError> {
        crate::memory::tune_allocator();
        ignore_file_size_signal();
        let config_json = match &options.config {
            None => "{}".to_string(),
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                ServeError::input(format!("--config {}: cannot read: {e}", path.display()))
            })?,
        };
        // The component reports a configuration it refuses; one it accepts is checked
        // against the guest memory the relay gives it.
        crate::component::request_fits(options.max_body).map_err(ServeError::input)?;
        if let Ok(config) = ::relink::config::Config::from_json(&config_json) {
            crate::component::state_fits(&config, options.max_body).map_err(|e| {
                let source = match &options.config {
                    Some(path) => format!("--config {}", path.display()),
                    None => "the default configuration".to_string(),
                };
                ServeError::input(format!("{source}: {e}"))
            })?;
        }
        let loaded = LoadedComponent::load(&options.component);
        // The instance holding the state, then the readers (one per worker beyond the
        // first: more could never all be busy).
        let readers = options.readers.min(options.workers.saturating_sub(1));
        let mut lowered = Vec::new();
        if readers < options.readers {
            lowered.push(format!(
                "--readers {} lowered to {readers}: at most --workers ({}) - 1 can be busy",
                options.readers, options.workers
            ));
        }
        let instances = loaded.and_then(|loaded| {
            (0..=readers)
                .map(|_| loaded.processor(&config_json))
                .collect::<Result<Vec<Relinker>, LoadError>>()
        });
        let instances = instances.map_err(|e| match (e, &options.config) {
            (LoadError::Config(problems), Some(path)) => ServeError::input(format!(
                "--config {}: {}",
                path.display(),
                problems.join("; ")
            )),
            (other, _) => ServeError::input(other.to_string()),
        })?;
        let site = options
            .playground
            .as_deref()
            .map(Site::load)
            .transpose()
            .map_err(ServeError::input)?;
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
        let (grpc_listener, grpc_skipped) = bind_grpc(&runtime, options.receivers.grpc_listen)?;
        let grpc_addr = grpc_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(|e| ServeError::system(format!("--grpc-listen: {e}")))?;
        // Checked before the outputs open (and the spool replays into the queue).
        if let Some(upstream) = &options.upstream {
            if upstream.is_one_of(
                &[Some(addr), grpc_addr]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            ) {
                return Err(ServeError::input(format!(
                    "the upstream {} is this relay's own listener: every batch would loop \
                     back in (an OTEL_EXPORTER_OTLP_ENDPOINT meant for SDKs?); name the real \
                     upstream with --upstream",
                    upstream.url
                )));
            }
        }
        let metrics = Arc::new(RelayMetrics::default());
        let outputs = Outputs::open(options, &metrics)?;
        let mut instances = instances.into_iter().map(Mutex::new);
        let relinker = instances
            .next()
            .ok_or_else(|| ServeError::system("no component instance".to_string()))?;
        let pipeline = Arc::new(Pipeline {
            relinker,
            readers: instances.collect(),
            outputs,
            metrics,
            max_body: options.max_body,
        });
        let r = &options.receivers;
        let tls = |alpn| {
            r.tls
                .as_ref()
                .map(|files| TlsReceiver::load(files, alpn))
                .transpose()
                .map_err(ServeError::input)
        };
        let mut endpoints = vec![Arc::new(Endpoint {
            protocol: Protocol::OtlpHttp,
            tls: tls(crate::tls::ALPN_HTTP)?,
        })];
        if grpc_listener.is_some() {
            endpoints.push(Arc::new(Endpoint {
                protocol: Protocol::OtlpGrpc,
                tls: tls(crate::tls::ALPN_GRPC)?,
            }));
        }
        let bearer = r
            .bearer_token_file
            .as_deref()
            .map(BearerToken::load)
            .transpose()
            .map_err(ServeError::input)?
            .map(Arc::new);
        let a = &options.admission;
        let connections = Connections::new(a.max_connections);
        if let Some(limit) = connections.lowered_by() {
            lowered.push(format!(
                "--max-connections {} lowered to {}: the open-files limit ({limit}) less 64 \
                 for the relay's own files",
                a.max_connections,
                connections.cap(),
            ));
        }
        let shared = Arc::new(Shared {
            pipeline,
            site: site.map(Arc::new),
            workers: Arc::new(Semaphore::new(options.workers)),
            admission: Admission::new(a.max_inflight_bytes, options.max_body, a.body_timeout),
            connections: connections.clone(),
            stopping: Default::default(),
            bearer,
        });
        let (stop, stopped) = watch::channel(false);
        let servers = std::iter::once(listener)
            .chain(grpc_listener)
            .zip(&endpoints)
            .map(|(listener, endpoint)| {
                runtime.spawn(crate::connections::accept_loop(
                    listener,
                    endpoint.clone(),
                    shared.clone(),
                    connections.clone(),
                    a.header_timeout,
                    stopped.clone(),
                ))
            })
            .collect();
        if let Some(every) = options.log_interval {
            runtime.spawn(log_loop(shared.pipeline.clone(), every, stopped));
        }
        Ok(Relay {
            addr,
            shared,
            connections,
            runtime,
            stop,
            servers,
            endpoints,
            grpc_addr,
            grpc_skipped,
            lowered,
            shutdown_timeout: a.shutdown_timeout,
            worker_cutoff: {
                let d = &options.delivery;
                let quick = (a.shutdown_timeout / 4).min(Duration::from_secs(1));
                match options.upstream.is_some() && d.queue_bytes == 0 {
                    // Validated: --shutdown-timeout is longer than --upstream-timeout.
                    true => quick.max(d.upstream_timeout).min(a.shutdown_timeout),
                    false => quick,
                }
            },
            spool_dir: options.delivery.spool.clone(),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The gRPC listener's address, when it listens.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Whether the receivers speak TLS.
    pub fn tls(&self) -> bool {
        self.endpoints.iter().any(|e| e.tls.is_some())
    }

    /// Reads the TLS files and the bearer token again (SIGHUP); one line per outcome.
    /// What fails to load keeps its previous value, so the receivers keep serving.
    pub fn reload_credentials(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for endpoint in &self.endpoints {
            if let Some(tls) = &endpoint.tls {
                let which = match endpoint.protocol {
                    Protocol::OtlpHttp => "OTLP/HTTP",
                    Protocol::OtlpGrpc => "OTLP/gRPC",
                };
                lines.push(match tls.reload() {
                    Ok(()) => format!("reloaded the {which} TLS certificate and key"),
                    Err(e) => format!("{e}; the {which} receiver keeps its previous certificate"),
                });
            }
        }
        if let Some(token) = &self.shared.bearer {
            lines.push(match token.reload() {
                Ok(()) => "reloaded the bearer token".to_string(),
                Err(e) => format!("{e}; the previous token stays"),
            });
        }
        lines
    }

    /// The request pipeline (its counters and outputs).
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.shared.pipeline
    }

    /// Starts watching SIGINT, SIGTERM and SIGHUP (from now on they no longer end the
    /// process).
    pub fn watch_signals(&self) -> Result<Signals, ServeError> {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = self.runtime.enter();
        let failed = |e: std::io::Error| ServeError::system(format!("cannot watch signals: {e}"));
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).map_err(failed)?,
            interrupt: signal(SignalKind::interrupt()).map_err(failed)?,
            hangup: signal(SignalKind::hangup()).map_err(failed)?,
        })
    }

    /// Blocks until SIGINT or SIGTERM arrives and returns its name; each SIGHUP meanwhile
    /// reloads the TLS files and the bearer token and reopens the `--out` file (after a
    /// rename-based rotation).
    pub fn wait_for(&self, signals: &mut Signals) -> &'static str {
        loop {
            let signal = self.runtime.block_on(async {
                tokio::select! {
                    _ = signals.terminate.recv() => "SIGTERM",
                    _ = signals.interrupt.recv() => "SIGINT",
                    _ = signals.hangup.recv() => "SIGHUP",
                }
            });
            if signal != "SIGHUP" {
                return signal;
            }
            for line in self.reload_credentials() {
                eprintln!("relink: SIGHUP: {line}");
            }
            if let Some(file) = &self.shared.pipeline.outputs.file {
                match file.sink.reopen() {
                    Ok(()) => eprintln!("relink: SIGHUP: reopened {}", file.sink.path().display()),
                    Err(message) => {
                        self.shared.pipeline.metrics.count(Event::FileError);
                        eprintln!("relink: SIGHUP: {message}; still writing the old file");
                    }
                }
            }
        }
    }

    /// Stops accepting, answers the requests already read, drains the outputs until the
    /// shutdown timeout, and syncs the file. `Ok` says what happened to the batches left;
    /// `Err` when acknowledged batches were neither delivered nor spooled.
    pub fn shutdown(self) -> Result<String, ServeError> {
        let deadline = Instant::now() + self.shutdown_timeout;
        self.shared.stopping.store(true, Ordering::Relaxed);
        let _ = self.stop.send(true);
        let connections = self.connections.clone();
        // Requests still waiting for a worker near the end (synchronous mode behind a slow
        // upstream: each worker holds one for up to --upstream-timeout) are answered 503
        // while there is time to write it, rather than closed unanswered with the runtime.
        let margin = self.worker_cutoff;
        let workers = self.shared.workers.clone();
        self.runtime.block_on(async {
            for server in self.servers {
                let _ = server.await;
            }
            while connections.open() > 0 && Instant::now() + margin < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            workers.close();
            while connections.open() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        self.runtime.shutdown_timeout(Duration::from_secs(1));
        let outputs = &self.shared.pipeline.outputs;
        let left = outputs.drain(deadline);
        let synced = match &outputs.file {
            Some(file) => file.sink.close().map_err(ServeError::system),
            None => Ok(()),
        };
        let dropped = self.shared.pipeline.metrics.dropped_total();
        let report = leftover_report(&left, dropped, self.spool_dir.as_deref());
        synced?;
        report
    }
}

/// The gRPC listener: an address given with `--grpc-listen` must bind; the default one
/// is skipped, saying why, when taken (another relay or collector on the host), so the
/// OTLP/HTTP receiver still starts.
fn bind_grpc(
    runtime: &tokio::runtime::Runtime,
    listen: GrpcListen,
) -> Result<(Option<TcpListener>, Option<String>), ServeError> {
    match listen {
        GrpcListen::Off => Ok((None, None)),
        GrpcListen::Given(addr) => match runtime.block_on(TcpListener::bind(addr)) {
            Ok(listener) => Ok((Some(listener), None)),
            Err(e) => Err(ServeError::system(format!(
                "--grpc-listen {addr}: cannot listen: {e}"
            ))),
        },
        GrpcListen::Default(addr) => match runtime.block_on(TcpListener::bind(addr)) {
            Ok(listener) => Ok((Some(listener), None)),
            Err(e) => Ok((
                None,
                Some(format!(
                    "the default {addr}: {e}; pass --grpc-listen ADDR, or off"
                )),
            )),
        },
    }
}

/// What shutdown says about the batches the outputs still held; `dropped`: the batches
/// given up on while running (an upstream refused them, retries ran out), which left the
/// queues without being delivered.
fn leftover_report(
    left: &Leftover,
    dropped: u64,
    spool: Option<&std::path::Path>,
) -> Result<String, ServeError> {
    let lost = if left.spooled { 0 } else { left.upstream } + left.file;
    if lost > 0 {
        return Err(ServeError::system(format!(
            "{lost} acknowledged batches were not delivered before --shutdown-timeout \
             (upstream: {}, file: {}){}",
            if left.spooled { 0 } else { left.upstream },
            left.file,
            if spool.is_none() && left.upstream > 0 {
                "; --spool DIR would keep them"
            } else {
                ""
            }
        )));
    }
    if left.lost > 0 {
        return Err(ServeError::system(format!(
            "{} acknowledged batches were lost: their spool segments were removed while the \
             relay ran ({} batches kept in the spool for the next start)",
            left.lost, left.upstream
        )));
    }
    Ok(match (left.upstream, spool) {
        (0, _) if dropped == 0 => "every acknowledged batch was delivered".to_string(),
        (0, _) => format!(
            "no batch left to send; {dropped} acknowledged batches were dropped while running \
             (relink_relay_dropped_total says why)"
        ),
        (n, Some(dir)) => format!(
            "{n} batches kept in the spool {} for the next start",
            dir.display()
        ),
        (n, None) => format!("{n} batches left"),
    })
}

/// The signals that stop the relay or reopen its file, once watched.
pub struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

/// A file-size limit (`ulimit -f`, systemd's `LimitFSIZE`) reached by the spool or the
/// `--out` file would kill the relay with SIGXFSZ, and nothing logged. Ignored, the write
/// fails with EFBIG instead, which both already handle: the spool answers 503 and keeps
/// what it acknowledged, the file cuts back to its last line and retries.
fn ignore_file_size_signal() {
    // SAFETY: SIG_IGN installs no handler code; it only sets the signal's disposition.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// `relink serve`: starts the relay, serves until SIGINT/SIGTERM, shuts down gracefully.
pub fn serve(options: &ServeOptions) -> Result<(), ServeError> {
    let relay = Relay::start(options)?;
    let mut signals = relay.watch_signals()?;
    let mut sinks = Vec::new();
    if let Some(upstream) = &options.upstream {
        let mode = match options.delivery.queue_bytes {
            0 => "synchronously".to_string(),
            n => format!("through a {n}-byte queue"),
        };
        sinks.push(format!("forwarding to {} {mode}", upstream.describe()));
    }
    if let Some(out) = &options.out {
        sinks.push(format!("appending to {}", out.display()));
    }
    if sinks.is_empty() {
        sinks.push("no --upstream or --out: relinked requests are only counted".to_string());
    }
    let scheme = match relay.tls() {
        true => "https",
        false => "http",
    };
    // One line, so whoever reads the address from the first line finds it there.
    let grpc = match (relay.grpc_addr(), &relay.grpc_skipped) {
        (Some(addr), _) => format!(
            "OTLP/gRPC on {addr} ({}{})",
            match relay.tls() {
                true => "TLS",
                false => "h2c",
            },
            match options
                .receivers
                .tls
                .as_ref()
                .and_then(|t| t.client_ca.as_ref())
            {
                Some(_) => ", client certificates required",
                None => "",
            }
        ),
        (None, Some(why)) => format!("OTLP/gRPC not started ({why})"),
        (None, None) => "OTLP/gRPC off".to_string(),
    };
    for line in &relay.lowered {
        eprintln!("relink: {line}");
    }
    eprintln!(
        "relink: listening on {scheme}://{}/v1/traces, {grpc}, with {}; {}",
        relay.local_addr(),
        options.component.display(),
        sinks.join(", ")
    );
    for warning in &options.warnings {
        eprintln!("relink: warning: {warning}");
    }
    if let Some(dir) = &options.playground {
        eprintln!(
            "relink: playground ({}) at http://{}/",
            dir.display(),
            relay.local_addr()
        );
    }
    let signal = relay.wait_for(&mut signals);
    eprintln!("relink: {signal}: finishing in-flight requests");
    let pipeline = relay.pipeline().clone();
    let outcome = relay.shutdown();
    eprintln!("{}", pipeline.log_line());
    let summary = outcome?;
    eprintln!("relink: {summary}");
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_does_not_call_dropped_batches_delivered() {
        let empty = Leftover::default();
        let said = |dropped| leftover_report(&empty, dropped, None).unwrap_or_default();
        assert_eq!(said(0), "every acknowledged batch was delivered");
        assert!(
            said(3).contains("3 acknowledged batches were dropped"),
            "{}",
            said(3)
        );
        let unsent = Leftover {
            upstream: 2,
            ..Leftover::default()
        };
        assert!(leftover_report(&unsent, 0, None).is_err());
        // Batches lost with a removed spool segment are not called kept.
        let removed = Leftover {
            upstream: 4,
            spooled: true,
            lost: 2,
            ..Leftover::default()
        };
        let said = leftover_report(&removed, 0, Some(std::path::Path::new("/spool")));
        let said = said.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains("2 acknowledged batches were lost"), "{said}");
    }
}
