//! Stopping the relay: SIGTERM with a slow upstream (every client answered; exit status
//! non-zero naming what was not delivered, unless the spool keeps it) and SIGKILL with a
//! spool, then a restart that delivers everything acknowledged.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use super::process::{batch, post, RelayProcess};
use super::sink::{Behaviour, Sink};
use super::Tmpfs;
use super::FAST_RETRY;
use crate::support::TempDir;

/// A spool in a temporary directory of its own (removed on drop), and the arguments of a
/// relay forwarding to a sink through it.
struct Spooled {
    _dir: TempDir,
    spool: String,
    url: String,
}

impl Spooled {
    fn new(name: &str, sink: &Sink) -> Spooled {
        let dir = TempDir::new(name);
        let spool = dir.path("spool").to_string_lossy().to_string();
        Spooled {
            _dir: dir,
            spool,
            url: sink.url(),
        }
    }

    /// `--upstream` the sink, `--spool` the spool, then `extra`.
    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        [
            &["--upstream", &self.url, "--spool", &self.spool][..],
            extra,
        ]
        .concat()
    }
}

/// 8 clients at once against a relay whose upstream takes 2 s per batch with one sender,
/// SIGTERM while they are in flight: `(relay, acked span ids, statuses)`.
fn sigterm_under_slow_upstream(
    sink: &Sink,
    extra: &[&str],
) -> (RelayProcess, HashSet<Vec<u8>>, Vec<u16>) {
    sink.set(Behaviour {
        delay: Duration::from_secs(2),
        ..Behaviour::default()
    });
    let url = sink.url();
    let base = [
        "--upstream",
        url.as_str(),
        "--senders",
        "1",
        "--upstream-timeout",
        "3s",
        "--shutdown-timeout",
        "4s",
    ];
    let relay = RelayProcess::spawn(&[&base[..], extra].concat());
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let addr = relay.addr.clone();
            std::thread::spawn(move || {
                let (body, ids) = batch(10, 10);
                (post(&addr, &body, Duration::from_secs(30)).status, ids)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    relay.signal("TERM");
    let mut acked = HashSet::new();
    let mut statuses = Vec::new();
    for client in clients {
        let (status, ids) = client.join().unwrap_or((0, HashSet::new()));
        if status == 200 {
            acked.extend(ids);
        }
        statuses.push(status);
    }
    (relay, acked, statuses)
}

#[test]
fn sigterm_in_synchronous_mode_answers_the_requests_waiting_for_a_worker() {
    // One worker, each request holding it for the upstream's 2 s: the ones still waiting
    // when the deadline nears get 503 (the client keeps the batch), not a closed connection.
    let sink = Sink::start();
    let (mut relay, _, statuses) =
        sigterm_under_slow_upstream(&sink, &["--queue-bytes", "0", "--workers", "1"]);
    assert!(
        statuses.iter().all(|s| *s != 0),
        "a client got no answer: {statuses:?}\n{}",
        relay.log()
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    relay.wait_exit(Duration::from_secs(20));
}

#[test]
fn sigterm_answers_every_client_and_exits_non_zero_naming_undelivered_batches() {
    let sink = Sink::start();
    let (mut relay, acked, statuses) = sigterm_under_slow_upstream(&sink, &[]);
    assert!(
        statuses.iter().all(|s| *s != 0),
        "a client got no answer: {statuses:?}"
    );
    let status = relay.wait_exit(Duration::from_secs(20));
    let log = relay.log();
    let delivered = sink.delivered();
    let missing = acked.iter().filter(|id| !delivered.contains(*id)).count();
    // 8 batches of 10 spans at 2 s each cannot all go within 4 s.
    assert!(missing > 0, "{log}");
    assert!(!status.success(), "{log}");
    let undelivered = missing / 10;
    assert!(
        log.contains(&format!(
            "relink serve: {undelivered} acknowledged batches were not delivered"
        )),
        "{undelivered}: {log}"
    );
}

#[test]
fn sigterm_with_a_spool_keeps_the_rest_and_the_next_start_delivers_it() {
    let sink = Sink::start();
    let spooled = Spooled::new("term-spool", &sink);
    let (mut relay, acked, statuses) =
        sigterm_under_slow_upstream(&sink, &["--spool", &spooled.spool]);
    assert!(statuses.iter().all(|s| *s != 0), "{statuses:?}");
    let status = relay.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{}", relay.log());
    assert!(relay.log().contains("kept in the spool"), "{}", relay.log());
    sink.set(Behaviour::default());
    let restarted = RelayProcess::spawn(&spooled.args(&FAST_RETRY));
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        restarted.log()
    );
}

#[test]
fn sigkill_with_a_spool_loses_nothing_acknowledged() {
    let sink = Sink::stopped();
    let spooled = Spooled::new("kill-spool", &sink);
    let args = spooled.args(&FAST_RETRY);
    let mut relay = RelayProcess::spawn(&args);
    let mut acked = HashSet::new();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let addr = relay.addr.clone();
            std::thread::spawn(move || {
                let mut acked = HashSet::new();
                for _ in 0..10 {
                    let (body, ids) = batch(20, 100);
                    if post(&addr, &body, Duration::from_secs(10)).status == 200 {
                        acked.extend(ids);
                    }
                }
                acked
            })
        })
        .collect();
    // SIGKILL while the clients are still sending: whatever was acknowledged is on disk.
    std::thread::sleep(Duration::from_millis(200));
    relay.signal("KILL");
    for client in clients {
        acked.extend(client.join().unwrap_or_default());
    }
    let _ = relay.wait_exit(Duration::from_secs(10));
    assert!(
        !acked.is_empty(),
        "nothing was acknowledged before the kill"
    );
    // A crash mid-write leaves a torn record at the end of the newest segment.
    let newest = std::fs::read_dir(&spooled.spool)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "seg"))
                .max()
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no segment in {}", spooled.spool));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 1, b'{']);
    drop(file);
    sink.revive();
    let restarted = RelayProcess::spawn(&args);
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        restarted.log()
    );
    assert_eq!(restarted.metric("relink_relay_spool_torn_total"), 1);
    assert!(restarted.metric("relink_relay_replayed_total") as usize >= acked.len() / 20);
    // Delivered segments are deleted (the current, empty one stays).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while restarted.metric("relink_relay_spool_bytes") > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(restarted.metric("relink_relay_spool_bytes"), 0);
}

