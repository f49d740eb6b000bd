//! A store that misbehaves on purpose (tests only): it wraps a real store and, on the calls it is
//! told to, fails, throttles, times out, commits but loses the answer, or reports a transaction
//! conflict; or, before a chosen call, runs another operation first (a deterministic
//! interleaving of two requests: the DynamoDB server the tests use runs one request at a time,
//! so real races are otherwise rare).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Item, Key, Page, Query, Store, StoreError, Tx, Update, Write};

/// What happens to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The backend refuses: nothing happens.
    Fail,
    /// DynamoDB's throughput exceeded: nothing happens.
    Throttle,
    /// No answer in time: nothing happens (the caller gives up).
    Timeout,
    /// The call is applied, but its answer is lost on the way back.
    LoseAnswer,
    /// A transaction loses to a concurrent one (after the SDK's own retries): nothing happens.
    Conflict,
}

impl Fault {
    pub const ALL: [Fault; 5] = [Fault::Fail, Fault::Throttle, Fault::Timeout, Fault::LoseAnswer, Fault::Conflict];

    fn error(self) -> StoreError {
        StoreError::Unavailable(
            match self {
                Fault::Fail => "injected failure",
                Fault::Throttle => "ProvisionedThroughputExceededException (injected)",
                Fault::Timeout => "request timed out (injected)",
                Fault::LoseAnswer => "the answer was lost (injected)",
                Fault::Conflict => "TransactionConflict (injected)",
            }
            .to_string(),
        )
    }
}

type Interleaved = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The faults planned, by call number (1 = the first call after `arm`).
#[derive(Default)]
pub struct Faults {
    calls: AtomicU64,
    planned: Mutex<BTreeMap<u64, Fault>>,
    /// Only transactions count towards `planned` when set (the conflict mode).
    transactions_only: std::sync::atomic::AtomicBool,
    before: Mutex<BTreeMap<u64, Interleaved>>,
}

impl Faults {
    /// Starts counting calls from zero with no fault planned.
    pub fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.planned.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.before.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.transactions_only.store(false, Ordering::SeqCst);
    }
    /// `fault` on the `nth` call from now (counting transactions only, for `Conflict`).
    pub fn on_call(&self, nth: u64, fault: Fault) {
        self.reset();
        self.transactions_only.store(fault == Fault::Conflict, Ordering::SeqCst);
        self.planned.lock().unwrap_or_else(|p| p.into_inner()).insert(nth, fault);
    }
    /// Runs `first` to completion just before the `nth` call from now is made.
    pub fn before_call(&self, nth: u64, first: impl Future<Output = ()> + Send + 'static) {
        self.reset();
        self.before.lock().unwrap_or_else(|p| p.into_inner()).insert(nth, Box::pin(first));
    }
    /// Calls made since the last reset.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn enter(&self, transaction: bool) -> Option<Fault> {
        if self.transactions_only.load(Ordering::SeqCst) && !transaction {
            return None;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let first = self.before.lock().unwrap_or_else(|p| p.into_inner()).remove(&n);
        if let Some(first) = first {
            // Its own task (the call waits for it): a whole request run inside this call does not
            // nest its futures on this one's stack (a debug build's 2 MB test thread overflowed).
            if let Err(e) = tokio::spawn(first).await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        self.planned.lock().unwrap_or_else(|p| p.into_inner()).remove(&n)
    }
}

/// A store whose calls go through `Faults` first.
#[derive(Clone)]
pub struct FaultyStore {
    inner: Box<Store>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: Store, faults: Arc<Faults>) -> Self {
        FaultyStore { inner: Box::new(inner), faults }
    }

    /// Runs `call` unless a fault says otherwise; `LoseAnswer` runs it and reports failure.
    async fn through<T>(
        &self,
        transaction: bool,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match self.faults.enter(transaction).await {
            None => call.await,
            Some(Fault::LoseAnswer) => {
                let _applied = call.await;
                Err(Fault::LoseAnswer.error())
            }
            Some(Fault::Conflict) if !transaction => call.await,
            Some(fault) => Err(fault.error()),
        }
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.through(false, Box::pin(self.inner.get(key))).await
    }
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        self.through(false, Box::pin(self.inner.get_many(keys))).await
    }
    pub async fn write(&self, write: Write) -> Result<(), StoreError> {
        self.through(false, Box::pin(self.inner.write(write))).await
    }
    pub async fn update(&self, update: Update) -> Result<Item, StoreError> {
        self.through(false, Box::pin(self.inner.update(update))).await
    }
    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        self.through(true, Box::pin(self.inner.transact(tx))).await
    }
    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.through(false, Box::pin(self.inner.query(query))).await
    }
    pub async fn query_index(&self, value: &str, limit: usize, newest_first: bool) -> Result<Vec<Item>, StoreError> {
        let inner = &self.inner;
        let query = async move {
            if newest_first {
                inner.query_index_newest(value, limit).await
            } else {
                inner.query_index(value, limit).await
            }
        };
        self.through(false, Box::pin(query)).await
    }
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.through(false, Box::pin(self.inner.ping())).await
    }
}
