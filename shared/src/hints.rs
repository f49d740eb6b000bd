//! What this instance last saw of a value it changes with conditional writes (a credit balance,
//! a usage counter). Only a hint: a wrong one makes the write's condition fail and the caller
//! reads afresh, so it saves a read and never decides anything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Hints<V>(Arc<Mutex<HashMap<String, V>>>);

impl<V> Default for Hints<V> {
    fn default() -> Self {
        Hints(Arc::default())
    }
}

/// Bounds the memory a long-lived instance spends on hints.
const MAX_HINTS: usize = 10_000;

impl<V: Copy> Hints<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied()
    }
    pub fn set(&self, key: &str, value: V) {
        let mut hints = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if hints.len() >= MAX_HINTS && !hints.contains_key(key) {
            hints.clear();
        }
        hints.insert(key.to_string(), value);
    }
    pub fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}