#[test]
fn a_full_spool_disk_refuses_with_retry_after_and_keeps_what_it_acknowledged() {
    let dir = TempDir::new("spool-full");
    let test = "a_full_spool_disk_refuses";
    let tmpfs = Tmpfs::mount_or_fallback(dir.path("small"), test, "--spool-max-bytes 1000000");
    let (spool, limit) = match &tmpfs {
        Some(tmpfs) => (tmpfs.path().join("spool"), "1073741824"),
        None => (dir.path("spool"), "1000000"),
    };
    let spool_arg = spool.to_string_lossy().to_string();
    let sink = Sink::stopped();
    let url = sink.url();
    let base = [
        "--upstream",
        url.as_str(),
        "--spool",
        &spool_arg,
        "--spool-max-bytes",
        limit,
    ];
    let args = [&base[..], &FAST_RETRY].concat();
    let relay = RelayProcess::spawn(&args);
    let mut acked = HashSet::new();
    let mut refused = None;
    for _ in 0..40 {
        let (body, ids) = batch(100, 300);
        let answer = post(&relay.addr, &body, Duration::from_secs(10));
        if answer.status != 200 {
            refused = Some(answer);
            break;
        }
        acked.extend(ids);
    }
    let refused = refused.unwrap_or_else(|| panic!("40 batches of 40 kB fit in a 1 MiB tmpfs"));
    assert_eq!(
        (refused.status, refused.retry_after.as_deref()),
        (503, Some("10"))
    );
    let reason = match tmpfs {
        Some(_) => "No space left on device",
        None => "the spool is full",
    };
    assert!(
        relay.log_shows(reason, Duration::from_secs(5)),
        "{}",
        relay.log()
    );
    assert_eq!(
        relay.metric("relink_relay_refused_total{reason=\"spool\"}"),
        1
    );
    // Not ready while the spool refuses, so a load balancer sends elsewhere.
    assert_eq!(relay.metric("relink_relay_ready"), 0);
    sink.revive();
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    // Delivered segments are deleted: room again, ready again.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while relay.metric("relink_relay_ready") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(relay.metric("relink_relay_ready"), 1, "{}", relay.log());
}

