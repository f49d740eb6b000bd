//! Tollgate's shared library: everything the Lambda functions, the dev server and the CLI have
//! in common. Business rules live in `domain` by noun; what is stored, under which keys, only in
//! `store::schema`; DynamoDB only in `store::dynamodb`; HTTP only in `http` (and the functions'
//! handlers).

pub mod app;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod domain;
pub mod email;
pub mod emf;
pub mod error;
pub mod hints;
pub mod http;
pub mod outbound;
pub mod runtime;
pub mod store;
pub mod stripe;

pub use app::App;
pub use error::{Error, Result};
