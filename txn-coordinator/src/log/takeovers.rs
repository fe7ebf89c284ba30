//! Takeovers as the log keeps them for operators: which dead instances an
//! instance took over, when (the store's clock), with which fencing token,
//! and the unfinished transactions it recovered from them (table
//! `wsat_takeover`, migration 0004).

use super::{FencingToken, InstanceId, LogError};
use crate::record::TxId;

/// The most transaction ids one takeover row lists (the count is always
/// complete).
pub const MAX_LISTED_TRANSACTIONS: usize = 1000;

/// One takeover, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeoverEntry {
    /// The instance whose records were taken over.
    pub instance: InstanceId,
    /// The fencing token the takeover raised its fence to.
    pub token: FencingToken,
    /// When, by the store's clock, as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    pub taken_at: String,
    /// How many unfinished transactions were recovered.
    pub transaction_count: u64,
    /// Their ids (at most [`MAX_LISTED_TRANSACTIONS`]).
    pub transactions: Vec<TxId>,
}

/// The `transactions` column for `transactions`: the first
/// [`MAX_LISTED_TRANSACTIONS`] ids, one a line.
pub(super) fn listed(transactions: &[TxId]) -> String {
    transactions
        .iter()
        .take(MAX_LISTED_TRANSACTIONS)
        .map(|tx| tx.0.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A correlation key as the log stores it: 64 lowercase hex digits.
pub fn key_to_hex(key: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(64);
    for byte in key {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// A correlation key read back from the log, or `None` when the text is
/// not 64 hex digits.
pub fn key_from_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (slot, pair) in key.iter_mut().zip(digits.chunks_exact(2)) {
        let digit = |d: u8| {
            char::from(d)
                .to_digit(16)
                .and_then(|v| u8::try_from(v).ok())
        };
        let (Some(high), Some(low)) = (
            pair.first().copied().and_then(digit),
            pair.get(1).copied().and_then(digit),
        ) else {
            return None;
        };
        *slot = (high << 4) | low;
    }
    Some(key)
}

/// One `wsat_takeover` row: instance, token, time, count, ids.
pub(super) type TakeoverRow = (String, i64, String, i64, String);

/// Rebuilds an entry from a row, checking each field.
pub(super) fn entry_from_row(row: TakeoverRow) -> Result<TakeoverEntry, LogError> {
    let (instance, token, taken_at, count, transactions) = row;
    let corrupt = |reason: String| LogError::Corrupt {
        tx: format!("takeover of {instance}"),
        reason,
    };
    if instance.is_empty() {
        return Err(corrupt("no instance".to_owned()));
    }
    let token = u64::try_from(token).map_err(|_| corrupt(format!("token {token} is negative")))?;
    let transaction_count =
        u64::try_from(count).map_err(|_| corrupt(format!("count {count} is negative")))?;
    let transactions: Vec<TxId> = transactions
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| TxId(line.to_owned()))
        .collect();
    if transactions.len() > MAX_LISTED_TRANSACTIONS
        || u64::try_from(transactions.len()).unwrap_or(u64::MAX) > transaction_count
    {
        return Err(corrupt(format!(
            "{} ids listed for {transaction_count} transactions",
            transactions.len()
        )));
    }
    Ok(TakeoverEntry {
        instance: InstanceId(instance),
        token: FencingToken(token),
        taken_at,
        transaction_count,
        transactions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_bad_rows_are_corrupt() {
        let txs = vec![TxId("urn:a".into()), TxId("urn:b".into())];
        let row = (
            "a".to_owned(),
            7,
            "2026-11-25T00:00:00Z".to_owned(),
            2,
            listed(&txs),
        );
        let entry = entry_from_row(row).unwrap();
        assert_eq!(entry.instance, InstanceId::from("a"));
        assert_eq!(entry.token, FencingToken(7));
        assert_eq!(entry.transactions, txs);
        for bad in [
            (String::new(), 7, String::new(), 0, String::new()),
            ("a".to_owned(), -1, String::new(), 0, String::new()),
            (
                "a".to_owned(),
                1,
                String::new(),
                1,
                "urn:a\nurn:b".to_owned(),
            ),
        ] {
            assert!(matches!(entry_from_row(bad), Err(LogError::Corrupt { .. })));
        }
    }

    use std::sync::Arc;

    use crate::log::{CoordinatorLog, PgLog, SqliteLog};
    use crate::record::{DecidedParticipant, DecisionRecord, EndpointRef, ParticipantId};

    fn decision(tx: &str) -> DecisionRecord {
        DecisionRecord {
            tx: TxId(tx.to_owned()),
            participants: vec![DecidedParticipant {
                id: ParticipantId(1),
                endpoint: EndpointRef::new("http://p1"),
            }],
        }
    }

    /// `a` logs a decision, `b` takes `a` over: `a` reads its raised fence
    /// and its record (reads are not fenced), `b` keeps the takeover.
    async fn takeover_is_kept_and_the_fenced_instance_can_read(
        a: Arc<dyn CoordinatorLog>,
        b: Arc<dyn CoordinatorLog>,
    ) {
        a.claim().await.unwrap();
        b.claim().await.unwrap();
        a.append_decisions(&[decision("urn:t1")]).await.unwrap();
        assert_eq!(a.fence().await.unwrap(), FencingToken::INITIAL);
        assert_eq!(b.correlation_key(a.instance()).await.unwrap(), None);
        a.publish_correlation_key(&[7; 32]).await.unwrap();
        a.publish_correlation_key(&[9; 32]).await.unwrap();
        assert_eq!(
            b.correlation_key(a.instance()).await.unwrap(),
            Some([9; 32])
        );
        assert!(b.takeovers().await.unwrap().is_empty());

        let adopted = b.adopt(a.instance(), FencingToken(5)).await.unwrap();
        let records = adopted.load_unfinished().await.unwrap();
        let ids: Vec<TxId> = records.iter().map(|r| r.tx.clone()).collect();
        b.record_takeover(a.instance(), FencingToken(5), &ids)
            .await
            .unwrap();

        assert_eq!(a.fence().await.unwrap(), FencingToken(5));
        assert!(a.has_record(&TxId("urn:t1".into())).await.unwrap());
        assert!(!a.has_record(&TxId("urn:t2".into())).await.unwrap());
        // b's own records are not a's.
        assert!(!b.has_record(&TxId("urn:t1".into())).await.unwrap());
        let kept = b.takeovers().await.unwrap();
        assert_eq!(kept.len(), 1);
        let entry = &kept[0];
        assert_eq!(entry.instance, InstanceId::from("a"));
        assert_eq!(entry.token, FencingToken(5));
        assert_eq!(entry.transaction_count, 1);
        assert_eq!(entry.transactions, [TxId("urn:t1".into())]);
        assert_eq!(entry.taken_at.len(), "2026-11-25T00:00:00Z".len());
        assert!(entry.taken_at.ends_with('Z'), "{}", entry.taken_at);
        assert!(a.takeovers().await.unwrap().is_empty());
        // Once adopted, the fenced a's own writes are refused.
        let refused = a.append_decisions(&[decision("urn:t3")]).await;
        assert!(refused.is_err_and(|e| e.is_fenced()));
    }

    #[tokio::test]
    async fn sqlite_keeps_takeovers_and_fenced_reads_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.sqlite3");
        let a = Arc::new(SqliteLog::open(&path, "a").await.unwrap());
        let b = Arc::new(SqliteLog::open(&path, "b").await.unwrap());
        takeover_is_kept_and_the_fenced_instance_can_read(a, b).await;
    }

    #[tokio::test]
    async fn postgres_keeps_takeovers_and_fenced_reads_work() {
        let db = ithaca_testkit::pg::database().expect("a PostgreSQL test cluster");
        let a = Arc::new(PgLog::connect(db.url(), "a").await.unwrap());
        let b = Arc::new(PgLog::connect(db.url(), "b").await.unwrap());
        takeover_is_kept_and_the_fenced_instance_can_read(a, b).await;
    }

    #[test]
    fn keys_round_trip_through_hex_and_bad_text_is_refused() {
        let key: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 7).unwrap());
        assert_eq!(key_from_hex(&key_to_hex(&key)), Some(key));
        assert_eq!(key_from_hex("00"), None);
        assert_eq!(key_from_hex(&"zz".repeat(32)), None);
        assert_eq!(key_from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn at_most_the_first_thousand_ids_are_listed() {
        let txs: Vec<TxId> = (0..1500).map(|i| TxId(format!("urn:{i}"))).collect();
        assert_eq!(listed(&txs).lines().count(), MAX_LISTED_TRANSACTIONS);
    }
}
