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
//! Replay stops reading a segment at a record whose length runs past the end (a torn tail
//! from a crash mid-write: nothing after it was ever acknowledged); a record that fits but
//! fails its checksum, encoding or length (a damaged disk block) is skipped up to the next
//! whole record whose checksum holds, so it costs only the records it touched. Each damaged
//! place is counted.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use relink::otlp::Encoding;

/// A segment is closed and a new one started past this size.
pub const SEGMENT_BYTES: u64 = 8 << 20;
/// Length and checksum before each record's payload.
const PREFIX: usize = 8;

/// Where a batch is in the spool: its segment and its place among the segment's intact
/// records; [`Spool::release`] it once it is delivered or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// A segment's records: which were delivered (or given up), how many were not, and the
/// segment's size (counted off the spool when it goes, even if something removed it).
#[derive(Debug, Default)]
struct Live {
    delivered: Vec<bool>,
    pending: usize,
    bytes: u64,
    /// Found removed (its bytes already counted off the spool).
    gone: bool,
}

impl Live {
    fn with(records: usize, bytes: u64) -> Live {
        Live {
            delivered: vec![false; records],
            pending: records,
            bytes,
            gone: false,
        }
    }
}

/// What a clean stop left: batches kept for the next start, and batches acknowledged into
/// segments that were removed while the relay ran, which nothing holds any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retired {
    pub left: usize,
    pub lost: usize,
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
    /// `DIR/lock`, locked (`flock`) while this spool is open: see [`lock_dir`].
    _lock: File,
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
    /// When the last append was refused, unless one succeeded or a segment was deleted
    /// since: see [`Spool::is_refusing`].
    refused_at: Mutex<Option<Instant>>,
    /// A segment was found removed while in use, and the queue has not yet written its
    /// batches again: see [`Spool::take_removed`].
    removed: AtomicBool,
    /// When the closed segments were last checked for removal.
    checked_at: Mutex<Instant>,
    /// Batches of removed segments that nothing held in memory (replay had not read them).
    lost: Mutex<usize>,
}

