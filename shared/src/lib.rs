//! Tollgate's shared library: everything the Lambda functions, the dev server and the CLI have
//! in common. Business rules live in `domain` by noun; DynamoDB only in `store::dynamodb`; HTTP
//! only in `http` (and the functions' handlers).

pub mod catalog;
pub mod clock;
pub mod config;
pub mod error;
pub mod store;

pub use error::{Error, Result};
