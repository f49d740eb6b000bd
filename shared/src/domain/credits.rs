//! Credits: a prepaid balance that Stripe purchases fill and the app spends. It never goes below
//! zero and never counts a retried request or a re-delivered event twice.
//!
//! Every change is one transaction: the balance item, conditional on the exact state (sequence
//! number, hence balance) the change was computed from; the ledger entry numbered by that
//! sequence, with the balance after it; and, for a keyed request, the key's record. So changes
//! are totally ordered, the balance always equals the sum of the ledger, `balance_after` is
//! exact, and a retried key answers what the first request did. An instance remembers the last
//! state it saw per user, so a debit it can compute is one round trip; when another change got
//! there first, the condition fails, the state is read afresh and it tries again.

use crate::app::App;
use crate::error::Error;
use crate::store::schema::credits::{self as ledger_items, CreditRequest, LedgerEntry, Reason, RequestKey};
use crate::store::{Label, StoreError, Tx};

pub use crate::store::schema::credits::State as Snapshot;

/// What to do when a negative change is larger than the balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// Refuse the change (a debit: 402, nothing written).
    Refuse,
    /// Take what is there and record the rest as the entry's shortfall (refunds, corrections).
    Clamp,
}

#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub user_id: &'a str,
    /// Credits to add (positive) or take (negative); never zero.
    pub delta: i64,
    pub floor: Floor,
    pub reason: Reason,
    /// What the caller or administrator wrote about it.
    pub note: Option<&'a str>,
    pub reference: Option<&'a str>,
    /// Makes the change happen once per key and user; a caller's keys never meet Tollgate's.
    pub key: Option<RequestKey<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(LedgerEntry),
    /// The key was used before for the same change: its first result.
    Replayed {
        entry_id: String,
        balance_after: i64,
    },
    Insufficient {
        balance: i64,
        required: i64,
    },
    /// The key was used before for a different change.
    KeyReused,
    /// The balance would pass what a 64-bit count holds: nothing was written.
    OutOfRange,
    /// A condition of the accompanying writes failed (their labels); nothing was written.
    Refused(Vec<Label>),
}

/// The labels of a change's own writes; the accompanying writes use others.
const OWN: [Label; 3] = [Label::Balance, Label::LedgerEntry, Label::RequestKey];

/// The last state this instance saw per user.
pub type BalanceHints = crate::hints::Hints<Snapshot>;

fn new_entry_id() -> String {
    format!("ent_{}", uuid::Uuid::new_v4().simple())
}

/// Why a change cannot be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A refusing change larger than the balance.
    Shortage { balance: i64, required: i64 },
    /// The arithmetic would leave the range of an i64.
    OutOfRange,
}

/// The writes of `change` applied to a balance of `before`: pure. Err when a refusing change
/// would overdraw, or any sum would overflow.
pub fn plan(change: &Change, state: Snapshot, entry_id: String, now: i64) -> Result<(Tx, LedgerEntry), Refusal> {
    let before = state.balance;
    let after = before.checked_add(change.delta).ok_or(Refusal::OutOfRange)?;
    let applied = match change.floor {
        Floor::Refuse if after < 0 => {
            let required = change.delta.checked_neg().ok_or(Refusal::OutOfRange)?;
            return Err(Refusal::Shortage { balance: before, required });
        }
        Floor::Refuse => change.delta,
        Floor::Clamp => change.delta.max(-before),
    };
    let shortfall = match applied.checked_sub(change.delta).ok_or(Refusal::OutOfRange)? {
        0 => None,
        taken_less => Some(taken_less),
    };
    let entry = LedgerEntry {
        id: entry_id,
        user_id: change.user_id.to_string(),
        seq: state.seq.checked_add(1).ok_or(Refusal::OutOfRange)?,
        delta: applied,
        balance_after: before + applied,
        reason: change.reason,
        note: change.note.map(str::to_string),
        reference: change.reference.map(str::to_string),
        shortfall,
        created_at: now,
    };
    Ok((ledger_items::change(state, &entry, change.key, change.delta), entry))
}

