//! The oracle's durable Raft log: one append-only file of framed records
//! ([`super::record`]) holding entries, votes, the committed log id,
//! truncations and purges, replayed into memory on open.
//!
//! Durability rules (what openraft relies on):
//! - an append is acknowledged (its `IOFlushed` callback fires) only after
//!   the records are written and `fdatasync`ed;
//! - a vote, the committed id, a truncation and a purge return only after
//!   their record is synced;
//! - all writes go through one writer thread in submission order, so a vote
//!   and an append are never reordered on disk;
//! - on open, a torn tail (an incomplete record, or one failing its
//!   checksum) is cut off and the file is shortened to its valid prefix
//!   before anything new is written.
//!
//! Purged and truncated entries stay in the file as dead records until the
//! file outgrows [`COMPACT_ABOVE`]; then the writer rewrites it with only the
//! live state (to a temporary file, synced, renamed over the old one, and the
//! directory synced).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::LogState;
use openraft::RaftLogReader;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::record::{self, MAX_RECORD_LEN};
use super::types::{OracleEntry, OracleLogId, OracleTypes, OracleVote};

/// The magic opening a log file (kind and format version).
const MAGIC: &[u8; 8] = b"ITHLOG01";
/// The log file's name inside the data directory.
pub(crate) const LOG_FILE: &str = "raft-log";
/// The file size above which the writer compacts after a purge.
pub(crate) const COMPACT_ABOVE: u64 = 4 * 1024 * 1024;

/// One durable change to the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum Record {
    /// An appended entry (replaces any entry at the same index or later).
    Entry(OracleEntry),
    /// The vote.
    Vote(OracleVote),
    /// The last committed log id.
    Committed(Option<OracleLogId>),
    /// Entries after this log id are gone.
    TruncateAfter(Option<OracleLogId>),
    /// Entries up to this log id (inclusive) are gone.
    Purge(OracleLogId),
}

/// The log's state in memory, rebuilt from the file on open.
#[derive(Debug, Default, Clone)]
struct LogMem {
    entries: BTreeMap<u64, OracleEntry>,
    purged: Option<OracleLogId>,
    vote: Option<OracleVote>,
    committed: Option<OracleLogId>,
}

impl LogMem {
    fn apply(&mut self, record: Record) {
        match record {
            Record::Entry(entry) => {
                let index = entry.index();
                // An append at `index` supersedes whatever followed it.
                let _dropped = self.entries.split_off(&index);
                self.entries.insert(index, entry);
            }
            Record::Vote(vote) => self.vote = Some(vote),
            Record::Committed(committed) => self.committed = committed,
            Record::TruncateAfter(last) => {
                let from = last.map_or(0, |id| id.index().saturating_add(1));
                let _dropped = self.entries.split_off(&from);
            }
            Record::Purge(upto) => {
                let keep = self.entries.split_off(&upto.index().saturating_add(1));
                self.entries = keep;
                if self
                    .purged
                    .as_ref()
                    .is_none_or(|p| p.index() < upto.index())
                {
                    self.purged = Some(upto);
                }
            }
        }
    }

    /// The records that rebuild this state (used when compacting).
    fn image(&self) -> Vec<Record> {
        let mut records = Vec::with_capacity(self.entries.len() + 3);
        if let Some(vote) = &self.vote {
            records.push(Record::Vote(*vote));
        }
        if let Some(purged) = &self.purged {
            records.push(Record::Purge(*purged));
        }
        records.push(Record::Committed(self.committed));
        records.extend(self.entries.values().cloned().map(Record::Entry));
        records
    }
}

/// What a caller waits on once its records are synced.
enum Completion {
    /// openraft's append callback.
    Flushed(IOFlushed<OracleTypes>),
    /// A waiting async caller.
    Notify(oneshot::Sender<io::Result<()>>),
}

impl Completion {
    fn complete(self, result: io::Result<()>) {
        match self {
            Self::Flushed(callback) => callback.io_completed(result),
            Self::Notify(sender) => {
                // The caller may have given up waiting; nothing to do then.
                let _ignored = sender.send(result);
            }
        }
    }
}

