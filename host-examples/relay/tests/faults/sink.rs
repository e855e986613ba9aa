//! A loopback OTLP/HTTP upstream for fault injection: it can be killed (listener and every
//! connection closed at once, as a SIGKILLed collector would) and started again on the
//! same port, answer a script of statuses with `Retry-After`, or answer slowly. It records
//! the span ids of every batch it answered 2xx, so a test can check that every span a
//! client was acknowledged for arrived.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use relink::otlp::{self, Encoding};

/// How the sink answers.
#[derive(Default)]
pub struct Behaviour {
    /// Answered first, one per request: `(status, Retry-After)`.
    pub script: VecDeque<(u16, Option<&'static str>)>,
    /// Every request waits this long before its answer.
    pub delay: Duration,
}

#[derive(Default)]
struct State {
    behaviour: Mutex<Behaviour>,
    /// Span ids of batches answered 2xx.
    delivered: Mutex<HashSet<Vec<u8>>>,
    /// `(when, status)` of every answer.
    answers: Mutex<Vec<(Instant, u16)>>,
    requests: AtomicUsize,
    running: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

pub struct Sink {
    port: u16,
    state: Arc<State>,
}

impl Sink {
    /// A sink on a fresh port.
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let sink = Sink {
            port,
            state: Arc::default(),
        };
        sink.run(listener);
        sink
    }

    /// A port for a sink that is not running yet (nothing listens there).
    pub fn stopped() -> Sink {
        let sink = Sink::start();
        sink.kill();
        sink
    }

    fn run(&self, listener: TcpListener) {
        let _ = listener.set_nonblocking(true);
        self.state.running.store(true, Ordering::SeqCst);
        let state = self.state.clone();
        std::thread::spawn(move || {
            while state.running.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        if let (Ok(clone), Ok(mut streams)) =
                            (stream.try_clone(), state.streams.lock())
                        {
                            streams.push(clone);
                        }
                        let state = state.clone();
                        std::thread::spawn(move || serve(stream, &state));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, behaviour: Behaviour) {
        if let Ok(mut b) = self.state.behaviour.lock() {
            *b = behaviour;
        }
    }

    /// Closes the listener and every connection, mid-request or not.
    pub fn kill(&self) {
        self.state.running.store(false, Ordering::SeqCst);
        // The accept loop notices within 5 ms and drops the listener.
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(mut streams) = self.state.streams.lock() {
            for stream in streams.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }

    /// Listens again on the same port (bounded retries while the old socket goes).
    pub fn revive(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)) {
                self.run(listener);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("cannot listen on 127.0.0.1:{} again", self.port);
    }

    pub fn delivered(&self) -> HashSet<Vec<u8>> {
        self.state
            .delivered
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    pub fn answers(&self) -> Vec<(Instant, u16)> {
        self.state
            .answers
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until every id in `ids` was delivered; the missing ones.
    pub fn wait_for(&self, ids: &HashSet<Vec<u8>>, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let delivered = self.delivered();
            let missing = ids.iter().filter(|id| !delivered.contains(*id)).count();
            if missing == 0 || Instant::now() > deadline {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

fn serve(stream: TcpStream, state: &State) {
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut json) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            json |= header.starts_with("content-type:") && header.contains("json");
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        state.requests.fetch_add(1, Ordering::SeqCst);
        let (delay, (status, retry_after)) = match state.behaviour.lock() {
            Ok(mut b) => (b.delay, b.script.pop_front().unwrap_or((200, None))),
            Err(_) => (Duration::ZERO, (200, None)),
        };
        std::thread::sleep(delay);
        if !state.running.load(Ordering::SeqCst) {
            return; // killed while "working": no answer
        }
        let retry = retry_after
            .map(|r| format!("Retry-After: {r}\r\n"))
            .unwrap_or_default();
        let answer = format!("HTTP/1.1 {status} X\r\n{retry}Content-Length: 0\r\n\r\n");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
        if (200..300).contains(&status) {
            let encoding = if json {
                Encoding::Json
            } else {
                Encoding::Protobuf
            };
            if let (Ok(request), Ok(mut delivered)) =
                (otlp::decode(&body, encoding), state.delivered.lock())
            {
                delivered.extend(super::span_ids(&request));
            }
        }
        if let Ok(mut answers) = state.answers.lock() {
            answers.push((Instant::now(), status));
        }
    }
}