/// The state and, for a keyed change, the key's earlier record, in one consistent read.
/// The balance and the key's record; with the user's own token presented, its version is
/// compared in the same read (401 `token_revoked`).
async fn read(app: &App, change: &Change<'_>) -> Result<(Snapshot, Option<CreditRequest>), Error> {
    let presented = crate::auth::presented::of(change.user_id).is_some();
    let (state, request, plans) =
        ledger_items::read_with_plans(&app.store, change.user_id, change.key, presented).await?;
    if let Some(plans) = plans {
        crate::auth::presented::check(change.user_id, &plans)?;
    }
    Ok((state, request))
}

fn replay(request: CreditRequest, change: &Change) -> Outcome {
    if request.requested == change.delta {
        Outcome::Replayed { entry_id: request.entry_id, balance_after: request.balance_after }
    } else {
        Outcome::KeyReused
    }
}

/// Contention on one balance is retried this often (each retry re-reads the balance).
const MAX_ATTEMPTS: u32 = 200;

/// Applies `change` once, together with `with(entry)` (say, a webhook's event record), all in
/// one transaction. A refusal of `with`'s writes is `Refused` with their labels.
pub async fn apply(
    app: &App,
    change: &Change<'_>,
    with: &(dyn Fn(&LedgerEntry) -> Tx + Sync),
) -> Result<Outcome, Error> {
    if change.delta == 0 {
        return Err(Error::bad_request("invalid_field", "amount must not be zero"));
    }
    let hints = &app.credit_hints;
    let mut hinted = hints.get(change.user_id);
    let mut retry = super::retry::Contention::new(MAX_ATTEMPTS);
    while retry.next_attempt().await {
        let from_hint = hinted.is_some();
        let state = match hinted.take() {
            Some(state) => state,
            None => match read(app, change).await? {
                (_, Some(request)) => return Ok(replay(request, change)),
                (state, None) => state,
            },
        };
        let (writes, entry) = match plan(change, state, new_entry_id(), app.now()) {
            Ok(planned) => planned,
            // The hint may be stale: only a fresh read may refuse.
            Err(_) if from_hint => continue,
            Err(Refusal::Shortage { balance, required }) => {
                hints.set(change.user_id, state);
                return Ok(Outcome::Insufficient { balance, required });
            }
            Err(Refusal::OutOfRange) => return Ok(Outcome::OutOfRange),
        };
        let mut all = with(&entry);
        all.append(writes);
        // A change made with the user's own token holds only while that token is not revoked.
        let presented = crate::auth::presented::of(change.user_id);
        if let Some(token) = &presented {
            all.append(crate::store::schema::plans::not_revoked(change.user_id, token));
        }
        match app.store.transact(all).await {
            Ok(()) => {
                hints.set(change.user_id, Snapshot { balance: entry.balance_after, seq: entry.seq });
                return Ok(Outcome::Applied(entry));
            }
            Err(StoreError::Cancelled { failed }) if presented.is_some() && failed.contains(&Label::Plans) => {
                return Err(crate::auth::presented::revoked());
            }
            Err(StoreError::Cancelled { failed }) => {
                let accompanying: Vec<Label> = failed.iter().copied().filter(|l| !OWN.contains(l)).collect();
                if !accompanying.is_empty() {
                    return Ok(Outcome::Refused(accompanying));
                }
                hints.forget(change.user_id);
                if change.key.is_some() && failed.contains(&Label::RequestKey) {
                    // A request with this key won the race: answer what it did.
                    if let (_, Some(request)) = read(app, change).await? {
                        return Ok(replay(request, change));
                    }
                }
            }
            Err(e) => {
                hints.forget(change.user_id);
                return Err(e.into());
            }
        }
    }
    Err(Error::conflict("credits_busy", "the balance is changing too fast; retry"))
}

pub async fn balance(app: &App, user_id: &str) -> Result<i64, Error> {
    Ok(ledger_items::balance(&app.store, user_id).await?)
}

pub struct History {
    pub balance: i64,
    pub entries: Vec<LedgerEntry>,
    pub next_cursor: Option<String>,
}

