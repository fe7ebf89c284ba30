//! Group commit of view changes: the joins, leaves and removals that reach
//! an oracle node while a commit is in flight go into the next view change
//! together, one consensus commit (one majority fsync) for all of them.
//!
//! Without it every join was a view change of its own: forming a group of
//! N members took N commits, and each committed view is applied, encoded
//! and installed in O(N), so O(N²) in all. With it a burst of joins costs
//! one commit per [`MAX_BATCH`] of them, and a join still waits for at most
//! the commit in flight plus its own.
//!
//! A batch commits atomically ([`crate::View::apply_batch`]), so one
//! refused command must not refuse the others: before proposing, the
//! batch is checked against the newest published view
//! ([`crate::View::admissible`]) and the commands the view refuses are
//! answered at once with their refusal. Should the view change between
//! that check and the commit (a removal the heartbeat task proposed
//! meanwhile), the command the committed batch names as refused is
//! answered alone and the rest is proposed again: each retry drops one
//! command, so a batch is proposed at most [`MAX_BATCH`] times.
//!
//! Identical commands in one batch (a member retrying its join) are
//! proposed once and answered alike; a join the view already holds exactly
//! (committed by an earlier batch) is answered with that view. The answer is the committed view in
//! its encoded form, published to the heartbeat path first (a member that
//! heartbeats right after its answer names a view the leader knows) and
//! encoded once per view change, never once per join.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::consensus::{Consensus, ConsensusError};
use crate::view::{MAX_BATCH, View, ViewCommand, ViewError};

use super::handler::EncodedView;

/// How long an answer waits for its view to reach the heartbeat path.
const PUBLISH_WAIT: Duration = Duration::from_secs(1);

/// Requests waiting for the batching task (beyond this, submitters wait).
const QUEUE: usize = 1_024;

/// The outcome of one command: the view that committed it, encoded.
pub(crate) type Committed = Result<Arc<EncodedView>, ConsensusError>;

/// One command waiting for the next view change.
struct Pending {
    command: ViewCommand,
    answer: oneshot::Sender<Committed>,
}

/// Where the TCP side submits joins and leaves (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct ViewChanges {
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl ViewChanges {
    /// Starts the batching task; it stops when `shutdown` turns true or
    /// every [`ViewChanges`] is dropped.
    pub(crate) fn start(
        consensus: Arc<dyn Consensus>,
        views: watch::Receiver<Arc<EncodedView>>,
        shutdown: watch::Receiver<bool>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, requests) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(consensus, views, requests, shutdown));
        (Self { queue }, task)
    }

    /// Commits `command` in the next view change and returns that view.
    pub(crate) async fn submit(&self, command: ViewCommand) -> Committed {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Pending { command, answer })
            .await
            .map_err(|_| ConsensusError::Shutdown)?;
        answered.await.unwrap_or(Err(ConsensusError::Shutdown))
    }
}

async fn run(
    consensus: Arc<dyn Consensus>,
    views: watch::Receiver<Arc<EncodedView>>,
    mut requests: mpsc::Receiver<Pending>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let first = tokio::select! {
            _ = shutdown.changed() => return,
            next = requests.recv() => match next {
                Some(pending) => pending,
                None => return,
            },
        };
        // Everything queued while the previous commit was in flight.
        let mut groups: Vec<(ViewCommand, Vec<oneshot::Sender<Committed>>)> = Vec::new();
        let mut next = Some(first);
        while let Some(Pending { command, answer }) = next.take() {
            match groups.iter_mut().find(|(queued, _)| *queued == command) {
                Some((_, answers)) => answers.push(answer),
                None => groups.push((command, vec![answer])),
            }
            if groups.len() < MAX_BATCH {
                next = requests.try_recv().ok();
            }
        }
        let (commands, answers): (Vec<_>, Vec<_>) = groups.into_iter().unzip();
        let outcomes = commit_together(consensus.as_ref(), &views, commands).await;
        for (outcome, answers) in outcomes.into_iter().zip(answers) {
            for answer in answers {
                let _ = answer.send(outcome.clone());
            }
        }
    }
}

