//! What the simulated Stripe holds, as reconciliation walks it.

use serde_json::Value;

use super::Simulator;
use crate::stripe::listing::{Walk, is_paid_session};

impl Simulator {
    /// The simulation's paid sessions, subscriptions, refunded charges and disputes (it keeps no
    /// customers of its own: they are made for users Tollgate knows).
    pub fn walk(&self, since: i64) -> Walk {
        let recent = |o: &Value| o["created"].as_i64().is_none_or(|c| c >= since);
        let sessions = self.sessions();
        let paid_sessions = sessions.iter().map(|(id, s)| self.session_json(id, s)).filter(is_paid_session).collect();
        drop(sessions);
        let subscriptions = self.subscriptions().values().cloned().collect();
        let lock = |m: &std::sync::Mutex<std::collections::HashMap<String, Value>>| {
            m.lock().unwrap_or_else(|p| p.into_inner()).values().filter(|o| recent(o)).cloned().collect::<Vec<_>>()
        };
        Walk {
            customers: Vec::new(),
            paid_sessions,
            subscriptions,
            refunded_charges: lock(&self.charges),
            disputes: lock(&self.disputes),
        }
    }
}
