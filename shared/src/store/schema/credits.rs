//! Credits: the balance (`USER#<id>`/`CREDITS#BALANCE`, with the sequence number of the last
//! change), the ledger (`CREDITS#ENTRY#<seq>`, never changed or deleted) and keyed requests'
//! records (`CREDITS#KEY#<C|T>#<key>`, a week).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::error::Error;
use crate::store::codec::{decode_all, decode_opt, encode};
use crate::store::{Condition, Label, Query, Store, StoreError, TTL, Tx, Update, Write};

/// Who chose a credit change's idempotency key. The two live under different prefixes, so no
/// key a caller sends can ever name (and so pre-empt) one of Tollgate's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKey<'a> {
    /// A key the API caller chose (`idempotency_key`, `Idempotency-Key`, `ref`).
    Caller(&'a str),
    /// Tollgate's own key for one of its effects (`order:<id>`, `refund:<order>`, ...).
    Own(&'a str),
}

impl RequestKey<'_> {
    pub fn scoped(&self) -> String {
        match self {
            RequestKey::Caller(k) => format!("C#{k}"),
            RequestKey::Own(k) => format!("T#{k}"),
        }
    }
}

/// Why a ledger entry was written: a closed set that only Tollgate names. What a person typed
/// (a debit's reason, an administrator's note) is kept apart, in the entry's `note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A credit pack bought.
    Purchase,
    /// A refunded purchase or invoice taking its credits back.
    Refund,
    /// A disputed payment taking its credits back.
    Dispute,
    /// A dispute decided for the business: what it took is given back.
    DisputeWon,
    /// A paid subscription period's credits.
    Subscription,
    /// An administrator's grant or correction.
    Admin,
    /// A caller's `POST /api/credits/debit`.
    Debit,
    /// A caller's `POST /api/credits/use`.
    Use,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::Purchase,
        Reason::Refund,
        Reason::Dispute,
        Reason::DisputeWon,
        Reason::Subscription,
        Reason::Admin,
        Reason::Debit,
        Reason::Use,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Purchase => "purchase",
            Reason::Refund => "refund",
            Reason::Dispute => "dispute",
            Reason::DisputeWon => "dispute_won",
            Reason::Subscription => "subscription",
            Reason::Admin => "admin",
            Reason::Debit => "debit",
            Reason::Use => "use",
        }
    }
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// Written on a caller's request (as opposed to by Tollgate or an administrator).
    pub fn is_callers(self) -> bool {
        matches!(self, Reason::Debit | Reason::Use)
    }
}

/// One change to a user's credit balance. The balance is always the sum of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    #[serde(rename = "entry_id")]
    pub id: String,
    pub user_id: String,
    /// 1 for the user's first change, then one more for each.
    pub seq: i64,
    pub delta: i64,
    pub balance_after: i64,
    pub reason: Reason,
    /// What the caller or administrator wrote about the change (never one of Tollgate's reasons).
    pub note: Option<String>,
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Credits a take-back could not take because they were already spent.
    pub shortfall: Option<i64>,
    pub created_at: i64,
}

/// What a keyed credit request did, so a retry answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRequest {
    pub user_id: String,
    /// Scoped by who chose it (`RequestKey::scoped`).
    pub key: String,
    /// The change asked for (negative for a debit).
    pub requested: i64,
    pub entry_id: String,
    pub balance_after: i64,
    pub created_at: i64,
}

/// Keys are remembered a week: far longer than any client retries.
pub const CREDIT_KEY_RETENTION_SECS: i64 = 7 * 24 * 3600;

/// A user's balance and how many changes made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub balance: i64,
    #[serde(default)]
    pub seq: i64,
}

/// The state and, for a keyed change, the key's earlier record, in one consistent read.
pub async fn read(
    store: &Store,
    user_id: &str,
    key: Option<RequestKey<'_>>,
) -> Result<(State, Option<CreditRequest>), StoreError> {
    let (state, request, _) = read_with_plans(store, user_id, key, false).await?;
    Ok((state, request))
}

/// The balance, the key's record, and (when `with_plans`) the user's plans, in one read: a
/// change made with the user's token compares the token's version there.
pub async fn read_with_plans(
    store: &Store,
    user_id: &str,
    key: Option<RequestKey<'_>>,
    with_plans: bool,
) -> Result<(State, Option<CreditRequest>, Option<super::plans::Plans>), StoreError> {
    let mut keys = vec![keys::credit_balance(user_id)];
    if with_plans {
        keys.push(keys::plans_held(user_id));
    }
    if let Some(key) = key {
        keys.push(keys::credit_request(user_id, &key.scoped()));
    }
    let found = store.get_many(&keys).await?;
    let mut found = found.iter();
    let state = decode_opt::<State>(found.next().and_then(Option::as_ref))?.unwrap_or_default();
    let plans = match with_plans {
        true => Some(super::plans::Plans::from_item(found.next().and_then(Option::as_ref))?),
        false => None,
    };
    let request = decode_opt(found.next().and_then(Option::as_ref))?;
    Ok((state, request, plans))
}

