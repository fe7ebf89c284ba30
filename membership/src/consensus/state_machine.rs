//! The replicated state machine: the [`View`], changed only by applying
//! committed [`ViewProposal`]s with [`View::apply`] / [`View::apply_batch`].
//!
//! Applying is deterministic, so every oracle node computes the same view
//! sequence from the same log. A proposal the view refuses is still a
//! committed entry: every node counts it as rejected and leaves the view as
//! it was, and the proposer receives the [`ViewError`].
//!
//! The state lives in memory; durability comes from the log (openraft
//! re-applies committed entries on start, since the log store persists the
//! committed id) and from snapshots, which are the view serialised into the
//! data directory's `snapshot` file (written to a temporary file, synced,
//! renamed, directory synced) before the log is purged up to them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{Stream, TryStreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::type_config::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::log::sync_dir;
use super::record::{self, MAX_RECORD_LEN};
use super::types::{ApplyOutcome, OracleTypes, ViewProposal};
use crate::view::View;

/// The magic opening a snapshot file (kind and format version).
const MAGIC: &[u8; 8] = b"ITHSNP01";
/// The snapshot file's name inside the data directory.
pub(crate) const SNAPSHOT_FILE: &str = "snapshot";

/// What a snapshot carries: the view and the rejection count.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotBody {
    view: View,
    rejected_commands: u64,
}

/// The snapshot file's one record.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMetaOf<OracleTypes>,
    data: Vec<u8>,
}

#[derive(Debug)]
struct SmState {
    view: View,
    rejected_commands: u64,
    last_applied: Option<LogIdOf<OracleTypes>>,
    membership: StoredMembershipOf<OracleTypes>,
    snapshot: Option<(SnapshotMetaOf<OracleTypes>, Vec<u8>)>,
}

/// The view state machine (cheap to clone: clones share the state).
#[derive(Debug, Clone)]
pub(crate) struct ViewStore {
    state: Arc<Mutex<SmState>>,
    views: watch::Sender<View>,
    dir: PathBuf,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl ViewStore {
    /// Opens the state machine in `dir`, starting from the snapshot file if
    /// there is one.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut state = SmState {
            view: View::new(),
            rejected_commands: 0,
            last_applied: None,
            membership: StoredMembershipOf::<OracleTypes>::default(),
            snapshot: None,
        };
        if let Some((meta, data)) = read_snapshot_file(&dir.join(SNAPSHOT_FILE))? {
            let body = decode_body(&data)?;
            state.view = body.view;
            state.rejected_commands = body.rejected_commands;
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
            state.snapshot = Some((meta, data));
        }
        let (views, _) = watch::channel(state.view.clone());
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
            views,
            dir: dir.to_path_buf(),
        })
    }

    fn state(&self) -> MutexGuard<'_, SmState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver of the applied view.
    pub(crate) fn subscribe(&self) -> watch::Receiver<View> {
        self.views.subscribe()
    }

    /// The applied view's id and the rejection count.
    pub(crate) fn summary(&self) -> (crate::view::ViewId, u64) {
        let state = self.state();
        (state.view.id(), state.rejected_commands)
    }

    fn publish(&self, view: &View) {
        self.views.send_if_modified(|current| {
            if view.id() > current.id() {
                *current = view.clone();
                true
            } else {
                false
            }
        });
    }

    fn apply_proposal(&self, proposal: &ViewProposal) -> ApplyOutcome {
        let mut state = self.state();
        let result = match proposal.commands.as_slice() {
            [single] => state.view.apply(single),
            many => state.view.apply_batch(many),
        };
        match result {
            Ok(view) => {
                state.view = view.clone();
                drop(state);
                self.publish(&view);
                ApplyOutcome {
                    view,
                    rejected: None,
                }
            }
            Err(error) => {
                state.rejected_commands = state.rejected_commands.saturating_add(1);
                tracing::info!(%error, view = %state.view.id(), "oracle: committed view change refused");
                ApplyOutcome {
                    view: state.view.clone(),
                    rejected: Some(error),
                }
            }
        }
    }

    fn persist_snapshot(&self, meta: &SnapshotMetaOf<OracleTypes>, data: &[u8]) -> io::Result<()> {
        let file = SnapshotFile {
            meta: meta.clone(),
            data: data.to_vec(),
        };
        let payload = serde_json::to_vec(&file).map_err(|e| invalid(e.to_string()))?;
        if payload.len() > MAX_RECORD_LEN {
            return Err(invalid(format!(
                "snapshot of {} bytes exceeds the {MAX_RECORD_LEN}-byte limit",
                payload.len()
            )));
        }
        let mut bytes = Vec::with_capacity(payload.len() + 16);
        bytes.extend_from_slice(MAGIC);
        record::encode(&payload, &mut bytes);
        let path = self.dir.join(SNAPSHOT_FILE);
        let tmp = path.with_extension("tmp");
        {
            let mut out = std::fs::File::create(&tmp)?;
            out.write_all(&bytes)?;
            out.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)
    }
}