/// Commits `commands` (at most [`MAX_BATCH`], all different) in as few view
/// changes as the view allows: one, unless the view changes under the
/// batch. Returns one outcome per command, in order.
pub(crate) async fn commit_together(
    consensus: &dyn Consensus,
    views: &watch::Receiver<Arc<EncodedView>>,
    commands: Vec<ViewCommand>,
) -> Vec<Committed> {
    let mut outcomes: Vec<Option<Committed>> = vec![None; commands.len()];
    let current = Arc::clone(&views.borrow());
    // Indexes of the commands still to propose.
    let mut open: Vec<usize> = Vec::with_capacity(commands.len());
    for (index, admitted) in current.view.admissible(&commands).into_iter().enumerate() {
        match admitted {
            Ok(()) => open.push(index),
            // A join retried after an earlier batch committed it.
            Err(_)
                if commands
                    .get(index)
                    .is_some_and(|c| already_applied(&current.view, c)) =>
            {
                set(&mut outcomes, index, Ok(Arc::clone(&current)));
            }
            Err(error) => set(&mut outcomes, index, Err(ConsensusError::Rejected(error))),
        }
    }
    while !open.is_empty() {
        let batch: Vec<ViewCommand> = open
            .iter()
            .filter_map(|index| commands.get(*index).cloned())
            .collect();
        match consensus.propose_batch(batch).await {
            Ok(view) => {
                let committed = published(views, view).await;
                for index in open.drain(..) {
                    set(&mut outcomes, index, committed.clone());
                }
            }
            Err(ConsensusError::Rejected(ViewError::InBatch { index, error }))
                if open.len() > 1 =>
            {
                // The view changed under the batch: answer the refused
                // command and propose the others again.
                if index < open.len() {
                    let refused = open.remove(index);
                    set(
                        &mut outcomes,
                        refused,
                        Err(ConsensusError::Rejected(*error)),
                    );
                } else {
                    let error = ConsensusError::Rejected(ViewError::InBatch { index, error });
                    for index in open.drain(..) {
                        set(&mut outcomes, index, Err(error.clone()));
                    }
                }
            }
            Err(error) => {
                let error = match error {
                    // A batch of one is applied as a plain command.
                    ConsensusError::Rejected(ViewError::InBatch { error, .. })
                        if open.len() == 1 =>
                    {
                        ConsensusError::Rejected(*error)
                    }
                    other => other,
                };
                for index in open.drain(..) {
                    set(&mut outcomes, index, Err(error.clone()));
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or(Err(ConsensusError::Shutdown)))
        .collect()
}

/// Whether `command` is a join the view already holds exactly (same
/// incarnation, address and roles).
fn already_applied(view: &View, command: &ViewCommand) -> bool {
    match command {
        ViewCommand::Join {
            member,
            incarnation,
            address,
            roles,
        } => view.member(member).is_some_and(|info| {
            info.incarnation == *incarnation && info.address == *address && info.roles == *roles
        }),
        _ => false,
    }
}

fn set(outcomes: &mut [Option<Committed>], index: usize, outcome: Committed) {
    if let Some(slot) = outcomes.get_mut(index) {
        *slot = Some(outcome);
    }
}

/// Waits (at most [`PUBLISH_WAIT`]) until `view` reached the heartbeat
/// path, and returns it encoded: the published encoding when it is that
/// view, else its own.
async fn published(views: &watch::Receiver<Arc<EncodedView>>, view: View) -> Committed {
    let mut views = views.clone();
    let id = view.id();
    let _ = tokio::time::timeout(PUBLISH_WAIT, views.wait_for(|seen| seen.id() >= id)).await;
    let seen = Arc::clone(&views.borrow());
    if seen.id() == id {
        return Ok(seen);
    }
    EncodedView::new(view).map(Arc::new).map_err(|error| {
        ConsensusError::Fatal(format!("cannot encode the committed view: {error}"))
    })
}
