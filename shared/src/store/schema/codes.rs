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

/// The code for `email`, replacing any earlier one issued at least `cooldown` seconds ago
/// (refused, `Code`, when one was issued since).
pub fn issue(email: &str, code: &LoginCode, cooldown: i64) -> Tx {
    let item = encode(&keys::login_code(email), code).with(TTL, code.expires_at + KEEP_AFTER_EXPIRY_SECS);
    let write = match cooldown {
        0 => Write::put(item),
        _ => Write::put_if(item, Some(Condition::AbsentOrBelow("issued_at".into(), code.issued_at - cooldown + 1))),
    };
    Tx::new().with(Label::Code, write)
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

/// How many verification attempts an email may make in a day, and past them in each window.
pub struct Allowance {
    pub day_start: i64,
    pub per_day: i64,
    pub window_start: i64,
}

/// Takes one verification attempt before the code is compared, so concurrent guesses cannot
/// outnumber the attempts: one of the code's (refused, `Code`, when it changed, was spent or has
/// none left) and one of the email's day (refused, `RateLimit`, once `per_day` are taken and
/// this window's one is too).
pub fn take_attempt(email: &str, code_id: &str, max: i64, allowance: &Allowance) -> Tx {
    let code = Update::new(keys::login_code(email)).add("attempts", 1).when(same_live_code(code_id, max));
    let day = Update::new(keys::rate_window("verify", email, allowance.day_start))
        .add("count", 1)
        .set("last_window", allowance.window_start)
        .set_if_absent(TTL, allowance.day_start + 2 * 86_400)
        .when(Condition::Or(vec![
            Condition::AbsentOrBelow("count".into(), allowance.per_day),
            Condition::AbsentOrBelow("last_window".into(), allowance.window_start),
        ]));
    Tx::new().with(Label::Code, Write::Update(code)).with(Label::RateLimit, Write::Update(day))
}

/// Spends the code whose attempt was taken; false when it changed meanwhile (a resend or a
/// racing verify won).
pub async fn spend(store: &Store, email: &str, code_id: &str, max: i64, now: i64) -> Result<bool, StoreError> {
    let update = Update::new(keys::login_code(email)).set("used_at", now).when(same_live_code(code_id, max + 1));
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