/// Segments removed while the relay runs (a cleaner, an operator freeing space), the
/// upstream down: the batches acknowledged into them, queued or being retried, are written
/// again while it runs (a SIGKILL then loses none), the next batches go to a new segment,
/// and the next start delivers every acknowledged batch; a SIGTERM keeps them all too.
#[test]
fn spool_segments_removed_while_running_lose_nothing_acknowledged() {
    let sink = Sink::stopped();
    let spooled = Spooled::new("removed-spool", &sink);
    let args = spooled.args(
        &[
            &["--upstream-timeout", "1s", "--shutdown-timeout", "2s"][..],
            &FAST_RETRY,
        ]
        .concat(),
    );
    let mut relay = RelayProcess::spawn(&args);
    let mut acked = HashSet::new();
    let mut send = |count| {
        for _ in 0..count {
            let (body, ids) = batch(10, 100);
            let answer = post(&relay.addr, &body, Duration::from_secs(10));
            assert_eq!(answer.status, 200, "{}", relay.log());
            acked.extend(ids);
        }
    };
    send(10);
    for entry in std::fs::read_dir(&spooled.spool)
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.path().extension().is_some_and(|x| x == "seg") {
            std::fs::remove_file(entry.path()).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    send(10);
    // The senders retry at least every 500 ms: each notices its batch's segment is gone.
    std::thread::sleep(Duration::from_millis(1500));
    relay.signal("KILL");
    let _ = relay.wait_exit(Duration::from_secs(10));
    let log = relay.log();
    assert!(log.contains("was removed while the relay runs"), "{log}");
    // Again, stopped cleanly this time: they are kept (a batch written again while a
    // sender held it may be there twice: delivery is at least once).
    let mut restarted = RelayProcess::spawn(&args);
    restarted.signal("TERM");
    let status = restarted.wait_exit(Duration::from_secs(20));
    let log = restarted.log();
    assert!(status.success(), "{log}");
    let kept = log
        .lines()
        .find_map(|l| {
            l.split(" batches kept in the spool")
                .next()
                .filter(|_| l.contains("kept in"))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(kept.is_some_and(|n| n >= 20), "{log}");
    sink.revive();
    let restarted = RelayProcess::spawn(&args);
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        restarted.log()
    );
}

/// A second relay on a spool in use exits 2 naming the first, which goes on: two would
/// replay and delete each other's segments (acknowledged batches lost).
#[test]
fn a_spool_in_use_is_refused_to_a_second_relay() {
    let sink = Sink::stopped();
    let spooled = Spooled::new("locked-spool", &sink);
    let args = spooled.args(&["--grpc-listen", "off"]);
    let first = RelayProcess::spawn(&args);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_relink-relay"))
        .args(["serve", "--listen", "127.0.0.1:0", "--component"])
        .arg(crate::support::component())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another relay")
            && stderr.contains(&format!("(pid {})", first.pid())),
        "{stderr}"
    );
    let (body, _) = batch(2, 10);
    assert_eq!(
        post(&first.addr, &body, Duration::from_secs(10)).status,
        200
    );
}
