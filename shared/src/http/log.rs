//! One log line per request: what the handlers learn while they run (the caller's user id, the
//! Stripe event and its outcome) is noted here and written with the request's line. Never a
//! body, a code, a token or a key.

use std::cell::RefCell;
use std::future::Future;

#[derive(Debug, Clone, Default)]
pub struct Noted {
    pub user_id: Option<String>,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub outcome: Option<&'static str>,
}

tokio::task_local! {
    static NOTED: RefCell<Noted>;
}

fn note(f: impl FnOnce(&mut Noted)) {
    // Outside a request (a test calling the domain directly) there is nothing to note.
    let _ = NOTED.try_with(|n| f(&mut n.borrow_mut()));
}

/// The caller, once their token is verified.
pub fn note_user(user_id: &str) {
    note(|n| n.user_id = Some(user_id.to_string()));
}

/// The Stripe event a delivery carries, once its signature is verified.
pub fn note_event(id: &str, event_type: &str) {
    note(|n| {
        n.event_id = Some(id.to_string());
        n.event_type = Some(event_type.to_string());
    });
}

/// What applying the event did.
pub fn note_outcome(outcome: &'static str) {
    note(|n| n.outcome = Some(outcome));
}

/// Runs `work` with a fresh note, and returns what it noted.
pub async fn noting<T>(work: impl Future<Output = T>) -> (T, Noted) {
    NOTED
        .scope(RefCell::new(Noted::default()), async move {
            let out = work.await;
            (out, NOTED.with(|n| n.borrow().clone()))
        })
        .await
}

/// The function serving the request: Lambda's name for it, else `local` (the dev server, tests).
pub fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_string()))
}