/// A job for the writer thread.
enum WriteJob {
    /// Append these framed bytes and sync.
    Append {
        bytes: Vec<u8>,
        completion: Completion,
    },
    /// Rewrite the file from this image (framed bytes, without magic).
    Compact {
        image: Vec<u8>,
        completion: Completion,
    },
}

/// Outcome of opening a log file (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenReport {
    /// Records replayed.
    pub(crate) records: usize,
    /// Bytes cut from a torn or corrupt tail.
    pub(crate) cut_bytes: u64,
}

/// The durable log (cheap to clone: clones share the state and writer).
#[derive(Clone)]
pub(crate) struct FileLog {
    mem: Arc<Mutex<LogMem>>,
    writer: mpsc::Sender<WriteJob>,
    sizes: Arc<FileSizes>,
}

/// The file's size, kept by the writer thread.
#[derive(Debug, Default)]
struct FileSizes {
    /// Current length in bytes.
    file_len: AtomicU64,
    /// Length right after the last compaction.
    compacted_len: AtomicU64,
}

impl Debug for FileLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileLog").finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn frame(records: &[Record], out: &mut Vec<u8>) -> io::Result<()> {
    for rec in records {
        let payload = serde_json::to_vec(rec).map_err(|e| invalid(e.to_string()))?;
        if payload.len() > MAX_RECORD_LEN {
            return Err(invalid(format!(
                "log record of {} bytes exceeds the {MAX_RECORD_LEN}-byte limit",
                payload.len()
            )));
        }
        record::encode(&payload, out);
    }
    Ok(())
}

/// Syncs a directory so a rename or creation inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Why a log file's contents were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogFileError {
    /// The file does not start with the oracle log's magic.
    #[error("not an oracle log (bad magic)")]
    BadMagic,
    /// A record passed its checksum but does not decode: written by another
    /// format version, or by something else entirely.
    #[error("record {record} does not decode: {message}")]
    Undecodable {
        /// The record's position, from 0.
        record: usize,
        /// What the decoder said.
        message: String,
    },
}

/// What a log file holds, as [`inspect_log`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogReport {
    /// Records replayed.
    pub records: usize,
    /// Bytes of a torn or corrupt tail that opening the log would cut.
    pub cut_bytes: u64,
    /// Index of the first entry held.
    pub first_index: Option<u64>,
    /// Index of the last entry held.
    pub last_index: Option<u64>,
    /// Index up to which entries were purged (behind a snapshot).
    pub purged_index: Option<u64>,
    /// Index of the last entry known committed.
    pub committed_index: Option<u64>,
    /// Term of the saved vote.
    pub vote_term: Option<u64>,
}

/// The state rebuilt from a log file's bytes.
struct Replayed {
    mem: LogMem,
    records: usize,
    /// Length of the valid prefix, magic included.
    valid_len: usize,
    damage: Option<record::TailDamage>,
}

fn replay(bytes: &[u8]) -> Result<Replayed, LogFileError> {
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or(LogFileError::BadMagic)?;
    let (records, valid, damage) = record::scan(body);
    let mut mem = LogMem::default();
    for (index, payload) in records.iter().enumerate() {
        let rec: Record =
            serde_json::from_slice(payload).map_err(|e| LogFileError::Undecodable {
                record: index,
                message: e.to_string(),
            })?;
        mem.apply(rec);
    }
    Ok(Replayed {
        mem,
        records: records.len(),
        valid_len: MAGIC.len() + valid,
        damage,
    })
}

/// Reads a whole oracle log file (the `raft-log` file of a data directory)
/// without changing it: what it holds and how much torn tail opening it
/// would cut. Never panics, whatever the bytes; this is also the log
/// format's fuzzing entry point.
pub fn inspect_log(bytes: &[u8]) -> Result<LogReport, LogFileError> {
    let replayed = replay(bytes)?;
    let mem = &replayed.mem;
    Ok(LogReport {
        records: replayed.records,
        cut_bytes: (bytes.len().saturating_sub(replayed.valid_len)) as u64,
        first_index: mem.entries.keys().next().copied(),
        last_index: mem.entries.keys().next_back().copied(),
        purged_index: mem.purged.map(|id| id.index()),
        committed_index: mem.committed.map(|id| id.index()),
        vote_term: mem.vote.map(|vote| vote.leader_id.term),
    })
}

