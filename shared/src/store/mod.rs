//! The store: one table of items addressed by PK/SK strings, with conditional writes and
//! all-or-nothing transactions. `DynamoDbStore` is production; `MemoryStore` is the embedded
//! default for development and tests and gives the same guarantees. `schema` names every item
//! kind and returns its writes as labelled transactions (`Tx`), so every business operation is
//! one round trip where it can be and a refusal says which writes failed (`StoreError::refused`).

pub mod codec;
pub mod cursor;
pub mod dynamodb;
#[cfg(feature = "testing")]
pub mod faults;
pub mod item;
pub mod memory;
pub mod schema;
pub mod tx;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use dynamodb::DynamoDbStore;
pub use item::*;
pub use memory::MemoryStore;
pub use tx::{Label, Tx};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// A single write's condition did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled: `failed` labels the writes whose conditions did not hold.
    #[error("transaction cancelled; conditions failed: {failed:?}")]
    Cancelled { failed: Vec<Label> },
    /// An item that does not parse as its record.
    #[error("unreadable item {key:?}: {reason}")]
    Corrupt { key: Key, reason: String },
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// Did the transaction fail because a write labelled `label` did not hold?
    pub fn refused(&self, label: Label) -> bool {
        matches!(self, StoreError::Cancelled { failed } if failed.contains(&label))
    }
    /// What went wrong, when it is a failure rather than a refusal (for the metrics).
    pub fn failure_kind(&self) -> Option<&'static str> {
        match self {
            StoreError::ConditionFailed | StoreError::Cancelled { .. } => None,
            StoreError::Corrupt { .. } => Some("corrupt"),
            StoreError::Invalid(_) => Some("invalid"),
            StoreError::Unavailable(_) => Some("unavailable"),
        }
    }
    pub fn is_condition(&self) -> bool {
        matches!(self, StoreError::ConditionFailed | StoreError::Cancelled { .. })
    }
}

/// DynamoDB's limit on the keys in one BatchGetItem call.
pub const MAX_BATCH_GET: usize = 100;

/// DynamoDB's limit on the items in one TransactWriteItems call.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

#[derive(Clone)]
enum Backend {
    Memory(MemoryStore),
    DynamoDb(DynamoDbStore),
    #[cfg(feature = "testing")]
    Faulty(faults::FaultyStore),
}

/// The store every handler uses. Counts round trips so tests can hold the design to its budget.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    round_trips: Arc<AtomicU64>,
    /// The kind of store a faulty one wraps.
    faulty_kind: Option<&'static str>,
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $call:expr) => {{
        $self.round_trips.fetch_add(1, Ordering::Relaxed);
        let result = match &$self.backend {
            Backend::Memory($b) => $call.await,
            Backend::DynamoDb($b) => $call.await,
            #[cfg(feature = "testing")]
            Backend::Faulty($b) => $call.await,
        };
        crate::emf::store_call(result.as_ref().err().and_then(StoreError::failure_kind));
        result
    }};
}

impl Store {
    pub fn memory() -> Self {
        Self::wrap(Backend::Memory(MemoryStore::default()))
    }
    pub fn dynamodb(store: DynamoDbStore) -> Self {
        Self::wrap(Backend::DynamoDb(store))
    }
    /// `inner`, misbehaving as `faults` says (tests only).
    #[cfg(feature = "testing")]
    pub fn faulty(inner: Store, faults: Arc<faults::Faults>) -> Self {
        let kind = inner.kind();
        let mut store = Self::wrap(Backend::Faulty(faults::FaultyStore::new(inner, faults)));
        store.faulty_kind = Some(kind);
        store
    }
    fn wrap(backend: Backend) -> Self {
        Store { backend, round_trips: Arc::new(AtomicU64::new(0)), faulty_kind: None }
    }
    pub fn kind(&self) -> &'static str {
        match (&self.backend, self.faulty_kind) {
            (_, Some(kind)) => kind,
            (Backend::Memory(_), _) => "memory",
            (Backend::DynamoDb(_), _) => "dynamodb",
            #[cfg(feature = "testing")]
            (Backend::Faulty(_), None) => "faulty",
        }
    }

    /// Every item of a memory store (None for other backends); tests compare before and after.
    #[cfg(feature = "testing")]
    pub fn memory_items(&self) -> Option<Vec<Item>> {
        match &self.backend {
            Backend::Memory(m) => Some(m.items()),
            _ => None,
        }
    }

    /// Calls made to the backend since the store was built.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        dispatch!(self, b => b.get(key))
    }
    /// Several items in one strongly consistent call, in the order asked (None where missing).
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        if keys.len() > MAX_BATCH_GET {
            return Err(StoreError::Invalid(format!("{} keys exceed the batch limit", keys.len())));
        }
        dispatch!(self, b => b.get_many(keys))
    }
    pub async fn write(&self, write: Write) -> Result<(), StoreError> {
        dispatch!(self, b => b.write(write))
    }
    /// Applies an update and returns the item as it is afterwards.
    pub async fn update(&self, update: Update) -> Result<Item, StoreError> {
        dispatch!(self, b => b.update(update))
    }
    /// All writes or none. Fails with `Cancelled` labelling the writes whose conditions failed.
    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        if tx.is_empty() {
            return Ok(());
        }
        if tx.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Invalid(format!("{} writes exceed the transaction limit", tx.len())));
        }
        let mut keys: Vec<&Key> = tx.writes().map(Write::key).collect();
        keys.sort();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(StoreError::Invalid("a transaction may touch each item once".into()));
        }
        dispatch!(self, b => b.transact(tx))
    }
    /// Commits `tx`: one write as a single conditional write (cheaper than a transaction), more
    /// as a transaction. Either way a refusal is `Cancelled` with the refused labels.
    pub async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        if tx.len() != 1 {
            return self.transact(tx).await;
        }
        let Some((label, write)) = tx.into_iter().next() else { return Ok(()) };
        match self.write(write).await {
            Err(StoreError::ConditionFailed) => Err(StoreError::Cancelled { failed: vec![label] }),
            other => other,
        }
    }
    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        dispatch!(self, b => b.query(query))
    }
    /// Every item of `query`, reading page after page (one call per page).
    pub async fn query_all(&self, query: &Query) -> Result<Vec<Item>, StoreError> {
        let mut query = query.clone();
        let mut all = Vec::new();
        loop {
            let page = self.query(&query).await?;
            all.extend(page.items);
            match page.last_sk {
                Some(sk) => query.after = Some(sk),
                None => return Ok(all),
            }
        }
    }
    /// Items whose GSI1PK equals `value` (eventually consistent in DynamoDB).
    pub async fn query_index(&self, value: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        dispatch!(self, b => b.query_index(value, limit, false))
    }
    /// Items whose GSI1PK equals `value`, the greatest GSI1SK first (eventually consistent in
    /// DynamoDB).
    pub async fn query_index_newest(&self, value: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        dispatch!(self, b => b.query_index(value, limit, true))
    }
    /// A cheap call that proves the backend answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, b => b.ping())
    }
}
