//! The persistent spool (`--spool DIR`): every batch for the upstream is made durable here
//! before the client's 2xx, replayed at start and deleted once delivered, so neither a
//! crash nor a long outage loses an acknowledged batch (the Collector's persistent queue,
//! Vector's disk buffer).
//!
//! Layout: append-only segment files `NNNNNNNNNNNNNNNNNNNN.seg`, each a run of records
//! `[u32 LE length][u32 LE crc32][u8 encoding][body]` (length counts encoding and body).
//! A segment is closed (synced) once it passes [`SEGMENT_BYTES`] (or an eighth of a smaller
//! `--spool-max-bytes`) and deleted when every record in it has been delivered or given
//! up; a spool filled only by delivered records closes (so deletes) its current segment. Delivery is at least once: a crash after a
//! delivery but before its segment is deleted replays that batch.
//!
//! Durability is group commit: writers append under one lock, then one `fdatasync` covers
//! every record written before it started, so concurrent clients share a sync. A record
//! that fails to write (disk full) is cut off again, so the segment stays readable.
//!
//! Replay stops reading a segment at the first record whose length runs past the end (a
//! torn tail from a crash mid-write: nothing after it was ever acknowledged); a record
//! inside the segment whose checksum does not match (a damaged disk block) is skipped
//! alone. Both are counted.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use relink::otlp::Encoding;

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 8 << 20;
/// Length and checksum before each record's payload.
const PREFIX: usize = 8;

/// One record read back at start.
pub struct Replayed {
    pub encoding: Encoding,
    pub body: Vec<u8>,
    pub segment: u64,
}

/// What opening the spool found: segments to replay (read one at a time, so replay holds
/// at most one segment in memory besides the queue).
pub struct Recovered {
    pub segments: Vec<u64>,
    pub records: u64,
    /// Damaged places skipped: torn segment tails and records failing their checksum.
    pub torn: u64,
}

struct Writer {
    segment: u64,
    file: Arc<File>,
    /// Bytes written to the current segment (records wholly written).
    written: u64,
}

/// The spool; see the module docs.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    writer: Mutex<Writer>,
    /// `(segment, offset)` known durable.
    synced: Mutex<(u64, u64)>,
    /// Undelivered records per segment.
    live: Mutex<BTreeMap<u64, usize>>,
    /// Bytes in segment files.
    bytes: Mutex<u64>,
    /// When a refusal was last logged, and refusals since: see [`Spool::refusal_to_log`].
    refusals: Mutex<(Option<Instant>, u64)>,
}

/// A spool that stays full or failing refuses at the clients' request rate; its log line
/// comes at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.seg"))
}