impl FileLog {
    /// Opens (or creates) the log in `dir`, replaying it and cutting a torn
    /// tail.
    pub(crate) fn open(dir: &Path) -> io::Result<(Self, OpenReport)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut mem = LogMem::default();
        let mut report = OpenReport {
            records: 0,
            cut_bytes: 0,
        };
        if bytes.is_empty() {
            file.write_all(MAGIC)?;
            file.sync_all()?;
            sync_dir(dir)?;
        } else {
            let replayed =
                replay(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            report.records = replayed.records;
            mem = replayed.mem;
            if let Some(damage) = replayed.damage {
                let keep = replayed.valid_len as u64;
                report.cut_bytes = bytes.len() as u64 - keep;
                tracing::warn!(
                    path = %path.display(),
                    ?damage,
                    cut_bytes = report.cut_bytes,
                    "oracle log: cutting a torn or corrupt tail"
                );
                file.set_len(keep)?;
                file.sync_all()?;
            }
        }
        let len = file.seek(SeekFrom::End(0))?;
        let sizes = Arc::new(FileSizes {
            file_len: AtomicU64::new(len),
            compacted_len: AtomicU64::new(len),
        });
        let (writer, jobs) = mpsc::channel();
        let dir_owned = dir.to_path_buf();
        let writer_sizes = Arc::clone(&sizes);
        std::thread::Builder::new()
            .name("oracle-log-writer".to_owned())
            .spawn(move || run_writer(file, path, dir_owned, jobs, &writer_sizes))?;
        Ok((
            Self {
                mem: Arc::new(Mutex::new(mem)),
                writer,
                sizes,
            },
            report,
        ))
    }

    fn mem(&self) -> MutexGuard<'_, LogMem> {
        // A panic while holding the lock cannot leave LogMem half-updated
        // in a way that matters more than losing the process; keep going.
        self.mem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn submit(&self, records: &[Record], completion: Completion) -> io::Result<()> {
        let mut bytes = Vec::new();
        if let Err(e) = frame(records, &mut bytes) {
            completion.complete(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
        self.writer
            .send(WriteJob::Append { bytes, completion })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "oracle log writer stopped"))
    }

    /// Writes `records` and waits until they are synced.
    async fn write_synced(&self, records: &[Record]) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(records, Completion::Notify(tx))?;
        rx.await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "oracle log writer stopped"))?
    }

    /// Rewrites the file with only the live state when it has grown past
    /// [`COMPACT_ABOVE`] and to twice its size after the last rewrite.
    async fn maybe_compact(&self) -> io::Result<()> {
        let len = self.sizes.file_len.load(Ordering::Acquire);
        let base = self.sizes.compacted_len.load(Ordering::Acquire);
        if len <= COMPACT_ABOVE.max(base.saturating_mul(2)) {
            return Ok(());
        }
        let image = self.mem().image();
        let mut bytes = Vec::new();
        frame(&image, &mut bytes)?;
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(WriteJob::Compact {
                image: bytes,
                completion: Completion::Notify(tx),
            })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "oracle log writer stopped"))?;
        rx.await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "oracle log writer stopped"))?
    }

    /// The number of entries held (for tests and status).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.mem().entries.len()
    }
}

