//! Transactions built from labelled writes: a refusal names what failed (the event record, the
//! balance, the payment's pointer), never a write's position, so the code that builds a
//! transaction and the code that reads its refusal cannot disagree about indices.

use super::Write;

/// What a write in a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// A Stripe event's exactly-once record.
    Event,
    /// A billing audit record.
    Audit,
    /// An email queued by the transaction.
    Mail,
    /// A payment's pointer (the one guard of reversals).
    Pointer,
    /// A reversal's mark on a payment nothing was recorded for yet.
    Marker,
    /// A payment's link to the invoice it paid.
    PaymentLink,
    Order,
    /// A checkout session's pointer to its order.
    SessionLink,
    Grant,
    /// The user's `PLANS` item: grant counts, subscription access, or a check on the plan.
    Plans,
    /// A Stripe customer's link to a user.
    Customer,
    Profile,
    EmailOwner,
    /// A credit balance, conditional on the state it was computed from.
    Balance,
    LedgerEntry,
    /// An idempotency key's record (credits or usage).
    RequestKey,
    Subscription,
    /// A check that another subscription of the user is still as read.
    OtherSubscription,
    /// Members' prices used this month.
    Members,
    Code,
    /// Another issuer's user, linked to a Tollgate user.
    Identity,
    RateLimit,
    /// A count kept per user (capped records, metered use).
    Counter,
    Session,
    SessionEntry,
    /// An event that waited for its customer.
    Waiting,
    /// An admin-metrics counter (`ADD` only, never refused): counters of one item in one
    /// transaction are merged into one write.
    Metric,
    /// A personal record deleted or pseudonymised by an erasure.
    Erasure,
}

/// Writes that commit all together or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tx {
    writes: Vec<(Label, Write)>,
}

impl Tx {
    pub fn new() -> Self {
        Tx::default()
    }
    pub fn with(mut self, label: Label, write: Write) -> Self {
        self.push(label, write);
        self
    }
    pub fn push(&mut self, label: Label, write: Write) {
        if let (Label::Metric, Write::Update(more)) = (label, &write) {
            let same = self.writes.iter_mut().find_map(|(l, w)| match (l, w) {
                (Label::Metric, Write::Update(u)) if u.key == more.key => Some(u),
                _ => None,
            });
            if let Some(counter) = same {
                counter.merge(more);
                return;
            }
        }
        self.writes.push((label, write));
    }
    pub fn append(&mut self, other: Tx) {
        for (label, write) in other.writes {
            self.push(label, write);
        }
    }
    pub fn len(&self) -> usize {
        self.writes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
    pub fn writes(&self) -> impl Iterator<Item = &Write> {
        self.writes.iter().map(|(_, w)| w)
    }
    pub fn labelled(&self) -> &[(Label, Write)] {
        &self.writes
    }
    /// The labels of the writes at `indices` (what a backend's cancellation reports).
    pub fn labels_at(&self, indices: impl IntoIterator<Item = usize>) -> Vec<Label> {
        let mut labels: Vec<Label> = indices.into_iter().filter_map(|i| self.writes.get(i).map(|(l, _)| *l)).collect();
        labels.sort();
        labels.dedup();
        labels
    }
    pub fn into_writes(self) -> Vec<Write> {
        self.writes.into_iter().map(|(_, w)| w).collect()
    }
}

impl FromIterator<(Label, Write)> for Tx {
    fn from_iter<I: IntoIterator<Item = (Label, Write)>>(iter: I) -> Self {
        Tx { writes: iter.into_iter().collect() }
    }
}

impl IntoIterator for Tx {
    type Item = (Label, Write);
    type IntoIter = std::vec::IntoIter<(Label, Write)>;
    fn into_iter(self) -> Self::IntoIter {
        self.writes.into_iter()
    }
}