pub async fn balance(store: &Store, user_id: &str) -> Result<i64, StoreError> {
    Ok(read(store, user_id, None).await?.0.balance)
}

/// The writes of one change computed from `before`: the balance, refused (`Balance`) unless it
/// is still at `before`; the entry; and the key's record, refused (`RequestKey`) if the key was
/// used meanwhile.
pub fn change(before: State, entry: &LedgerEntry, key: Option<RequestKey<'_>>, requested: i64) -> Tx {
    let state_is = if before.seq == 0 { Condition::absent("seq") } else { Condition::equals("seq", before.seq) };
    let balance = Update::new(keys::credit_balance(&entry.user_id))
        .set("balance", entry.balance_after)
        .set("seq", entry.seq)
        .set("updated_at", entry.created_at)
        .when(state_is);
    let mut tx = Tx::new()
        .with(Label::Balance, Write::Update(balance))
        .with(Label::LedgerEntry, Write::put_new(encode(&keys::ledger_entry(&entry.user_id, entry.seq), entry)));
    if let Some(key) = key {
        let request = CreditRequest {
            user_id: entry.user_id.clone(),
            key: key.scoped(),
            requested,
            entry_id: entry.id.clone(),
            balance_after: entry.balance_after,
            created_at: entry.created_at,
        };
        let item = encode(&keys::credit_request(&entry.user_id, &request.key), &request)
            .with(TTL, entry.created_at + CREDIT_KEY_RETENTION_SECS);
        tx.push(Label::RequestKey, Write::put_new(item));
    }
    tx.append(count(entry));
    tx
}

/// The change's counters (all-time and its day): credits granted, spent by callers, and taken
/// back (refunds, disputes, corrections); outstanding is granted - spent - taken back.
fn count(entry: &LedgerEntry) -> Tx {
    use super::metrics::{Counts, Family, count_all, count_day};
    let class = match (entry.delta > 0, entry.reason.is_callers()) {
        (true, _) => "granted",
        (false, true) => "spent",
        (false, false) => "taken_back",
    };
    let counts = Counts::from([(class.to_string(), entry.delta.abs())]);
    let mut tx = count_all(Family::Credits, &entry.user_id, &counts);
    tx.append(count_day(Family::Credits, &entry.user_id, entry.created_at, &counts));
    tx
}

/// One page of the ledger, newest first; the cursor is opaque.
pub async fn history(
    store: &Store,
    user_id: &str,
    limit: usize,
    cursor: Option<&str>,
) -> Result<(Vec<LedgerEntry>, Option<String>), Error> {
    super::newest_first(store, keys::user_pk(user_id), keys::LEDGER_SK, limit, cursor).await
}

/// Every entry, oldest first.
pub async fn ledger(store: &Store, user_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
    decode_all(&store.query_all(&Query::prefix(keys::user_pk(user_id), keys::LEDGER_SK)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64) -> LedgerEntry {
        LedgerEntry {
            id: "ent_1".into(),
            user_id: "usr_1".into(),
            seq,
            delta: -3,
            balance_after: 7,
            reason: Reason::Debit,
            note: None,
            reference: None,
            shortfall: None,
            created_at: 5,
        }
    }

    #[test]
    fn a_change_is_conditional_on_the_state_it_was_computed_from() {
        let tx = change(State { balance: 10, seq: 4 }, &entry(5), Some(RequestKey::Caller("k")), -3);
        let writes = tx.labelled();
        assert_eq!(writes[0].1.condition(), Some(&Condition::equals("seq", 4)));
        assert_eq!(writes[1].1.key(), &keys::ledger_entry("usr_1", 5));
        assert_eq!(writes[2].1.key(), &keys::credit_request("usr_1", "C#k"));
        let first = change(State::default(), &entry(1), None, -3);
        assert_eq!(first.labelled()[0].1.condition(), Some(&Condition::absent("seq")));
    }

    #[test]
    fn entries_round_trip_with_their_attribute_names() {
        let mut e = entry(5);
        e.reference = Some("ord_1".into());
        let item = encode(&keys::ledger_entry("usr_1", 5), &e);
        assert_eq!(item.str("ref"), Some("ord_1"));
        assert_eq!(item.str("reason"), Some("debit"));
        assert_eq!(item.get("note"), None, "None is an absent attribute");
        assert_eq!(crate::store::codec::decode::<LedgerEntry>(&item).unwrap(), e);
    }
}
