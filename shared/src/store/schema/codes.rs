//! Sign-in codes (`EMAIL#<email>`/`CODE`: a keyed hash, never the code) and the rate-limit
//! windows that bound how many a sender may ask for (`RATE#<scope>#<subject>`/`W#<start>`).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode_opt, encode};
use crate::store::{Condition, Label, Store, StoreError, TTL, Tx, Update, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCode {
    pub hash: String,
    /// Which code this is: a resend replaces it, so a verify changes only the code it read.
    pub code_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub attempts: i64,
    pub used_at: Option<i64>,
}

/// Codes are deleted this long after they expire.
const KEEP_AFTER_EXPIRY_SECS: i64 = 86_400;

pub async fn get(store: &Store, email: &str) -> Result<Option<LoginCode>, StoreError> {
    decode_opt(store.get(&keys::login_code(email)).await?.as_ref())
}

/// The code for `email`, replacing any earlier one.
pub fn issue(email: &str, code: &LoginCode) -> Tx {
    let item = encode(&keys::login_code(email), code).with(TTL, code.expires_at + KEEP_AFTER_EXPIRY_SECS);
    Tx::new().with(Label::Code, Write::put(item))
}

/// One more request in the window starting at `window_start`; refused (`RateLimit`) at `limit`.
pub fn count_request(scope: &str, subject: &str, window_start: i64, window: i64, limit: i64) -> Tx {
    let update = Update::new(keys::rate_window(scope, subject, window_start))
        .add("count", 1)
        .set_if_absent(TTL, window_start + window + 3600)
        .when(Condition::AbsentOrBelow("count".into(), limit));
    Tx::new().with(Label::RateLimit, Write::Update(update))
}

/// Only the code that was read, still unspent and with attempts left, may change.
fn same_live_code(code_id: &str, max_attempts: i64) -> Condition {
    Condition::And(vec![
        Condition::equals("code_id", code_id),
        Condition::absent("used_at"),
        Condition::AbsentOrBelow("attempts".into(), max_attempts),
    ])
}

/// Counts a wrong attempt; false when the code changed meanwhile (resent, spent, burnt).
pub async fn count_wrong_attempt(store: &Store, email: &str, code_id: &str, max: i64) -> Result<bool, StoreError> {
    let update = Update::new(keys::login_code(email)).add("attempts", 1).when(same_live_code(code_id, max));
    changed(store.update(update).await.map(|_| ()))
}

/// Spends the code; false when it changed meanwhile (a resend or a racing verify won).
pub async fn spend(store: &Store, email: &str, code_id: &str, max: i64, now: i64) -> Result<bool, StoreError> {
    let update = Update::new(keys::login_code(email)).set("used_at", now).when(same_live_code(code_id, max));
    let mut tx = Tx::new().with(Label::Code, Write::Update(update));
    // A sign-in, counted with the code it spends.
    tx.append(super::metrics::count_day(
        super::metrics::Family::SignIn,
        email,
        now,
        &[("sign_ins".to_string(), 1)].into(),
    ));
    match store.commit(tx).await {
        Ok(()) => Ok(true),
        Err(e) if e.refused(Label::Code) => Ok(false),
        Err(e) => Err(e),
    }
}

fn changed(result: Result<(), StoreError>) -> Result<bool, StoreError> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}