fn run_writer(
    mut file: File,
    path: PathBuf,
    dir: PathBuf,
    jobs: mpsc::Receiver<WriteJob>,
    sizes: &FileSizes,
) {
    let mut failed: Option<String> = None;
    while let Ok(job) = jobs.recv() {
        let (result, completion) = match job {
            WriteJob::Append { bytes, completion } => {
                let result = match &failed {
                    Some(why) => Err(io::Error::other(why.clone())),
                    None => file.write_all(&bytes).and_then(|()| file.sync_data()),
                };
                if result.is_ok() {
                    sizes
                        .file_len
                        .fetch_add(bytes.len() as u64, Ordering::AcqRel);
                }
                (result, completion)
            }
            WriteJob::Compact { image, completion } => {
                let result = match &failed {
                    Some(why) => Err(io::Error::other(why.clone())),
                    None => compact(&path, &dir, &image).map(|fresh| file = fresh),
                };
                if result.is_ok() {
                    let len = (MAGIC.len() + image.len()) as u64;
                    sizes.file_len.store(len, Ordering::Release);
                    sizes.compacted_len.store(len, Ordering::Release);
                }
                (result, completion)
            }
        };
        if let Err(e) = &result {
            // After a failed write the file's tail is unknown: refuse all
            // further writes (openraft stops the node on a storage error).
            tracing::error!(path = %path.display(), error = %e, "oracle log write failed");
            failed = Some(format!("oracle log unusable after an earlier error: {e}"));
        }
        completion.complete(result);
    }
}

fn compact(path: &Path, dir: &Path, image: &[u8]) -> io::Result<File> {
    let tmp = path.with_extension("compact");
    {
        let mut out = File::create(&tmp)?;
        out.write_all(MAGIC)?;
        out.write_all(image)?;
        out.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)?;
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    file.seek(SeekFrom::End(0))?;
    Ok(file)
}