fn sync_dir(dir: &Path) {
    // Makes a created or removed segment's name durable; a failure only risks replaying
    // or missing an empty segment, so it is not fatal.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Spool {
    /// Opens (creating) `dir`, reads back every record left there and starts a new segment.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Spool, Recovered), String> {
        let error = |e: std::io::Error| format!("--spool {}: {e}", dir.display());
        std::fs::create_dir_all(dir).map_err(error)?;
        let mut segments: Vec<u64> = std::fs::read_dir(dir)
            .map_err(error)?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str()?.to_string();
                name.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        segments.sort_unstable();
        let (mut replay, mut records, mut torn, mut live, mut bytes) =
            (Vec::new(), 0, 0, BTreeMap::new(), 0);
        for &segment in &segments {
            let path = segment_path(dir, segment);
            let data = std::fs::read(&path).map_err(error)?;
            let (found, damaged) = read_records(&data);
            torn += damaged;
            if found.is_empty() {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            bytes += data.len() as u64;
            live.insert(segment, found.len());
            records += found.len() as u64;
            replay.push(segment);
        }
        let next = segments.last().map_or(1, |s| s + 1);
        let file = create_segment(dir, next).map_err(error)?;
        live.insert(next, 0);
        let spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            writer: Mutex::new(Writer {
                segment: next,
                file: Arc::new(file),
                written: 0,
            }),
            synced: Mutex::new((next, 0)),
            live: Mutex::new(live),
            bytes: Mutex::new(bytes),
            refusals: Mutex::new((None, 0)),
        };
        let recovered = Recovered {
            segments: replay,
            records,
            torn,
        };
        Ok((spool, recovered))
    }

    /// The intact records of a segment found by [`Spool::open`].
    pub fn read_segment(&self, segment: u64) -> Result<Vec<Replayed>, String> {
        let path = segment_path(&self.dir, segment);
        let data = std::fs::read(&path).map_err(|e| format!("spool {}: {e}", path.display()))?;
        let records = read_records(&data).0.into_iter();
        Ok(records
            .map(|(encoding, body)| Replayed {
                encoding,
                body,
                segment,
            })
            .collect())
    }

    /// Appends a batch and returns once it is on disk; the segment to [`Spool::release`]
    /// when it is delivered.
    pub fn append(&self, encoding: Encoding, body: &[u8]) -> Result<u64, String> {
        if body.len() >= u32::MAX as usize {
            return Err(format!(
                "a batch of {} bytes is too large for the spool",
                body.len()
            ));
        }
        let record = encode_record(encoding, body);
        let (segment, end) = {
            let mut writer = lock(&self.writer);
            let fits = |bytes: u64| bytes == 0 || bytes + record.len() as u64 <= self.max_bytes;
            // Delivered records keep counting until their segment is deleted, and the
            // segment being written is deleted only once closed: when that is all that
            // fills the spool, close it now (it goes at once, nothing in it is waiting).
            let idle = lock(&self.live).get(&writer.segment) == Some(&0);
            if !fits(self.bytes()) && idle && writer.written > 0 {
                self.roll(&mut writer)?;
            }
            {
                let mut bytes = lock(&self.bytes);
                // An empty spool takes a batch larger than its limit, as the queue does,
                // so that no batch is refused for ever.
                if !fits(*bytes) {
                    return Err(format!(
                        "the spool is full ({} of --spool-max-bytes {})",
                        *bytes, self.max_bytes
                    ));
                }
                *bytes += record.len() as u64;
            }
            if writer.written >= self.segment_bytes() {
                self.roll(&mut writer)?;
            }
            if let Err(e) = (&*writer.file).write_all(&record) {
                // Cut the partial record off so the segment stays readable.
                let _ = writer.file.set_len(writer.written);
                *lock(&self.bytes) -= record.len() as u64;
                return Err(format!("spool {}: {e}", self.dir.display()));
            }
            writer.written += record.len() as u64;
            *lock(&self.live).entry(writer.segment).or_default() += 1;
            (writer.segment, writer.written)
        };
        self.sync_through(segment, end)?;
        Ok(segment)
    }

    /// Group commit: returns once `(segment, end)` is durable, syncing if no one else has.
    fn sync_through(&self, segment: u64, end: u64) -> Result<(), String> {
        let mut synced = lock(&self.synced);
        if *synced >= (segment, end) {
            return Ok(());
        }
        let (current, file, written) = {
            let writer = lock(&self.writer);
            (writer.segment, writer.file.clone(), writer.written)
        };
        // An older segment was synced when it was closed.
        if current > segment {
            return Ok(());
        }
        file.sync_data()
            .map_err(|e| format!("spool {}: sync: {e}", self.dir.display()))?;
        *synced = (current, written);
        Ok(())
    }

    /// Closes the current segment (synced) and starts the next.
    fn roll(&self, writer: &mut Writer) -> Result<(), String> {
        let error = |e: std::io::Error| format!("spool {}: {e}", self.dir.display());
        writer.file.sync_data().map_err(error)?;
        let next = writer.segment + 1;
        let file = create_segment(&self.dir, next).map_err(error)?;
        let closed = std::mem::replace(
            writer,
            Writer {
                segment: next,
                file: Arc::new(file),
                written: 0,
            },
        );
        let mut live = lock(&self.live);
        live.insert(next, 0);
        if live.get(&closed.segment) == Some(&0) {
            live.remove(&closed.segment);
            drop(live);
            self.remove(closed.segment, closed.written);
        }
        Ok(())
    }

    /// A record of `segment` was delivered or given up; the segment goes once all have.
    pub fn release(&self, segment: u64) {
        let current = lock(&self.writer).segment;
        let mut live = lock(&self.live);
        let Some(count) = live.get_mut(&segment) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0 && segment != current {
            live.remove(&segment);
            drop(live);
            let size = std::fs::metadata(segment_path(&self.dir, segment)).map_or(0, |m| m.len());
            self.remove(segment, size);
        }
    }

    /// At a clean shutdown: deletes the current segment when every record in it has been
    /// delivered or given up, so the next start does not send them again. (While running,
    /// the current segment stays until it is closed, so a quiet moment costs no file churn.)
    pub fn retire_current(&self) {
        let writer = lock(&self.writer);
        let mut live = lock(&self.live);
        if live.get(&writer.segment) == Some(&0) {
            live.remove(&writer.segment);
            drop(live);
            self.remove(writer.segment, writer.written);
        }
    }

    fn remove(&self, segment: u64, size: u64) {
        if std::fs::remove_file(segment_path(&self.dir, segment)).is_ok() {
            let mut bytes = lock(&self.bytes);
            *bytes = bytes.saturating_sub(size);
        }
        sync_dir(&self.dir);
    }

    /// Counts a refused append; `Some(refused since the last line)` when this one should be
    /// logged (the first, then at most once per ten seconds).
    pub fn refusal_to_log(&self) -> Option<u64> {
        let mut refusals = lock(&self.refusals);
        refusals.1 += 1;
        let due = refusals
            .0
            .is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY);
        due.then(|| std::mem::replace(&mut *refusals, (Some(Instant::now()), 0)).1)
    }

    /// Where the segment being written is closed: [`SEGMENT_BYTES`], or an eighth of a
    /// smaller spool, so that delivered batches free their space in steps well below it.
    fn segment_bytes(&self) -> u64 {
        SEGMENT_BYTES.min(self.max_bytes / 8).max(1)
    }

    /// Bytes held in segment files.
    pub fn bytes(&self) -> u64 {
        *lock(&self.bytes)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn create_segment(dir: &Path, segment: u64) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, segment))?;
    sync_dir(dir);
    Ok(file)
}

