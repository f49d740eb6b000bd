//! Stripe: webhook signatures (pure), typed views of its objects, the few REST calls Tollgate
//! makes, and a simulation for local development without a Stripe account.

pub mod backend;
pub mod changes;
pub mod client;
pub mod events;
pub mod handled;
pub mod listing;
pub mod prices;
pub mod push;
pub mod signature;
pub mod simulator;

pub use backend::Stripe;
pub use changes::{InvoicePreview, PlanChange};
pub use client::{CheckoutRequest, CreatedSession, StripeClient, StripeError, SubscriptionTerms};
pub use events::{Charge, CheckoutSession, Dispute, Event, Invoice, Subscription, SubscriptionSchedule};
pub use handled::{Handled, InvoiceChange, SubscriptionChange};
pub use simulator::Simulator;
