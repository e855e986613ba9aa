//! Upstream faults: down at start, killed under load, 503/429 with `Retry-After`,
//! non-retryable answers, and a slow upstream.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::process::{batch, post, RelayProcess};
use super::sink::{Behaviour, Sink};
use super::FAST_RETRY;

#[test]
fn upstream_down_at_start_then_up_gets_every_acknowledged_span() {
    let sink = Sink::stopped();
    let url = sink.url();
    let relay = RelayProcess::spawn(&[&["--upstream", url.as_str()][..], &FAST_RETRY].concat());
    let mut acked = HashSet::new();
    for _ in 0..10 {
        let (body, ids) = batch(20, 10);
        let answer = post(&relay.addr, &body, Duration::from_secs(10));
        assert_eq!(answer.status, 200, "{}", relay.log());
        acked.extend(ids);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(relay.metric("relink_relay_upstream_retries_total") > 0);
    assert_eq!(relay.metric("relink_relay_queue_batches"), 10);
    sink.revive();
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    assert_eq!(relay.metric("relink_relay_upstream_delivered_total"), 10);
}

#[test]
fn upstream_killed_under_load_loses_no_acknowledged_span() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&[&["--upstream", url.as_str()][..], &FAST_RETRY].concat());
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let stop_at = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, acked, statuses) = (relay.addr.clone(), acked.clone(), statuses.clone());
            std::thread::spawn(move || {
                while Instant::now() < stop_at {
                    let (body, ids) = batch(50, 10);
                    let answer = post(&addr, &body, Duration::from_secs(10));
                    if answer.status == 200 {
                        acked.lock().map(|mut a| a.extend(ids)).unwrap_or_default();
                    }
                    statuses
                        .lock()
                        .map(|mut s| s.push(answer.status))
                        .unwrap_or_default();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    sink.kill();
    std::thread::sleep(Duration::from_millis(1500));
    sink.revive();
    for client in clients {
        let _ = client.join();
    }
    let statuses = statuses.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(statuses.len() > 20, "only {} requests", statuses.len());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
}

#[test]
fn retry_after_is_honoured_and_permanent_errors_are_dropped_and_counted() {
    let sink = Sink::start();
    sink.set(Behaviour {
        script: [(503, Some("2")), (429, Some("1"))].into(),
        ..Behaviour::default()
    });
    let url = sink.url();
    let args = [
        &["--upstream", url.as_str(), "--senders", "1"][..],
        &FAST_RETRY,
    ]
    .concat();
    let relay = RelayProcess::spawn(&args);
    let (body, ids) = batch(5, 10);
    assert_eq!(
        post(&relay.addr, &body, Duration::from_secs(10)).status,
        200
    );
    assert_eq!(
        sink.wait_for(&ids, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    let answers = sink.answers();
    let statuses: Vec<u16> = answers.iter().map(|a| a.1).collect();
    assert_eq!(statuses, [503, 429, 200]);
    // The computed backoff would be about 100 ms; the upstream asked for 2 s, then 1 s.
    let gaps: Vec<Duration> = answers.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[0] >= Duration::from_millis(1900), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(900), "{gaps:?}");
    assert_eq!(relay.metric("relink_relay_upstream_retries_total"), 2);

    sink.set(Behaviour {
        script: [(400, None)].into(),
        ..Behaviour::default()
    });
    let (body, _) = batch(5, 10);
    assert_eq!(
        post(&relay.addr, &body, Duration::from_secs(10)).status,
        200
    );
    let dropped = "relink_relay_dropped_total{output=\"upstream\",reason=\"status_400\"}";
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.metric(dropped) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(relay.metric(dropped), 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sink.requests(), 4, "a 400 is not retried");
    assert!(
        relay
            .log()
            .contains("answered status 400; not retryable, the batch is dropped"),
        "{}",
        relay.log()
    );
}

#[test]
fn retry_max_elapsed_0_never_gives_a_batch_up() {
    // An outage of about two seconds: longer than the 1 s limit, which drops the batch,
    // while 0 (the Collector's max_elapsed_time: 0) keeps retrying until it is delivered.
    for (limit, delivered) in [("1s", false), ("0", true)] {
        let sink = Sink::start();
        sink.set(Behaviour {
            script: std::iter::repeat_n((503, None), 14).collect(),
            ..Behaviour::default()
        });
        let url = sink.url();
        let relay = RelayProcess::spawn(&[
            "--upstream",
            url.as_str(),
            "--senders",
            "1",
            "--retry-initial",
            "100ms",
            "--retry-max-interval",
            "200ms",
            "--retry-max-elapsed",
            limit,
        ]);
        let (body, ids) = batch(5, 10);
        assert_eq!(
            post(&relay.addr, &body, Duration::from_secs(10)).status,
            200
        );
        let exhausted =
            "relink_relay_dropped_total{output=\"upstream\",reason=\"retries_exhausted\"}";
        let missing = sink.wait_for(&ids, Duration::from_secs(if delivered { 20 } else { 4 }));
        assert_eq!(
            (missing == 0, relay.metric(exhausted)),
            (delivered, u64::from(!delivered)),
            "--retry-max-elapsed {limit}: {}",
            relay.log()
        );
        if delivered {
            let answers = sink.answers();
            let outage = answers[answers.len() - 1].0 - answers[0].0;
            assert!(outage >= Duration::from_millis(1300), "{outage:?}");
        }
    }
}

#[test]
fn without_a_queue_the_upstream_status_and_retry_after_are_passed_on() {
    let sink = Sink::start();
    sink.set(Behaviour {
        script: [
            (503, Some("7")),
            (429, Some("Wed, 21 Oct 2037 07:28:00 GMT")),
        ]
        .into(),
        ..Behaviour::default()
    });
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str(), "--queue-bytes", "0"]);
    let (body, _) = batch(1, 1);
    let first = post(&relay.addr, &body, Duration::from_secs(10));
    assert_eq!(
        (first.status, first.retry_after.as_deref()),
        (503, Some("7"))
    );
    let second = post(&relay.addr, &body, Duration::from_secs(10));
    assert_eq!(
        (second.status, second.retry_after.as_deref()),
        (429, Some("Wed, 21 Oct 2037 07:28:00 GMT"))
    );
}

#[test]
fn a_slow_upstream_does_not_delay_new_clients() {
    let sink = Sink::start();
    sink.set(Behaviour {
        delay: Duration::from_secs(5),
        ..Behaviour::default()
    });
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str(), "--senders", "2"]);
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let addr = relay.addr.clone();
            std::thread::spawn(move || {
                post(&addr, &batch(10, 10).0, Duration::from_secs(30)).status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap_or(0)).collect();
    assert_eq!(statuses, [200; 8]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.requests() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        sink.requests(),
        2,
        "both senders are busy with the slow upstream"
    );
    // A new client is acknowledged while the upstream has not answered anything yet.
    let late = post(&relay.addr, &batch(10, 10).0, Duration::from_secs(30));
    assert_eq!(late.status, 200);
    assert!(sink.answers().is_empty(), "the ack waited for the upstream");
    assert_eq!(relay.metric("relink_relay_queue_batches"), 9);
}

