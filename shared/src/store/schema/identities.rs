//! Other issuers' users linked to Tollgate users (`IDENTITY#<issuer>#<subject>`/`USER`), and the
//! user's side of each link (`USER#<id>`/`IDENTITY#<issuer>#<subject>`, for erasure to find).

use serde::{Deserialize, Serialize};

use super::keys;
use crate::store::codec::{decode_opt, encode};
use crate::store::{Label, Store, StoreError, Tx, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    /// The email the link was made with when the issuer vouched for it ("" otherwise): the
    /// user's, since a verified email links to the user who owns it.
    pub email: String,
    pub linked_at: i64,
}

pub async fn get(store: &Store, issuer: &str, subject: &str) -> Result<Option<Link>, StoreError> {
    decode_opt(store.get(&keys::identity(issuer, subject)).await?.as_ref())
}

/// The link and the user's side of it, refused (`Identity`) when the identity is linked already.
pub fn link(link: &Link) -> Tx {
    Tx::new().with(Label::Identity, Write::put_new(encode(&keys::identity(&link.issuer, &link.subject), link))).with(
        Label::Identity,
        Write::put(encode(&keys::identity_of_user(&link.user_id, &link.issuer, &link.subject), link)),
    )
}