fn encode_record(encoding: Encoding, body: &[u8]) -> Vec<u8> {
    let tag = match encoding {
        Encoding::Protobuf => 0u8,
        Encoding::Json => 1u8,
    };
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[tag]);
    crc.update(body);
    let length = u32::try_from(body.len() + 1).unwrap_or(u32::MAX);
    let mut record = Vec::with_capacity(PREFIX + 1 + body.len());
    record.extend_from_slice(&length.to_le_bytes());
    record.extend_from_slice(&crc.finalize().to_le_bytes());
    record.push(tag);
    record.extend_from_slice(body);
    record
}

/// The intact records of a segment, and how many damaged places were skipped: a record
/// whose length runs past the end (a torn tail: the rest of the segment), or one within the
/// segment whose checksum or encoding is wrong (that record alone: its length still says
/// where the next one starts, and the next one's checksum vouches for it).
fn read_records(data: &[u8]) -> (Vec<(Encoding, Vec<u8>)>, u64) {
    let mut out = Vec::new();
    let mut damaged = 0;
    let mut rest = data;
    while !rest.is_empty() {
        let Some((length, crc, payload)) = split_record(rest) else {
            return (out, damaged + 1);
        };
        let encoding = match payload.first() {
            Some(0) => Some(Encoding::Protobuf),
            Some(1) => Some(Encoding::Json),
            _ => None,
        };
        match encoding.filter(|_| crc32fast::hash(payload) == crc) {
            Some(encoding) => out.push((encoding, payload.get(1..).unwrap_or_default().to_vec())),
            None => damaged += 1,
        }
        rest = rest.get(PREFIX + length..).unwrap_or_default();
    }
    (out, damaged)
}