#[test]
fn a_full_queue_refuses_with_retry_after_and_reports_not_ready() {
    let sink = Sink::stopped();
    let url = sink.url();
    let args = [
        &["--upstream", url.as_str(), "--queue-bytes", "60000"][..],
        &FAST_RETRY,
    ]
    .concat();
    let relay = RelayProcess::spawn(&args);
    assert_eq!(relay.get("/ready").0, 200);
    let mut acked = HashSet::new();
    let mut refused = None;
    for _ in 0..20 {
        let (body, ids) = batch(50, 200);
        let answer = post(&relay.addr, &body, Duration::from_secs(10));
        match answer.status {
            200 => acked.extend(ids),
            _ => {
                refused = Some(answer);
                break;
            }
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("a 60 kB queue took 20 batches"));
    assert_eq!(
        (refused.status, refused.retry_after.as_deref()),
        (503, Some("5"))
    );
    assert_eq!(relay.get("/ready").0, 503);
    assert_eq!(relay.get("/health").0, 200);
    assert_eq!(
        relay.metric("relink_relay_refused_total{reason=\"queue_full\"}"),
        1
    );
    sink.revive();
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.get("/ready").0 != 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(relay.get("/ready").0, 200);
}

/// An upstream that answers 200 at once and then trickles its body past
/// `--upstream-timeout`: the status line was the answer, so the batch is delivered once,
/// not sent again as if nothing had answered (README: "a 2xx whose body is ... cut short
/// is delivered").
#[test]
fn a_2xx_whose_body_trickles_past_the_timeout_is_delivered_once() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let requests = Arc::new(Mutex::new(0usize));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(n) = lower.strip_prefix("content-length:") {
                            length = n.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    *counted.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                    let stream = reader.get_mut();
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{",
                    );
                    std::thread::sleep(Duration::from_millis(2500));
                    let _ = stream.write_all(b"}");
                }
            });
        }
    });
    let relay = RelayProcess::spawn(
        &[
            &["--upstream", url.as_str(), "--upstream-timeout", "1s"][..],
            &FAST_RETRY,
        ]
        .concat(),
    );
    let (body, _) = batch(5, 10);
    assert_eq!(
        post(&relay.addr, &body, Duration::from_secs(10)).status,
        200
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay.metric("relink_relay_upstream_delivered_total") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Time for a resend, had there been one.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        relay.metric("relink_relay_upstream_delivered_total"),
        1,
        "{}",
        relay.log()
    );
    assert_eq!(
        relay.metric("relink_relay_upstream_retries_total"),
        0,
        "{}",
        relay.log()
    );
    assert_eq!(*requests.lock().unwrap_or_else(|e| e.into_inner()), 1);
}
