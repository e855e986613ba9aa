//! The `--out` file under faults: a full disk (a 1 MiB tmpfs; CI runs as root) that is
//! freed again, rename-based rotation with SIGHUP, and upstream retries (a batch is written
//! once).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use relink::otlp;

use super::process::{batch, post, RelayProcess};
use super::sink::{Behaviour, Sink};
use super::Tmpfs;
use super::FAST_RETRY;
use crate::support::TempDir;

/// Every line of the file decoded: `(lines, span ids with repeats)`.
fn read_lines(path: &Path) -> (usize, Vec<Vec<u8>>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a fragment at the end of {}",
        path.display()
    );
    let mut ids = Vec::new();
    for line in text.lines() {
        let request = otlp::decode_json(line.as_bytes()).unwrap_or_else(|e| {
            panic!(
                "a line of {} is not OTLP/JSON ({e}): {line:.80}",
                path.display()
            )
        });
        ids.extend(
            request
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| s.span_id.clone()),
        );
    }
    (text.lines().count(), ids)
}

fn wait_metric(relay: &RelayProcess, name: &str, at_least: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = relay.metric(name);
        if value >= at_least || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_full_disk_leaves_no_fragment_and_does_not_stop_the_upstream() {
    let dir = TempDir::new("disk-full");
    let test = "a_full_disk_leaves_no_fragment";
    let Some(tmpfs) = Tmpfs::mount_or_fallback(dir.path("small"), test, "--out /dev/full") else {
        return a_disk_full_for_good_does_not_stop_the_upstream();
    };
    let filler = tmpfs.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; (1 << 20) - 24 * 1024]);
    let out = tmpfs.path().join("out.jsonl");
    let sink = Sink::start();
    let url = sink.url();
    let out_arg = out.to_string_lossy().to_string();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str(), "--out", &out_arg]);
    let mut acked = HashSet::new();
    for _ in 0..10 {
        let (body, ids) = batch(50, 100);
        assert_eq!(
            post(&relay.addr, &body, Duration::from_secs(10)).status,
            200
        );
        acked.extend(ids);
    }
    assert!(
        wait_metric(&relay, "relink_relay_file_errors_total", 1) >= 1,
        "{}",
        relay.log()
    );
    // The upstream has every batch although the file is stuck.
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    let (stuck, _) = read_lines(&out);
    assert!(stuck < 10, "{stuck} lines fit in 24 KiB?");
    let _ = std::fs::remove_file(&filler);
    assert_eq!(
        wait_metric(&relay, "relink_relay_file_lines_total", 10),
        10,
        "{}",
        relay.log()
    );
    let (lines, ids) = read_lines(&out);
    assert_eq!(lines, 10);
    assert_eq!(ids.len(), acked.len(), "a batch written twice");
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), acked);
}

/// Without a tmpfs: `/dev/full` fails every write with ENOSPC.
fn a_disk_full_for_good_does_not_stop_the_upstream() {
    let sink = Sink::start();
    let url = sink.url();
    let relay = RelayProcess::spawn(&["--upstream", url.as_str(), "--out", "/dev/full"]);
    let mut acked = HashSet::new();
    for _ in 0..5 {
        let (body, ids) = batch(50, 100);
        assert_eq!(
            post(&relay.addr, &body, Duration::from_secs(10)).status,
            200
        );
        acked.extend(ids);
    }
    assert!(
        wait_metric(&relay, "relink_relay_file_errors_total", 1) >= 1,
        "{}",
        relay.log()
    );
    assert_eq!(
        sink.wait_for(&acked, Duration::from_secs(20)),
        0,
        "{}",
        relay.log()
    );
    assert_eq!(relay.get("/health").0, 200);
}

#[test]
fn sighup_reopens_a_renamed_file_and_retries_write_a_batch_once() {
    let dir = TempDir::new("rotate");
    let out = dir.path("out.jsonl");
    let sink = Sink::start();
    // Two retryable answers before the first batch is taken.
    sink.set(Behaviour {
        script: [(502, None), (504, None)].into(),
        ..Behaviour::default()
    });
    let url = sink.url();
    let out_arg = out.to_string_lossy().to_string();
    let mut relay = RelayProcess::spawn(
        &[
            &["--upstream", url.as_str(), "--out", &out_arg][..],
            &FAST_RETRY,
        ]
        .concat(),
    );
    let mut first = HashSet::new();
    for _ in 0..3 {
        let (body, ids) = batch(5, 10);
        assert_eq!(
            post(&relay.addr, &body, Duration::from_secs(10)).status,
            200
        );
        first.extend(ids);
    }
    assert_eq!(wait_metric(&relay, "relink_relay_file_lines_total", 3), 3);
    assert_eq!(sink.wait_for(&first, Duration::from_secs(20)), 0);
    assert!(relay.metric("relink_relay_upstream_retries_total") >= 2);
    let rotated = dir.path("out.jsonl.1");
    std::fs::rename(&out, &rotated).unwrap_or_else(|e| panic!("{e}"));
    relay.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !relay.log().contains("SIGHUP: reopened") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        relay.is_running(),
        "SIGHUP killed the relay: {}",
        relay.log()
    );
    for _ in 0..2 {
        assert_eq!(
            post(&relay.addr, &batch(5, 10).0, Duration::from_secs(10)).status,
            200
        );
    }
    assert_eq!(wait_metric(&relay, "relink_relay_file_lines_total", 5), 5);
    let (old, old_ids) = read_lines(&rotated);
    assert_eq!(
        (old, old_ids.len()),
        (3, first.len()),
        "a batch written twice while retried"
    );
    assert_eq!(read_lines(&out).0, 2);
}
