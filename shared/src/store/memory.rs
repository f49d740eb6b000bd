//! The embedded store for local development and unit tests. Every call takes one lock, so a
//! conditional write or a transaction is atomic exactly as in DynamoDB: conditions are checked
//! and writes applied with no other call in between.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{GSI1PK, Item, Key, Page, Query, StoreError, Tx, Update, Write};

#[derive(Clone, Default)]
pub struct MemoryStore {
    items: Arc<Mutex<BTreeMap<Key, Item>>>,
}

type Table = BTreeMap<Key, Item>;

impl MemoryStore {
    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave a half-applied write: writes are applied
        // only after every condition passed, and applying does not panic.
        self.items.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every item, in key order (tests: "nothing was written").
    #[cfg(feature = "testing")]
    pub fn items(&self) -> Vec<Item> {
        self.table().values().cloned().collect()
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        Ok(self.table().get(key).cloned())
    }

    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let table = self.table();
        Ok(keys.iter().map(|k| table.get(k).cloned()).collect())
    }

    pub async fn write(&self, write: Write) -> Result<(), StoreError> {
        let mut table = self.table();
        if !holds(&table, &write) {
            return Err(StoreError::ConditionFailed);
        }
        apply(&mut table, write);
        Ok(())
    }

    pub async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let mut table = self.table();
        let before = table.get(&update.key);
        if !update.condition.as_ref().is_none_or(|c| c.holds(before)) {
            return Err(StoreError::ConditionFailed);
        }
        let after = update.apply(before);
        table.insert(update.key.clone(), after.clone());
        Ok(after)
    }

    pub async fn transact(&self, tx: Tx) -> Result<(), StoreError> {
        let mut table = self.table();
        let failed: Vec<usize> = tx.writes().enumerate().filter(|(_, w)| !holds(&table, w)).map(|(i, _)| i).collect();
        if !failed.is_empty() {
            return Err(StoreError::Cancelled { failed: tx.labels_at(failed) });
        }
        for write in tx.into_writes() {
            apply(&mut table, write);
        }
        Ok(())
    }

    pub async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let table = self.table();
        let from = Key::new(query.pk.clone(), query.sk_prefix.clone());
        let matching = table
            .range(from..)
            .take_while(|(k, _)| k.pk == query.pk && k.sk.starts_with(&query.sk_prefix))
            .map(|(k, item)| (k.sk.as_str(), item));
        let mut all: Vec<(&str, &Item)> = matching.collect();
        if query.newest_first {
            all.reverse();
        }
        let after = query.after.as_deref();
        let start = match after {
            Some(a) => {
                all.iter().position(|(sk, _)| if query.newest_first { *sk < a } else { *sk > a }).unwrap_or(all.len())
            }
            None => 0,
        };
        let rest = &all[start..];
        let items: Vec<Item> = rest.iter().take(query.limit).map(|(_, i)| (*i).clone()).collect();
        let last_sk = (rest.len() > query.limit).then(|| rest[query.limit - 1].0.to_string());
        Ok(Page { items, last_sk })
    }

    pub async fn query_index(&self, value: &str, limit: usize, newest_first: bool) -> Result<Vec<Item>, StoreError> {
        let table = self.table();
        let mut found: Vec<Item> = table.values().filter(|i| i.str(GSI1PK) == Some(value)).cloned().collect();
        found.sort_by(|a, b| a.str(super::GSI1SK).cmp(&b.str(super::GSI1SK)));
        if newest_first {
            found.reverse();
        }
        found.truncate(limit);
        Ok(found)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn holds(table: &Table, write: &Write) -> bool {
    write.condition().is_none_or(|c| c.holds(table.get(write.key())))
}

fn apply(table: &mut Table, write: Write) {
    match write {
        Write::Put { key, item, .. } => {
            debug_assert_eq!(key, item.key(), "a put's key is its item's (Write::put_if)");
            table.insert(key, item);
        }
        Write::Update(update) => {
            let after = update.apply(table.get(&update.key));
            table.insert(update.key, after);
        }
        Write::Delete { key, .. } => {
            table.remove(&key);
        }
        Write::Check { .. } => {}
    }
}