impl RaftLogReader<OracleTypes> for FileLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<OracleEntry>, io::Error> {
        Ok(self
            .mem()
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn read_vote(&mut self) -> Result<Option<OracleVote>, io::Error> {
        Ok(self.mem().vote)
    }
}

impl RaftLogStorage<OracleTypes> for FileLog {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<OracleTypes>, io::Error> {
        let mem = self.mem();
        let last = mem
            .entries
            .values()
            .next_back()
            .map(RaftEntry::log_id)
            .or(mem.purged);
        Ok(LogState {
            last_purged_log_id: mem.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &OracleVote) -> Result<(), io::Error> {
        self.mem().vote = Some(*vote);
        self.write_synced(&[Record::Vote(*vote)]).await
    }

    async fn save_committed(&mut self, committed: Option<OracleLogId>) -> Result<(), io::Error> {
        self.mem().committed = committed;
        self.write_synced(&[Record::Committed(committed)]).await
    }

    async fn read_committed(&mut self) -> Result<Option<OracleLogId>, io::Error> {
        Ok(self.mem().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<OracleTypes>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = OracleEntry> + Send,
        I::IntoIter: Send,
    {
        let records: Vec<Record> = entries.into_iter().map(Record::Entry).collect();
        {
            let mut mem = self.mem();
            for rec in &records {
                mem.apply(rec.clone());
            }
        }
        // Readable now; durable when the callback fires.
        self.submit(&records, Completion::Flushed(callback))
    }

    async fn truncate_after(&mut self, last_log_id: Option<OracleLogId>) -> Result<(), io::Error> {
        self.mem().apply(Record::TruncateAfter(last_log_id));
        self.write_synced(&[Record::TruncateAfter(last_log_id)])
            .await
    }

    async fn purge(&mut self, log_id: OracleLogId) -> Result<(), io::Error> {
        self.mem().apply(Record::Purge(log_id));
        self.write_synced(&[Record::Purge(log_id)]).await?;
        self.maybe_compact().await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::type_config::TypeConfigExt;

    use super::*;
    use crate::consensus::types::ViewProposal;
    use crate::view::{Incarnation, MemberId, ViewCommand};

    fn log_id(term: u64, index: u64) -> OracleLogId {
        OracleLogId::new(LeaderId { term, node_id: 1 }, index)
    }

    fn entry(term: u64, index: u64, name: &str) -> OracleEntry {
        let command = ViewCommand::Join {
            member: MemberId::new(name).unwrap_or_else(|e| panic!("{e}")),
            incarnation: Incarnation(index),
            address: format!("{name}:7000"),
            roles: BTreeSet::new(),
        };
        OracleEntry::new_normal(
            log_id(term, index),
            ViewProposal {
                commands: vec![command],
            },
        )
    }

    async fn append(log: &mut FileLog, entries: Vec<OracleEntry>) {
        let (tx, rx) = OracleTypes::oneshot();
        log.append(entries, IOFlushed::signal(tx))
            .await
            .unwrap_or_else(|e| panic!("append: {e}"));
        rx.await
            .unwrap_or_else(|e| panic!("flush dropped: {e}"))
            .unwrap_or_else(|e| panic!("flush: {e}"));
    }

    fn open(dir: &Path) -> (FileLog, OpenReport) {
        FileLog::open(dir).unwrap_or_else(|e| panic!("open: {e}"))
    }

    async fn indexes(log: &mut FileLog) -> Vec<u64> {
        log.try_get_log_entries(..)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(RaftEntry::index)
            .collect()
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn entries_vote_and_committed_survive_a_reopen() {
        let dir = tempdir();
        {
            let (mut log, _) = open(dir.path());
            append(&mut log, vec![entry(1, 1, "a"), entry(1, 2, "b")]).await;
            append(&mut log, vec![entry(2, 3, "c")]).await;
            log.save_vote(&OracleVote::new_committed(2, 1))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            log.save_committed(Some(log_id(2, 3)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes = std::fs::read(dir.path().join(LOG_FILE)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            inspect_log(&bytes),
            Ok(LogReport {
                records: 5,
                cut_bytes: 0,
                first_index: Some(1),
                last_index: Some(3),
                purged_index: None,
                committed_index: Some(3),
                vote_term: Some(2),
            })
        );
        let (mut log, report) = open(dir.path());
        assert_eq!(report.cut_bytes, 0);
        assert_eq!(indexes(&mut log).await, [1, 2, 3]);
        let entries = log
            .try_get_log_entries(3..4)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries, [entry(2, 3, "c")]);
        assert_eq!(
            log.read_vote().await.unwrap_or_else(|e| panic!("{e}")),
            Some(OracleVote::new_committed(2, 1))
        );
        assert_eq!(
            log.read_committed().await.unwrap_or_else(|e| panic!("{e}")),
            Some(log_id(2, 3))
        );
        let state = log.get_log_state().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.last_log_id, Some(log_id(2, 3)));
        assert_eq!(state.last_purged_log_id, None);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_on_open_and_the_log_stays_writable() {
        let dir = tempdir();
        {
            let (mut log, _) = open(dir.path());
            append(&mut log, vec![entry(1, 1, "a"), entry(1, 2, "b")]).await;
        }
        let path = dir.path().join(LOG_FILE);
        let intact = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // A crash in the middle of writing the next record: a header
        // announcing 200 bytes and only part of them.
        let mut torn = Vec::new();
        torn.extend_from_slice(&200u32.to_le_bytes());
        torn.extend_from_slice(&[0xAB; 4 + 37]);
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        file.write_all(&torn).unwrap_or_else(|e| panic!("{e}"));
        drop(file);

        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let inspected = inspect_log(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (inspected.records, inspected.cut_bytes, inspected.last_index),
            (2, torn.len() as u64, Some(2))
        );
        let (mut log, report) = open(dir.path());
        assert_eq!(report.cut_bytes, torn.len() as u64);
        assert_eq!(
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            intact
        );
        assert_eq!(indexes(&mut log).await, [1, 2]);
        append(&mut log, vec![entry(1, 3, "c")]).await;
        drop(log);
        let (mut log, report) = open(dir.path());
        assert_eq!(report.cut_bytes, 0);
        assert_eq!(indexes(&mut log).await, [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_corrupt_last_record_is_cut() {
        let dir = tempdir();
        {
            let (mut log, _) = open(dir.path());
            append(&mut log, vec![entry(1, 1, "a")]).await;
            append(&mut log, vec![entry(1, 2, "b")]).await;
        }
        let path = dir.path().join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        if let Some(last) = bytes.last_mut() {
            *last ^= 0x01;
        }
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let (mut log, report) = open(dir.path());
        assert!(report.cut_bytes > 0);
        assert_eq!(indexes(&mut log).await, [1]);
    }

    #[tokio::test]
    async fn a_foreign_file_is_refused() {
        let dir = tempdir();
        std::fs::write(dir.path().join(LOG_FILE), b"not a log at all")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = FileLog::open(dir.path())
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(err.is_err_and(|e| e.contains("bad magic")));
    }

    #[tokio::test]
    async fn truncation_and_overwrites_survive_a_reopen() {
        let dir = tempdir();
        {
            let (mut log, _) = open(dir.path());
            let entries = (1..=5).map(|i| entry(1, i, "a")).collect();
            append(&mut log, entries).await;
            log.truncate_after(Some(log_id(1, 3)))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(indexes(&mut log).await, [1, 2, 3]);
            // A new leader overwrites index 3 onwards.
            append(&mut log, vec![entry(2, 3, "x"), entry(2, 4, "y")]).await;
        }
        let (mut log, _) = open(dir.path());
        assert_eq!(indexes(&mut log).await, [1, 2, 3, 4]);
        let entries = log
            .try_get_log_entries(3..)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(entries, [entry(2, 3, "x"), entry(2, 4, "y")]);
        log.truncate_after(None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(log);
        let (mut log, _) = open(dir.path());
        assert!(indexes(&mut log).await.is_empty());
    }

    #[tokio::test]
    async fn purges_survive_a_reopen_and_large_files_are_compacted() {
        let dir = tempdir();
        let path = dir.path().join(LOG_FILE);
        {
            let (mut log, _) = open(dir.path());
            // About 6 MiB of entries in batches.
            let long = "m".repeat(120);
            for batch in 0..30u64 {
                let entries = (0..400u64)
                    .map(|i| entry(1, batch * 400 + i + 1, &long))
                    .collect();
                append(&mut log, entries).await;
            }
            assert!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > COMPACT_ABOVE);
            log.purge(log_id(1, 11_990))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(log.len(), 10);
        }
        assert!(
            std::fs::metadata(&path)
                .map(|m| m.len())
                .unwrap_or(u64::MAX)
                < 64 * 1024
        );
        let (mut log, _) = open(dir.path());
        assert_eq!(
            indexes(&mut log).await,
            (11_991..=12_000).collect::<Vec<_>>()
        );
        let state = log.get_log_state().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 11_990)));
        assert_eq!(state.last_log_id, Some(log_id(1, 12_000)));
        // Purging everything leaves the purged id as the last id.
        let mut log = log;
        log.purge(log_id(1, 12_000))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(log);
        let (mut log, _) = open(dir.path());
        let state = log.get_log_state().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(state.last_log_id, Some(log_id(1, 12_000)));
        assert!(indexes(&mut log).await.is_empty());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// Whatever follows the magic (a torn write, garbage, records
            /// whose JSON is not ours), opening either refuses the file with
            /// an error or recovers a log that stays usable: never a panic.
            #[test]
            fn any_file_body_opens_or_is_refused_cleanly(
                body in proptest::collection::vec(any::<u8>(), 0..512),
                framed_garbage in proptest::collection::vec(any::<u8>(), 0..64),
                starts_with_a_real_entry in any::<bool>(),
            ) {
                let dir = tempdir();
                let mut bytes = MAGIC.to_vec();
                if starts_with_a_real_entry {
                    frame(&[Record::Entry(entry(1, 1, "a"))], &mut bytes)
                        .unwrap_or_else(|e| panic!("{e}"));
                } else {
                    record::encode(&framed_garbage, &mut bytes);
                }
                bytes.extend_from_slice(&body);
                std::fs::write(dir.path().join(LOG_FILE), &bytes)
                    .unwrap_or_else(|e| panic!("{e}"));
                prop_assert_eq!(inspect_log(&bytes).is_ok(), starts_with_a_real_entry);
                prop_assert_eq!(inspect_log(&body).is_ok(), body.starts_with(MAGIC));
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"));
                if let Ok((mut log, _)) = FileLog::open(dir.path()) {
                    runtime.block_on(async {
                        let last = log
                            .get_log_state()
                            .await
                            .unwrap_or_else(|e| panic!("{e}"))
                            .last_log_id
                            .map_or(0, |id| id.index());
                        append(&mut log, vec![entry(9, last + 1, "after")]).await;
                    });
                }
            }
        }
    }
}
