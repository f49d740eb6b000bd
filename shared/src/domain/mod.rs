//! Business rules by noun, as plain async functions over the `App`. No HTTP, no DynamoDB.

pub mod billing;
pub mod claims;
pub mod credits;
pub mod entitlements;
pub mod erasure;
pub mod health;
pub mod identities;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod orders;
pub mod pace;
pub mod plan_changes;
pub mod plans;
pub mod purchases;
pub mod reconcile;
pub mod retry;
pub mod reversals;
pub mod sessions;
pub mod sign_in;
pub mod stripe_events;
pub mod subscriptions;
pub mod support;
pub mod usage;
pub mod users;
pub mod waiting;
