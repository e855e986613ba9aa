//! The `--out` file: one compact OTLP/JSON `ExportTraceServiceRequest` per line, written
//! by its own thread from its own queue, so a full disk never holds up the upstream and a
//! slow upstream never holds up the file.
//!
//! What the file promises: every line is a whole request. Each line goes out in one
//! `write` of the line and its newline; if that write fails (disk full, I/O error) the
//! file is truncated back to its last whole line, so no fragment is left for the next line
//! to be glued to, and the line is retried with backoff until the disk has room again or
//! the shutdown timeout passes. A batch is written once, however often the upstream is
//! retried. Lines reach the OS at once; `--out-fsync always` also syncs each line to disk
//! (otherwise the file is synced on SIGHUP and at exit). SIGHUP reopens the path, so a
//! file renamed away by logrotate is closed and a new one started.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use relink::otlp::{self, Encoding};

use crate::metrics::{Event, RelayMetrics};
use crate::options::OutFsync;
use crate::queue::{Popped, Queue};

struct Open {
    file: File,
    /// Length of the file up to its last whole line.
    good: u64,
}

/// The open file; see the module docs.
pub struct FileSink {
    path: PathBuf,
    fsync: OutFsync,
    open: Mutex<Open>,
}

impl FileSink {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: &Path, fsync: OutFsync) -> Result<FileSink, String> {
        let open = open_append(path)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            fsync,
            open: Mutex::new(open),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one line (`json` must hold no newline) with one write; on failure the file
    /// is cut back to its last whole line.
    pub fn append(&self, json: &[u8]) -> Result<(), String> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json);
        line.push(b'\n');
        let mut open = self.lock();
        let written = (&open.file)
            .write_all(&line)
            .and_then(|()| match self.fsync {
                OutFsync::Always => open.file.sync_data(),
                OutFsync::Never => Ok(()),
            });
        match written {
            Ok(()) => {
                open.good += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                let cut = open.file.set_len(open.good);
                let mut message = self.error(&e.to_string());
                if let Err(cut) = cut {
                    message = format!("{message}; truncating back to the last line: {cut}");
                }
                Err(message)
            }
        }
    }

    /// Syncs the current file and opens the path again (after a rename-based rotation).
    pub fn reopen(&self) -> Result<(), String> {
        let fresh = open_append(&self.path)?;
        let mut open = self.lock();
        let _ = open.file.sync_all();
        *open = fresh;
        Ok(())
    }

    /// Syncs to disk; called on shutdown.
    pub fn close(&self) -> Result<(), String> {
        self.lock()
            .file
            .sync_all()
            .map_err(|e| self.error(&e.to_string()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: &str) -> String {
        format!("--out {}: {message}", self.path.display())
    }
}

fn open_append(path: &Path) -> Result<Open, String> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("--out {}: cannot open for appending: {e}", path.display()))?;
    // A fragment left by a crash mid-write (before this process) is cut off here, so the
    // first line written now starts on a line of its own.
    let data_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let good = match last_newline_end(path, data_len) {
        Some(end) if end < data_len => {
            let _ = file.set_len(end);
            end
        }
        _ => data_len,
    };
    Ok(Open { file, good })
}

/// The offset just after the last newline of a file of `len` bytes (0 if none).
fn last_newline_end(path: &Path, len: u64) -> Option<u64> {
    use std::io::{Read, Seek, SeekFrom};
    if len == 0 {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = buf.get_mut(..(end - start) as usize)?;
        file.seek(SeekFrom::Start(start)).ok()?;
        file.read_exact(chunk).ok()?;
        if let Some(at) = chunk.iter().rposition(|&b| b == b'\n') {
            return Some(start + at as u64 + 1);
        }
        end = start;
    }
    Some(0)
}

/// The file's writer thread: takes batches off `queue` in order and writes each as a
/// line, retrying a failed write every `retry` (doubling to 5 s) until it succeeds or
/// `abandon` is set (the shutdown timeout passed).
pub fn spawn_writer(
    sink: Arc<FileSink>,
    queue: Arc<Queue>,
    metrics: Arc<RelayMetrics>,
    abandon: Arc<crate::sender::Abandon>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("relink-out".into())
        .spawn(move || loop {
            let batch = match queue.pop(Duration::from_millis(200)) {
                Popped::Batch(batch) => batch,
                Popped::Empty => continue,
                Popped::Closed => return,
            };
            let bytes = batch.bytes();
            let line = match json_line(batch.encoding, &batch.body) {
                Ok(line) => line,
                Err(message) => {
                    eprintln!("relink: {message}: the batch is not written to the file");
                    metrics.dropped("file", "not_otlp");
                    queue.finish(bytes);
                    continue;
                }
            };
            let mut wait = Duration::from_millis(100);
            let started = Instant::now();
            loop {
                match sink.append(&line) {
                    Ok(()) => {
                        metrics.count(Event::FileLine);
                        queue.finish(bytes);
                        break;
                    }
                    Err(message) => {
                        metrics.count(Event::FileError);
                        if started.elapsed() < wait * 2 {
                            eprintln!("relink: {message} (retrying)");
                        }
                        if abandon.sleep(wait) {
                            // Left unfinished: the shutdown counts it as not written.
                            return;
                        }
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                }
            }
        })
}

/// The relinked request as one line of OTLP/JSON, whatever its encoding. Protobuf is
/// transcoded straight from its bytes (the same line decoding it and encoding the model
/// would give, at a fraction of the cost); JSON is re-encoded, since an unchanged
/// pretty-printed input would otherwise span many lines.
pub fn json_line(encoding: Encoding, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let line = match encoding {
        Encoding::Protobuf => otlp::protobuf_to_json(bytes),
        Encoding::Json => otlp::decode_json(bytes).map(|request| otlp::encode_json(&request)),
    };
    line.map_err(|e| format!("--out: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_left_by_a_crash_is_cut_at_open() {
        let path = std::env::temp_dir().join(format!("relink-out-{}.jsonl", std::process::id()));
        let _ = std::fs::write(&path, b"{\"a\":1}\n{\"frag");
        let sink = FileSink::open(&path, OutFsync::Always).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sink.append(b"{\"b\":2}"), Ok(()));
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("{\"a\":1}\n{\"b\":2}\n")
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_failed_write_leaves_no_fragment() {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let full = Path::new("/dev/full");
        let sink = FileSink::open(full, OutFsync::Never).unwrap_or_else(|e| panic!("{e}"));
        let error = sink.append(b"{}").err().unwrap_or_default();
        assert!(
            error.starts_with("--out /dev/full: No space left"),
            "{error}"
        );
    }
}
