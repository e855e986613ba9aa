//! The fault-injection suite: the relay as a real process between clients that send each
//! batch once and a loopback upstream that can be killed, slowed or made to refuse. Each
//! test asserts the delivery promise of the relay's README: every span of every batch
//! answered 2xx reaches the upstream once it is back (or the file, line-valid), every client
//! gets an answer, memory and connections stay bounded. Every wait is bounded, and flags
//! are short (retry delays of 100 ms, timeouts of seconds) so the suite takes about a
//! minute.

mod admission;
mod delivery;
mod durability;
mod outfile;
pub mod process;
mod sink;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use relink::otlp::ExportTraceServiceRequest;

/// Span ids of a request.
pub fn span_ids(request: &ExportTraceServiceRequest) -> HashSet<Vec<u8>> {
    request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| s.span_id.clone())
        .collect()
}

/// Fast retries for tests: the Collector's defaults scaled down.
pub const FAST_RETRY: [&str; 6] = [
    "--retry-initial",
    "100ms",
    "--retry-max-interval",
    "500ms",
    "--retry-max-elapsed",
    "60s",
];

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a 1 MiB tmpfs at `dir` (CI runs as root). When that is impossible (no root,
    /// a container without CAP_SYS_ADMIN) the caller runs its fallback, which checks the
    /// same refusal or failure path with a disk that is full for good (`/dev/full`, a
    /// spool size limit) but cannot check the freeing; that is said on stderr, not hidden.
    pub fn mount_or_fallback(dir: PathBuf, test: &str, fallback: &str) -> Option<Tmpfs> {
        let mounted = Tmpfs::mount(dir);
        if mounted.is_none() {
            eprintln!("FALLBACK {test}: cannot mount a tmpfs; checking {fallback} instead");
        }
        mounted
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    fn mount(dir: PathBuf) -> Option<Tmpfs> {
        // RELINK_TEST_NO_TMPFS=1 runs the fallbacks where mounting would work.
        if std::env::var_os("RELINK_TEST_NO_TMPFS").is_some() {
            return None;
        }
        let _ = std::fs::create_dir_all(&dir);
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Tmpfs(dir)),
            Ok(out) => {
                eprintln!("mount tmpfs: {}", String::from_utf8_lossy(&out.stderr));
                None
            }
            Err(e) => {
                eprintln!("mount tmpfs: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