/// How long a refusal keeps the relay not ready: as long as the refused client is asked to
/// wait (`Retry-After: 10`), after which a batch tries again whether room was made or not.
const REFUSING_FOR: Duration = Duration::from_secs(10);
/// How often an append checks that the closed segments holding queued batches are still
/// there (a cleaner deleting old files).
const CHECK_EVERY: Duration = Duration::from_secs(1);

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
        let lock = lock_dir(dir)?;
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
            live.insert(segment, Live::with(found.len(), data.len() as u64));
            records += found.len() as u64;
            replay.push(segment);
        }
        // Numbers only grow, so a segment named u64::MAX (a copied or renamed spool) leaves
        // none to write next: refused, rather than wrapping onto a segment being replayed.
        let next = match segments.last() {
            None => 1,
            Some(last) => last.checked_add(1).ok_or_else(|| {
                format!(
                    "--spool {}: segment {last} has the largest number a segment can have; \
                     rename the segment files to smaller numbers, in the same order",
                    dir.display()
                )
            })?,
        };
        let file = create_segment(dir, next).map_err(error)?;
        live.insert(next, Live::default());
        let spool = Spool {
            dir: dir.to_path_buf(),
            _lock: lock,
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
            refused_at: Mutex::new(None),
            removed: AtomicBool::new(false),
            checked_at: Mutex::new(Instant::now()),
            lost: Mutex::new(0),
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
        let appended = self.write(encoding, body);
        *lock(&self.refused_at) = appended.is_err().then(Instant::now);
        appended
    }

    fn write(&self, encoding: Encoding, body: &[u8]) -> Result<Record, String> {
        if body.len() >= u32::MAX as usize {
            return Err(format!(
                "a batch of {} bytes is too large for the spool",
                body.len()
            ));
        }
        let record = encode_record(encoding, body);
        let (at, end) = {
            let mut writer = lock(&self.writer);
            // Something removed the segment being written (or the whole directory): a
            // record written there would be acknowledged and lost. Start another segment
            // (refusing this batch, which the client retries, if none can be made); the
            // queue writes the batches it still holds from removed segments again
            // (`take_removed`).
            if is_unlinked(&writer.file) {
                let segment = writer.segment;
                self.removed_segment(segment);
                self.mark_gone(segment);
                self.roll(&mut writer).map_err(|e| {
                    format!(
                        "spool {}: segment {segment} was removed while in use and no other \
                         can be made ({e})",
                        self.dir.display()
                    )
                })?;
            }
            self.check_closed(writer.segment);
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
            if writer.written >= self.segment_bytes() {
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
            if let Err(e) = (&*writer.file).write_all(&record) {
                // Cut the partial record off so the segment stays readable.
                let _ = writer.file.set_len(writer.written);
                let mut bytes = lock(&self.bytes);
                *bytes = bytes.saturating_sub(record.len() as u64);
                return Err(format!("spool {}: {e}", self.dir.display()));
            }
            writer.written += record.len() as u64;
            let mut live = lock(&self.live);
            let entry = live.entry(writer.segment).or_default();
            entry.delivered.push(false);
            entry.pending += 1;
            entry.bytes += record.len() as u64;
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
        let next = writer.segment.checked_add(1).ok_or_else(|| {
            format!(
                "spool {}: no segment number after {}",
                self.dir.display(),
                writer.segment
            )
        })?;
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
        if let Some(size) = live
            .get(&closed.segment)
            .filter(|l| l.pending == 0)
            .map(|l| l.bytes)
        {
            live.remove(&closed.segment);
            drop(live);
            self.remove(closed.segment, size);
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
            let size = l.bytes;
            live.remove(&segment);
            drop(live);
            self.remove(segment, size);
        }
    }

    /// At a clean shutdown: deletes every segment whose records have all been delivered or
    /// given up (the current one too: while running it stays until closed, so a quiet
    /// moment costs no file churn), and rewrites every other segment holding delivered
    /// records with its undelivered ones alone, so the next start sends nothing twice. A
    /// segment is replaced whole (written aside, synced, renamed), so a crash meanwhile
    /// leaves the old one. Returns the batches left in the spool, and those lost with
    /// segments removed while the relay ran (the queue wrote again those it still held).
    pub fn retire(&self) -> Retired {
        let writer = lock(&self.writer);
        let mut live = lock(&self.live);
        let (mut left, mut lost) = (0, 0);
        let segments: Vec<u64> = live.keys().copied().collect();
        for segment in segments {
            let Some(l) = live.get(&segment) else {
                continue;
            };
            let size = l.bytes;
            if l.pending > 0 && !segment_path(&self.dir, segment).exists() {
                lost += l.pending;
                live.remove(&segment);
                self.remove(segment, size);
                continue;
            }
            left += l.pending;
            if l.pending == 0 {
                live.remove(&segment);
                self.remove(segment, size);
            } else if l.pending < l.delivered.len() {
                match self.compact(segment, &l.delivered) {
                    Ok(kept) => {
                        if let Some(l) = live.get_mut(&segment) {
                            l.bytes = kept;
                        }
                    }
                    Err(e) => {
                        eprintln!("relink: spool: {e}; its delivered batches will be sent again")
                    }
                }
            }
        }
        drop(writer);
        lost += *lock(&self.lost);
        Retired { left, lost }
    }

    /// Rewrites `segment` with the records not `delivered`; its new size.
    fn compact(&self, segment: u64, delivered: &[bool]) -> Result<u64, String> {
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
        Ok(kept.len() as u64)
    }

    /// Deletes a segment whose records are all delivered (or given up), or that something
    /// else removed already, and counts its bytes off the spool.
    fn remove(&self, segment: u64, size: u64) {
        let removed = std::fs::remove_file(segment_path(&self.dir, segment));
        let gone = match &removed {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        };
        if gone {
            let mut bytes = lock(&self.bytes);
            *bytes = bytes.saturating_sub(size);
        }
        if removed.is_ok() {
            // Room was made: worth trying again.
            *lock(&self.refused_at) = None;
        }
        sync_dir(&self.dir);
    }

    /// Whether the spool refused its last batch less than [`REFUSING_FOR`] ago and no
    /// segment was deleted since: the relay is not ready (a load balancer should send
    /// elsewhere).
    pub fn is_refusing(&self) -> bool {
        lock(&self.refused_at).is_some_and(|at| at.elapsed() < REFUSING_FOR)
    }

    /// Says that `segment` was removed (once: callers check it is newly gone), and has the
    /// queue write its batches again.
    fn removed_segment(&self, segment: u64) {
        let known = lock(&self.live).get(&segment).is_some_and(|l| l.gone);
        self.removed.store(true, Ordering::Relaxed);
        if !known {
            eprintln!(
                "relink: spool {}: segment {segment} was removed while the relay runs; the \
                 batches it still holds from it are written again",
                self.dir.display()
            );
        }
    }

    /// At most every [`CHECK_EVERY`]: whether a closed segment with batches not yet
    /// delivered was removed (a cleaner deleting old files).
    fn check_closed(&self, current: u64) {
        {
            let mut checked_at = lock(&self.checked_at);
            if checked_at.elapsed() < CHECK_EVERY {
                return;
            }
            *checked_at = Instant::now();
        }
        let waiting: Vec<u64> = lock(&self.live)
            .iter()
            .filter(|(&s, l)| s != current && l.pending > 0 && !l.gone)
            .map(|(&s, _)| s)
            .collect();
        for segment in waiting {
            if !segment_path(&self.dir, segment).exists() {
                self.removed_segment(segment);
                self.mark_gone(segment);
            }
        }
    }

    /// A removed segment's bytes are counted off the spool once, when it is found gone;
    /// its records stay pending until the batches held in memory are written again.
    fn mark_gone(&self, segment: u64) {
        let freed = match lock(&self.live).get_mut(&segment) {
            Some(l) if !l.gone => {
                l.gone = true;
                std::mem::take(&mut l.bytes)
            }
            _ => 0,
        };
        let mut bytes = lock(&self.bytes);
        *bytes = bytes.saturating_sub(freed);
    }

    /// A segment replay could not read (removed before it got there): its batches are in
    /// no memory, so they are lost, and the stop says so.
    pub fn unreadable(&self, segment: u64) {
        self.mark_gone(segment);
        if let Some(l) = lock(&self.live).remove(&segment) {
            *lock(&self.lost) += l.pending;
        }
    }

    /// Whether a segment was found removed since the last call: the queue should then
    /// [`Spool::respool`] what it holds.
    pub fn take_removed(&self) -> bool {
        self.removed.swap(false, Ordering::Relaxed)
    }

    /// Whether a segment holding batches not yet delivered was removed.
    pub fn lost_segments(&self) -> bool {
        lock(&self.live)
            .iter()
            .any(|(&s, l)| l.pending > 0 && !segment_path(&self.dir, s).exists())
    }

    /// Whether `record`'s segment is still on disk.
    pub fn holds(&self, record: Record) -> bool {
        segment_path(&self.dir, record.segment).exists()
    }

    /// A batch whose segment was removed (by an operator or a cleaner, while the relay ran),
    /// written again by the one holding it (a sender): its new record, its old one released;
    /// `None` when its segment is there.
    pub fn respool(
        &self,
        encoding: Encoding,
        body: &[u8],
        record: Record,
    ) -> Result<Option<Record>, String> {
        if self.holds(record) {
            return Ok(None);
        }
        let again = self.append(encoding, body)?;
        self.release(record);
        Ok(Some(again))
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

/// Locks `DIR/lock` for this process (`flock`, released by the kernel however the
/// process ends) and writes its pid there. Two relays on one spool would each replay and
/// delete the other's segments, losing batches one of them acknowledged: the second is
/// refused, naming the first.
fn lock_dir(dir: &Path) -> Result<File, String> {
    use std::io::{Read, Seek};
    use std::os::unix::io::AsRawFd;
    let path = dir.join("lock");
    let error = |e: std::io::Error| format!("--spool {}: {e}", path.display());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(error)?;
    // SAFETY: flock on a descriptor this function owns; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let holder = match holder.trim() {
            "" => String::new(),
            pid => format!(" (pid {pid})"),
        };
        return Err(format!(
            "--spool {}: in use by another relay{holder}; two relays on one spool would \
             delete each other's batches",
            dir.display()
        ));
    }
    file.set_len(0).map_err(error)?;
    file.rewind().map_err(error)?;
    writeln!(file, "{}", std::process::id()).map_err(error)?;
    Ok(file)
}

/// Whether `file` no longer has a name (its segment, or the spool, was removed).
fn is_unlinked(file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    file.metadata().is_ok_and(|m| m.nlink() == 0)
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

/// The intact records of a segment, and how many damaged places were skipped.
///
/// A record whose length runs past the end (or a header cut short) is the segment's torn
/// tail, from a crash mid-write: reading stops there, since nothing after it was ever
/// acknowledged (its body may hold anything, even bytes shaped like a record). A record
/// that fits but whose length is zero or whose checksum or encoding is wrong is a damaged
/// block: reading resumes where its length says the next record starts when a whole record
/// is there (a damaged body), else at the next place where a whole record with a good
/// checksum starts, so the damage costs only the records it touched. The search spends at most
/// [`RESYNC_WORK`] times the segment's size on checksums, so a segment damaged into a
/// repeating pattern cannot stall the start; what it does not reach counts as lost.
fn read_records(data: &[u8]) -> (Vec<(Encoding, Vec<u8>)>, u64) {
    let mut out = Vec::new();
    let mut damaged = 0;
    let mut budget = data.len().saturating_mul(RESYNC_WORK);
    let mut at = 0;
    while at < data.len() {
        let rest = data.get(at..).unwrap_or_default();
        let Some((length, crc, payload)) = split_record(rest) else {
            return (out, damaged + 1);
        };
        if let Some((encoding, body)) = checked(length, crc, payload) {
            out.push((encoding, body.to_vec()));
            at += PREFIX + length;
            continue;
        }
        damaged += 1;
        // A damaged body under a good length: the next record starts where the length
        // says, and nothing inside the damaged body is taken for a record.
        let claimed = at + PREFIX + length;
        let found = std::iter::once(claimed)
            .chain(at + 1..data.len())
            .find(|&i| whole_at(data, i, &mut budget));
        match found {
            Some(next) => at = next,
            None => break,
        }
    }
    (out, damaged)
}

/// Checksum work [`read_records`] may spend looking for the next record after damage, as a
/// multiple of the segment's size.
const RESYNC_WORK: usize = 8;

/// Whether a whole record with a good checksum starts at `data[i..]`, spending its length
/// from `budget` (nothing for an implausible header: an unknown encoding byte).
fn whole_at(data: &[u8], i: usize, budget: &mut usize) -> bool {
    let Some((length, crc, payload)) = split_record(data.get(i..).unwrap_or_default()) else {
        return false;
    };
    if !matches!(payload.first(), Some(0 | 1)) || *budget < length {
        return false;
    }
    *budget -= length;
    checked(length, crc, payload).is_some()
}

/// A record's encoding and body when its length is not zero and its checksum and encoding
/// byte are good.
fn checked(length: usize, crc: u32, payload: &[u8]) -> Option<(Encoding, &[u8])> {
    let encoding = match payload.first() {
        Some(0) => Encoding::Protobuf,
        Some(1) => Encoding::Json,
        _ => return None,
    };
    (length > 0 && crc32fast::hash(payload) == crc)
        .then(|| (encoding, payload.get(1..).unwrap_or_default()))
}

/// A record's length, checksum and payload; `None` when the header is cut short or the
/// length runs past the end (a torn tail).
fn split_record(data: &[u8]) -> Option<(usize, u32, &[u8])> {
    let length = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?);
    let payload = data.get(PREFIX..PREFIX.checked_add(length)?)?;
    Some((length, crc, payload))
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
        assert_eq!(spool.retire().left, 1);
        assert!(segment_path(&dir, c.segment).exists());
        spool.release(c);
        assert_eq!(spool.retire().left, 0);
        assert!(!segment_path(&dir, c.segment).exists());
        assert_eq!(spool.bytes(), 0);
        drop(spool);
        let (_, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.records, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A torn tail is the end, even when its body holds bytes shaped like a record (a
    /// client's batch can): nothing after it was acknowledged. And a segment damaged into a
    /// repeating pattern of plausible headers is read in bounded time.
    #[test]
    fn a_segment_with_the_largest_number_is_refused_not_wrapped() {
        // The next number would wrap to 0 and be written over while being replayed.
        let dir = temp("wrap");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        spool
            .append(Encoding::Json, b"kept")
            .unwrap_or_else(|e| panic!("{e}"));
        drop(spool);
        let last = segment_path(&dir, u64::MAX);
        std::fs::rename(segment_path(&dir, 1), &last).unwrap_or_else(|e| panic!("{e}"));
        let refused = Spool::open(&dir, 1 << 30).err().unwrap_or_default();
        assert!(
            refused.contains("segment 18446744073709551615 has the largest number"),
            "{refused}"
        );
        assert!(last.exists(), "the segment is left as it was");
    }

    #[test]
    fn a_torn_tail_is_skipped_and_counted() {
        let dir = temp("torn");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        spool
            .append(Encoding::Json, b"whole")
            .unwrap_or_else(|e| panic!("{e}"));
        let inner = encode_record(Encoding::Json, b"never acknowledged");
        spool
            .append(Encoding::Json, &[&b"torn"[..], &inner, b"away"].concat())
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
        // 8 MiB of `00 00 10 00`: every offset a header with a 1 MiB length that fits.
        let pattern: Vec<u8> = [0u8, 0, 0x10, 0].repeat(2 << 20);
        let started = std::time::Instant::now();
        let (found, damaged) = read_records(&pattern);
        assert!((found.len(), damaged) == (0, 1), "{damaged}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// A damaged body whose length still holds is skipped alone, and whole: a
    /// record-shaped run inside it (a client's batch can hold one) is not replayed.
    #[test]
    fn a_damaged_record_inside_a_segment_is_skipped_alone() {
        let dir = temp("damaged");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let inner = encode_record(Encoding::Json, b"inside");
        for body in [&b"first"[..], &[&b"xx"[..], &inner].concat(), b"third"] {
            spool
                .append(Encoding::Json, body)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        drop(spool);
        let path = segment_path(&dir, 1);
        let mut data = std::fs::read(&path).unwrap_or_default();
        // The second record's body: after the first record (8 + 1 + 5) and its own prefix.
        let at = PREFIX + 1 + 5 + PREFIX + 1;
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

    /// A damaged length (zero, or one that still fits) in the middle of a segment costs
    /// only the records it touched: reading resumes at the next whole record. (A length
    /// past the end reads as a torn tail: see `a_torn_tail_is_skipped_and_counted`.)
    #[test]
    fn a_damaged_length_costs_only_the_records_it_touched() {
        for (name, length) in [("zero", 0u32), ("short", 3), ("off", 40)] {
            let dir = temp(&format!("length-{name}"));
            let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
            for n in 0..6u8 {
                spool
                    .append(Encoding::Json, &[b'a' + n; 20])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            drop(spool);
            let path = segment_path(&dir, 1);
            let mut data = std::fs::read(&path).unwrap_or_default();
            // The third record's length (each record is 8 + 1 + 20 bytes).
            let at = 2 * (PREFIX + 21);
            if let Some(b) = data.get_mut(at..at + 4) {
                b.copy_from_slice(&length.to_le_bytes());
            }
            std::fs::write(&path, &data).unwrap_or_else(|e| panic!("{e}"));
            let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
            let firsts: Vec<u8> = spool
                .read_segment(1)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.body.first().copied())
                .collect();
            assert_eq!(firsts, b"abdef", "{name}");
            assert_eq!((recovered.records, recovered.torn), (5, 1), "{name}");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// A second spool on the same directory is refused while the first is open, naming
    /// it; the lock goes with the first.
    #[test]
    fn one_spool_per_directory() {
        let dir = temp("locked");
        let (first, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let second = Spool::open(&dir, 1 << 30).err().unwrap_or_default();
        assert!(
            second.contains("in use by another relay")
                && second.contains(&format!("(pid {})", std::process::id())),
            "{second}"
        );
        drop(first);
        assert!(Spool::open(&dir, 1 << 30).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A segment removed while in use is not written into: the batch goes to a new
    /// segment, the queue is told, and a batch it held from the removed one is written
    /// again; one nothing wrote again is counted lost at the stop, not kept.
    #[test]
    fn a_removed_segment_is_replaced_and_its_batches_written_again() {
        let dir = temp("removed");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        let queued = spool
            .append(Encoding::Json, b"queued")
            .unwrap_or_else(|e| panic!("{e}"));
        let in_flight = spool
            .append(Encoding::Json, b"in flight")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_file(segment_path(&dir, 1)).unwrap_or_else(|e| panic!("{e}"));
        let next = spool
            .append(Encoding::Json, b"next")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.segment, 2);
        assert!(spool.take_removed() && !spool.take_removed());
        assert!(!spool.holds(queued) && spool.holds(next));
        let again = spool
            .respool(Encoding::Json, b"queued", queued)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.map(|r| r.segment), Some(2));
        assert_eq!(spool.respool(Encoding::Json, b"next", next), Ok(None));
        assert!(!spool.is_refusing());
        assert_eq!(spool.retire(), Retired { left: 2, lost: 1 });
        let _ = in_flight;
        drop(spool);
        let (_, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((recovered.segments, recovered.records), (vec![2], 2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A closed segment removed while its batch waits (a cleaner deleting old files): an
    /// append a second later notices it, its bytes are counted off at once (the spool does
    /// not stay full), and the batch written again is kept.
    #[test]
    fn a_removed_closed_segment_is_noticed_and_its_bytes_freed() {
        let dir = temp("removed-closed");
        // Segments close past 1000 bytes.
        let (spool, _) = Spool::open(&dir, 8000).unwrap_or_else(|e| panic!("{e}"));
        let old = spool
            .append(Encoding::Json, &[b'a'; 1200])
            .unwrap_or_else(|e| panic!("{e}"));
        let second = spool
            .append(Encoding::Json, b"second")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((old.segment, second.segment), (1, 2));
        std::fs::remove_file(segment_path(&dir, 1)).unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(CHECK_EVERY + Duration::from_millis(100));
        spool
            .append(Encoding::Json, b"third")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(spool.take_removed() && spool.lost_segments());
        let on_disk = std::fs::metadata(segment_path(&dir, 2)).map_or(0, |m| m.len());
        assert_eq!(spool.bytes(), on_disk);
        let again = spool.respool(Encoding::Json, &[b'a'; 1200], old);
        assert_eq!(again.ok().flatten().map(|r| r.segment), Some(2));
        assert!(!spool.lost_segments());
        assert_eq!(spool.retire(), Retired { left: 3, lost: 0 });
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A segment removed before replay read it: its batches are in no memory, and the stop
    /// counts them lost.
    #[test]
    fn a_segment_replay_cannot_read_is_counted_lost() {
        let dir = temp("unreadable");
        {
            let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
            for body in [&b"one"[..], b"two"] {
                spool
                    .append(Encoding::Json, body)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let (spool, recovered) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recovered.segments, vec![1]);
        std::fs::remove_file(segment_path(&dir, 1)).unwrap_or_else(|e| panic!("{e}"));
        assert!(spool.read_segment(1).is_err());
        spool.unreadable(1);
        assert_eq!((spool.bytes(), spool.lost_segments()), (0, false));
        assert_eq!(spool.retire(), Retired { left: 0, lost: 2 });
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The spool's directory removed: no segment can be made, the batch is refused and the
    /// relay is not ready.
    #[test]
    fn a_removed_directory_refuses_batches() {
        let dir = temp("removed-dir");
        let (spool, _) = Spool::open(&dir, 1 << 30).unwrap_or_else(|e| panic!("{e}"));
        spool
            .append(Encoding::Json, b"kept")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let refused = spool
            .append(Encoding::Json, b"refused")
            .err()
            .unwrap_or_default();
        assert!(refused.contains("no other can be made"), "{refused}");
        assert!(spool.is_refusing());
        assert_eq!(spool.retire(), Retired { left: 0, lost: 1 });
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
        assert_eq!(spool.retire().left, 2);
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