fn split_record(data: &[u8]) -> Option<(usize, u32, &[u8])> {
    let length = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    let payload = data.get(PREFIX..PREFIX.checked_add(length)?)?;
    (length > 0).then_some((length, crc, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("relink-spool-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn records_survive_reopen_and_delivered_segments_go() {
        let dir = temp("reopen");
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.records, 0);
        let a = spool
            .append(Encoding::Json, b"{}")
            .unwrap_or_else(|e| panic!("{e}"));
        let b = spool
            .append(Encoding::Protobuf, b"\x0a\x00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((a, b), (1, 1));
        drop(spool);
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (recovered.segments.as_slice(), recovered.records),
            (&[1][..], 2)
        );
        let records = spool.read_segment(1).unwrap_or_else(|e| panic!("{e}"));
        let bodies: Vec<&[u8]> = records.iter().map(|r| r.body.as_slice()).collect();
        assert_eq!(bodies, [&b"{}"[..], &b"\x0a\x00"[..]]);
        assert_eq!(recovered.torn, 0);
        spool.release(1);
        assert!(segment_path(&dir, 1).exists());
        spool.release(1);
        assert!(!segment_path(&dir, 1).exists());
        // The current segment goes at a clean shutdown once all of it is delivered, and
        // only then: a clean restart replays nothing already delivered.
        let c = spool
            .append(Encoding::Json, b"{}")
            .unwrap_or_else(|e| panic!("{e}"));
        spool.retire_current();
        assert!(segment_path(&dir, c).exists());
        spool.release(c);
        spool.retire_current();
        assert!(!segment_path(&dir, c).exists());
        assert_eq!(spool.bytes(), 0);
        drop(spool);
        let (_, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.records, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_skipped_and_counted() {
        let dir = temp("torn");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        spool
            .append(Encoding::Json, b"whole")
            .unwrap_or_else(|e| panic!("{e}"));
        spool
            .append(Encoding::Json, b"torn away")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(spool);
        let path = segment_path(&dir, 1);
        let len = std::fs::metadata(&path).map_or(0, |m| m.len());
        let file = OpenOptions::new().write(true).open(&path);
        let _ = file.map(|f| f.set_len(len - 3));
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.records, 1);
        let records = spool.read_segment(1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            records.first().map(|r| r.body.as_slice()),
            Some(&b"whole"[..])
        );
        assert_eq!(recovered.torn, 1);
        assert!(spool.append(Encoding::Json, &[0; 64]).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_record_inside_a_segment_is_skipped_alone() {
        let dir = temp("damaged");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        for body in [&b"first"[..], b"second", b"third"] {
            spool
                .append(Encoding::Json, body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(spool);
        let path = segment_path(&dir, 1);
        let mut data = std::fs::read(&path).unwrap_or_default();
        // The second record's body: after the first record (8 + 1 + 5) and its own prefix.
        let at = PREFIX + 1 + 5 + PREFIX + 2;
        if let Some(b) = data.get_mut(at) {
            *b ^= 0xff;
        }
        std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let bodies: Vec<Vec<u8>> = spool
            .read_segment(1)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.body)
            .collect();
        assert_eq!(bodies, [b"first".to_vec(), b"third".to_vec()]);
        assert_eq!((recovered.records, recovered.torn), (2, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A small `--spool-max-bytes` is not filled for good by batches already delivered,
    /// and an empty spool takes a batch over its limit (as the queue does).
    #[test]
    fn delivered_batches_free_a_small_spool() {
        let dir = temp("small");
        let (spool, _) = Spool::open(&dir, 2000).unwrap_or_else(|e| panic!("{e}"));
        for round in 0..100 {
            let segment = spool
                .append(Encoding::Json, &[0; 300])
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            spool.release(segment);
        }
        let big = spool
            .append(Encoding::Json, &[0; 5000])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(spool
            .append(Encoding::Json, &[0; 64])
            .is_err_and(|e| e.contains("full")));
        spool.release(big);
        assert!(spool.append(Encoding::Json, &[0; 64]).is_ok());
        // Refusals are logged once, then at most every ten seconds.
        assert_eq!(spool.refusal_to_log(), Some(1));
        assert_eq!(spool.refusal_to_log(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
