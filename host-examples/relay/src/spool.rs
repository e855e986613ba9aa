//! The persistent spool (`--spool DIR`): every batch for the upstream is made durable here
//! before the client's 2xx, replayed at start and deleted once delivered, so neither a
//! crash nor a long outage loses an acknowledged batch (the Collector's persistent queue,
//! Vector's disk buffer).
//!
//! Layout: append-only segment files `NNNNNNNNNNNNNNNNNNNN.seg`, each a run of records
//! `[u32 LE length][u32 LE crc32][u8 encoding][body]` (length counts encoding and body).
//! A segment is closed (synced) once it passes [`SEGMENT_BYTES`] (or an eighth of a smaller
//! `--spool-max-bytes`) and deleted when every record in it has been delivered or given
//! up; a spool filled only by delivered records closes (so deletes) its current segment. A
//! clean stop rewrites the segments still holding delivered records without them.
//! Delivery is at least once: a crash after a delivery but before its segment is deleted
//! replays that batch.
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

/// Where a batch is in the spool: its segment and its place among the segment's intact
/// records; [`Spool::release`] it once it is delivered or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub segment: u64,
    pub index: usize,
}

/// One record read back at start.
pub struct Replayed {
    pub encoding: Encoding,
    pub body: Vec<u8>,
    pub record: Record,
}

/// A segment's records: which were delivered (or given up), and how many were not.
#[derive(Debug, Default)]
struct Live {
    delivered: Vec<bool>,
    pending: usize,
}