fn decode_body(data: &[u8]) -> io::Result<SnapshotBody> {
    if data.len() > MAX_RECORD_LEN {
        return Err(invalid("snapshot too large"));
    }
    // View's Deserialize checks the view's invariants.
    serde_json::from_slice(data).map_err(|e| invalid(format!("bad oracle snapshot: {e}")))
}

type StoredSnapshot = (SnapshotMetaOf<OracleTypes>, Vec<u8>);

fn read_snapshot_file(path: &Path) -> io::Result<Option<StoredSnapshot>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let body = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| invalid(format!("{} is not an oracle snapshot", path.display())))?;
    // Snapshots are renamed into place whole, so any damage is corruption:
    // refuse to start rather than silently lose purged history.
    let (records, _, damage) = record::scan(body);
    let (Some(payload), None) = (records.first(), damage) else {
        return Err(invalid(format!(
            "{} is damaged; restore it or wipe the node and re-add it to the oracle",
            path.display()
        )));
    };
    let file: SnapshotFile =
        serde_json::from_slice(payload).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    Ok(Some((file.meta, file.data)))
}

impl RaftSnapshotBuilder<OracleTypes> for ViewStore {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<OracleTypes, Vec<u8>>, io::Error> {
        let (meta, data) = {
            let state = self.state();
            let body = SnapshotBody {
                view: state.view.clone(),
                rejected_commands: state.rejected_commands,
            };
            let data = serde_json::to_vec(&body).map_err(|e| invalid(e.to_string()))?;
            let meta = SnapshotMetaOf::<OracleTypes> {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
            };
            (meta, data)
        };
        self.persist_snapshot(&meta, &data)?;
        self.state().snapshot = Some((meta.clone(), data.to_vec()));
        Ok(SnapshotOf::<OracleTypes, Vec<u8>> {
            meta,
            snapshot: data,
        })
    }
}

