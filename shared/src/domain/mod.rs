//! Business rules by noun, as plain async functions over the `App`. No HTTP, no DynamoDB.

pub mod billing;
pub mod claims;
pub mod credits;
pub mod cursor;
pub mod entitlements;
pub mod health;
pub mod hints;
pub mod mail;
pub mod members;
pub mod orders;
pub mod pace;
pub mod purchases;
pub mod reversals;
pub mod sessions;
pub mod sign_in;
pub mod stripe_events;
pub mod subscriptions;
pub mod usage;
pub mod users;
pub mod waiting;