impl Live {
    fn with(records: usize) -> Live {
        Live {
            delivered: vec![false; records],
            pending: records,
        }
    }
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
    /// Every segment's records, delivered or not.
    live: Mutex<BTreeMap<u64, Live>>,
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
                if name.ends_with(".seg.new") {
                    // A rewrite (`Spool::retire`) cut short: the segment itself is whole.
                    let _ = std::fs::remove_file(e.path());
                }
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
            live.insert(segment, Live::with(found.len()));
            records += found.len() as u64;
            replay.push(segment);
        }
        let next = segments.last().map_or(1, |s| s + 1);
        let file = create_segment(dir, next).map_err(error)?;
        live.insert(next, Live::default());
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
        let records = read_records(&data).0.into_iter().enumerate();
        Ok(records
            .map(|(index, (encoding, body))| Replayed {
                encoding,
                body,
                record: Record { segment, index },
            })
            .collect())
    }

    /// Appends a batch and returns once it is on disk; the record to [`Spool::release`]
    /// when it is delivered.
    pub fn append(&self, encoding: Encoding, body: &[u8]) -> Result<Record, String> {
        if body.len() >= u32::MAX as usize {
            return Err(format!(
                "a batch of {} bytes is too large for the spool",
                body.len()
            ));
        }
        let record = encode_record(encoding, body);
        let (at, end) = {
            let mut writer = lock(&self.writer);
            let fits = |bytes: u64| bytes == 0 || bytes + record.len() as u64 <= self.max_bytes;
            // Delivered records keep counting until their segment is deleted, and the
            // segment being written is deleted only once closed: when that is all that
            // fills the spool, close it now (it goes at once, nothing in it is waiting).
            let idle = lock(&self.live)
                .get(&writer.segment)
                .is_some_and(|l| l.pending == 0);
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
            let mut live = lock(&self.live);
            let entry = live.entry(writer.segment).or_default();
            entry.delivered.push(false);
            entry.pending += 1;
            let index = entry.delivered.len() - 1;
            (
                Record {
                    segment: writer.segment,
                    index,
                },
                writer.written,
            )
        };
        self.sync_through(at.segment, end)?;
        Ok(at)
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
        live.insert(next, Live::default());
        if live.get(&closed.segment).is_some_and(|l| l.pending == 0) {
            live.remove(&closed.segment);
            drop(live);
            self.remove(closed.segment, closed.written);
        }
        Ok(())
    }

    /// A record was delivered or given up; its segment goes once all of it has.
    pub fn release(&self, record: Record) {
        let Record { segment, index } = record;
        let current = lock(&self.writer).segment;
        let mut live = lock(&self.live);
        let Some(l) = live.get_mut(&segment) else {
            return;
        };
        match l.delivered.get_mut(index) {
            Some(done @ false) => {
                *done = true;
                l.pending = l.pending.saturating_sub(1);
            }
            _ => return,
        }
        if l.pending == 0 && segment != current {
            live.remove(&segment);
            drop(live);
            let size = std::fs::metadata(segment_path(&self.dir, segment)).map_or(0, |m| m.len());
            self.remove(segment, size);
        }
    }

    /// At a clean shutdown: deletes every segment whose records have all been delivered or
    /// given up (the current one too: while running it stays until closed, so a quiet
    /// moment costs no file churn), and rewrites every other segment holding delivered
    /// records with its undelivered ones alone, so the next start sends nothing twice. A
    /// segment is replaced whole (written aside, synced, renamed), so a crash meanwhile
    /// leaves the old one. Returns the batches left in the spool.
    pub fn retire(&self) -> usize {
        let writer = lock(&self.writer);
        let mut live = lock(&self.live);
        let mut left = 0;
        let segments: Vec<u64> = live.keys().copied().collect();
        for segment in segments {
            let Some(l) = live.get(&segment) else {
                continue;
            };
            left += l.pending;
            if l.pending == 0 {
                live.remove(&segment);
                let size =
                    std::fs::metadata(segment_path(&self.dir, segment)).map_or(0, |m| m.len());
                self.remove(segment, size);
            } else if l.pending < l.delivered.len() {
                if let Err(e) = self.compact(segment, &l.delivered) {
                    eprintln!("relink: spool: {e}; its delivered batches will be sent again");
                }
            }
        }
        drop(writer);
        left
    }

    /// Rewrites `segment` with the records not `delivered`.
    fn compact(&self, segment: u64, delivered: &[bool]) -> Result<(), String> {
        let path = segment_path(&self.dir, segment);
        let error = |e: std::io::Error| format!("{}: {e}", path.display());
        let data = std::fs::read(&path).map_err(error)?;
        let kept: Vec<u8> = read_records(&data)
            .0
            .iter()
            .zip(delivered)
            .filter(|(_, done)| !**done)
            .flat_map(|((encoding, body), _)| encode_record(*encoding, body))
            .collect();
        let aside = path.with_extension("seg.new");
        let mut file = File::create(&aside).map_err(error)?;
        file.write_all(&kept).map_err(error)?;
        file.sync_data().map_err(error)?;
        std::fs::rename(&aside, &path).map_err(error)?;
        sync_dir(&self.dir);
        let mut bytes = lock(&self.bytes);
        *bytes = bytes.saturating_sub(data.len() as u64) + kept.len() as u64;
        Ok(())
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
        assert_eq!((a.segment, b.segment, b.index), (1, 1, 1));
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
        let [first, second] = [0, 1].map(|index| Record { segment: 1, index });
        spool.release(first);
        spool.release(first); // twice is once
        assert!(segment_path(&dir, 1).exists());
        spool.release(second);
        assert!(!segment_path(&dir, 1).exists());
        // The current segment goes at a clean shutdown once all of it is delivered, and
        // only then: a clean restart replays nothing already delivered.
        let c = spool
            .append(Encoding::Json, b"{}")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(spool.retire(), 1);
        assert!(segment_path(&dir, c.segment).exists());
        spool.release(c);
        assert_eq!(spool.retire(), 0);
        assert!(!segment_path(&dir, c.segment).exists());
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

    /// A clean stop with batches undelivered keeps those alone: the next start does not
    /// send again what was delivered.
    #[test]
    fn a_clean_stop_keeps_only_the_undelivered_batches() {
        let dir = temp("retire");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let records: Vec<Record> = (0..5u8)
            .map(|n| spool.append(Encoding::Json, &[b'a' + n]))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        for delivered in [0, 2, 3] {
            if let Some(r) = records.get(delivered) {
                spool.release(*r);
            }
        }
        assert_eq!(spool.retire(), 2);
        drop(spool);
        std::fs::write(dir.join("00000000000000000009.seg.new"), b"partial").unwrap_or_default();
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.records, 2);
        let bodies: Vec<Vec<u8>> = recovered
            .segments
            .iter()
            .flat_map(|s| spool.read_segment(*s).unwrap_or_default())
            .map(|r| r.body)
            .collect();
        assert_eq!(bodies, [b"b".to_vec(), b"e".to_vec()]);
        assert!(!dir.join("00000000000000000009.seg.new").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A small `--spool-max-bytes` is not filled for good by batches already delivered,
    /// and an empty spool takes a batch over its limit (as the queue does).
    #[test]
    fn delivered_batches_free_a_small_spool() {
        let dir = temp("small");
        let (spool, _) = Spool::open(&dir, 2000).unwrap_or_else(|e| panic!("{e}"));
        for round in 0..100 {
            let record = spool
                .append(Encoding::Json, &[0; 300])
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            spool.release(record);
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