impl RaftStateMachine<OracleTypes> for ViewStore {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogIdOf<OracleTypes>>,
            StoredMembershipOf<OracleTypes>,
        ),
        io::Error,
    > {
        let state = self.state();
        Ok((state.last_applied, state.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<OracleTypes>, io::Error>> + Unpin + Send,
    {
        while let Some((entry, responder)) = entries.try_next().await? {
            let outcome = match &entry.payload {
                EntryPayload::Blank => ApplyOutcome {
                    view: self.state().view.clone(),
                    rejected: None,
                },
                EntryPayload::Normal(proposal) => self.apply_proposal(proposal),
                EntryPayload::Membership(membership) => {
                    let mut state = self.state();
                    state.membership = StoredMembershipOf::<OracleTypes>::new(
                        Some(entry.log_id),
                        membership.clone(),
                    );
                    ApplyOutcome {
                        view: state.view.clone(),
                        rejected: None,
                    }
                }
            };
            self.state().last_applied = Some(entry.log_id);
            if let Some(responder) = responder {
                responder.send(outcome);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMetaOf<OracleTypes>,
        snapshot: Vec<u8>,
    ) -> Result<(), io::Error> {
        let body = decode_body(&snapshot)?;
        self.persist_snapshot(meta, &snapshot)?;
        let view = body.view.clone();
        {
            let mut state = self.state();
            state.view = body.view;
            state.rejected_commands = body.rejected_commands;
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
            state.snapshot = Some((meta.clone(), snapshot));
        }
        self.publish(&view);
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<OracleTypes, Vec<u8>>>, io::Error> {
        Ok(self
            .state()
            .snapshot
            .clone()
            .map(|(meta, data)| SnapshotOf::<OracleTypes, Vec<u8>> {
                meta,
                snapshot: data,
            }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::impls::leader_id_adv::LeaderId;
    use openraft::type_config::alias::LogIdOf;

    use super::*;
    use crate::view::{Incarnation, MemberId, ViewCommand, ViewError, ViewId};

    fn join(name: &str, incarnation: u64) -> ViewCommand {
        ViewCommand::Join {
            member: MemberId::new(name).unwrap_or_else(|e| panic!("{e}")),
            incarnation: Incarnation(incarnation),
            address: format!("{name}:7000"),
            roles: BTreeSet::new(),
        }
    }

    fn proposal(commands: Vec<ViewCommand>) -> ViewProposal {
        ViewProposal { commands }
    }

    #[tokio::test]
    async fn refused_proposals_leave_the_view_and_are_counted() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = ViewStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut views = store.subscribe();
        let applied = store.apply_proposal(&proposal(vec![join("a", 1)]));
        assert_eq!((applied.view.id(), applied.rejected), (ViewId(1), None));
        assert!(views.has_changed().unwrap_or(false));
        assert_eq!(views.borrow_and_update().id(), ViewId(1));

        let stale = store.apply_proposal(&proposal(vec![join("a", 1)]));
        assert_eq!(stale.view.id(), ViewId(1));
        assert!(matches!(
            stale.rejected,
            Some(ViewError::StaleIncarnation { .. })
        ));
        let batch = store.apply_proposal(&proposal(vec![join("b", 1), join("b", 1)]));
        assert!(matches!(
            batch.rejected,
            Some(ViewError::InBatch { index: 1, .. })
        ));
        assert_eq!(store.summary(), (ViewId(1), 2));
        assert!(!views.has_changed().unwrap_or(true));
    }

    #[tokio::test]
    async fn snapshots_are_durable_and_restore_the_view() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store = ViewStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let _ = store.apply_proposal(&proposal(vec![join("a", 1)]));
        let _ = store.apply_proposal(&proposal(vec![join("b", 2)]));
        let _ = store.apply_proposal(&proposal(vec![join("b", 1)]));
        store.state().last_applied = Some(LogIdOf::<OracleTypes>::new(
            LeaderId {
                term: 3,
                node_id: 1,
            },
            9,
        ));
        let built = store
            .build_snapshot()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let view = store.state().view.clone();

        let mut reopened = ViewStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reopened.state().view, view);
        assert_eq!(reopened.summary(), (ViewId(2), 1));
        assert_eq!(reopened.subscribe().borrow().id(), ViewId(2));
        let (applied, _) = reopened
            .applied_state()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(applied.map(|id| id.index), Some(9));
        let current = reopened
            .get_current_snapshot()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(current.map(|s| s.snapshot), Some(built.snapshot.clone()));

        // A follower installing the snapshot ends up with the same view.
        let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut follower = ViewStore::open(other.path()).unwrap_or_else(|e| panic!("{e}"));
        follower
            .install_snapshot(&built.meta, built.snapshot.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(follower.subscribe().borrow().clone(), view);

        // A damaged snapshot file stops the node from starting.
        let path = dir.path().join(SNAPSHOT_FILE);
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        if let Some(byte) = bytes.get_mut(20) {
            *byte ^= 0xFF;
        }
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(ViewStore::open(dir.path()).is_err());

        // So does a snapshot whose view breaks the view's invariants.
        let forged = br#"{"view":{"id":1,"members":{},"primaries":{"s":"ghost"},"backups":{},"tombstones":{}},"rejected_commands":0}"#;
        assert!(
            follower
                .install_snapshot(&built.meta, forged.to_vec())
                .await
                .is_err()
        );
    }
}