/// The balance and the ledger newest first, a page at a time; the cursor is opaque.
pub async fn history(app: &App, user_id: &str, limit: usize, cursor: Option<&str>) -> Result<History, Error> {
    let (entries, next_cursor) = ledger_items::history(&app.store, user_id, limit, cursor).await?;
    Ok(History { balance: balance(app, user_id).await?, entries, next_cursor })
}

/// Every entry, oldest first (for audits and the ledger-replay test).
pub async fn ledger(app: &App, user_id: &str) -> Result<Vec<LedgerEntry>, Error> {
    Ok(ledger_items::ledger(&app.store, user_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(delta: i64, floor: Floor, key: Option<&str>) -> Change<'_> {
        let key = key.map(RequestKey::Caller);
        Change { user_id: "usr_1", delta, floor, reason: Reason::Debit, note: None, reference: None, key }
    }

    #[test]
    fn a_debit_within_the_balance_plans_three_writes() {
        let (writes, entry) =
            plan(&change(-3, Floor::Refuse, Some("k1")), Snapshot { balance: 10, seq: 4 }, "ent_1".into(), 5).unwrap();
        assert_eq!((entry.delta, entry.balance_after, entry.shortfall), (-3, 7, None));
        assert_eq!(entry.seq, 5);
        let labels: Vec<Label> = writes.labelled().iter().map(|(l, _)| *l).collect();
        // And the metrics' counters (all-time and the day's), which never refuse.
        assert_eq!(labels, [Label::Balance, Label::LedgerEntry, Label::RequestKey, Label::Metric, Label::Metric]);
    }

    #[test]
    fn a_debit_beyond_the_balance_is_refused() {
        let refused =
            plan(&change(-11, Floor::Refuse, None), Snapshot { balance: 10, seq: 2 }, "ent_1".into(), 5).unwrap_err();
        assert_eq!(refused, Refusal::Shortage { balance: 10, required: 11 });
    }

    #[test]
    fn changes_past_the_range_of_a_count_are_refused_not_wrapped() {
        let full = Snapshot { balance: i64::MAX - 1, seq: 3 };
        assert_eq!(plan(&change(2, Floor::Refuse, None), full, "e".into(), 5).unwrap_err(), Refusal::OutOfRange);
        let empty = Snapshot { balance: 0, seq: 3 };
        for floor in [Floor::Refuse, Floor::Clamp] {
            let min = plan(&change(i64::MIN, floor, None), empty, "e".into(), 5);
            assert!(min.is_err() || min.unwrap().1.balance_after == 0, "{floor:?}");
        }
        assert_eq!(
            plan(&change(i64::MIN, Floor::Refuse, None), empty, "e".into(), 5).unwrap_err(),
            Refusal::OutOfRange
        );
    }

    #[test]
    fn a_callers_key_and_tollgates_own_key_of_the_same_text_are_different_records() {
        let caller =
            plan(&change(-1, Floor::Refuse, Some("refund:ord_1")), Snapshot { balance: 5, seq: 1 }, "e".into(), 5);
        let mut own = change(-1, Floor::Clamp, None);
        own.key = Some(RequestKey::Own("refund:ord_1"));
        let own = plan(&own, Snapshot { balance: 5, seq: 1 }, "e".into(), 5);
        assert_ne!(caller.unwrap().0.labelled()[2].1.key(), own.unwrap().0.labelled()[2].1.key());
    }

    #[test]
    fn a_clamped_take_back_stops_at_zero_and_records_the_shortfall() {
        let (_, entry) =
            plan(&change(-30, Floor::Clamp, None), Snapshot { balance: 12, seq: 3 }, "ent_1".into(), 5).unwrap();
        assert_eq!((entry.delta, entry.balance_after, entry.shortfall), (-12, 0, Some(18)));
    }

    #[test]
    fn a_first_credit_expects_no_balance_yet() {
        let (writes, entry) = plan(&change(100, Floor::Refuse, None), Snapshot::default(), "ent_1".into(), 5).unwrap();
        assert_eq!((entry.balance_after, entry.seq), (100, 1));
        let labels: Vec<Label> = writes.labelled().iter().map(|(l, _)| *l).collect();
        assert_eq!(labels, [Label::Balance, Label::LedgerEntry, Label::Metric, Label::Metric], "no key, no key record");
    }
}
