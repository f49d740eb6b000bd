//! The token a request presented, as the router verified it: the user's one read of their
//! plans (which every entitlement check makes) compares it with their token version, so a
//! revoked token stops working at the next check without a read of its own.

use std::future::Future;

use crate::error::Error;
use crate::store::schema::plans::Plans;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub user_id: String,
    /// The version a Tollgate token names; None for another issuer's token.
    pub version: Option<i64>,
    pub issued_at: i64,
}

impl Presented {
    /// Whether the user's tokens were revoked after this one was made: a Tollgate token by its
    /// version, another issuer's by when it was issued.
    pub fn revoked_by(&self, plans: &Plans) -> bool {
        match self.version {
            Some(version) => plans.token_version > version,
            None => plans.revoked_at.is_some_and(|at| self.issued_at <= at),
        }
    }
}

tokio::task_local! {
    static PRESENTED: Option<Presented>;
}

/// Runs a request's handler with the token it presented (if any).
pub async fn scope<F: Future>(presented: Option<Presented>, handler: F) -> F::Output {
    PRESENTED.scope(presented, handler).await
}

/// Runs `work` as if no token were presented: a sign-in makes new tokens from what the store
/// says, whatever old token came along with it.
pub async fn ignoring<F: Future>(work: F) -> F::Output {
    PRESENTED.scope(None, work).await
}

/// The presented token, when it is `user_id`'s.
pub fn of(user_id: &str) -> Option<Presented> {
    PRESENTED.try_with(|p| p.as_ref().filter(|p| p.user_id == user_id).cloned()).ok().flatten()
}

pub fn revoked() -> Error {
    Error::unauthorized("token_revoked", "this token was revoked; sign in again")
}

/// 401 `token_revoked` when the request presented a token of `user_id` that `plans` revoked.
pub fn check(user_id: &str, plans: &Plans) -> Result<(), Error> {
    match of(user_id) {
        Some(presented) if presented.revoked_by(plans) => Err(revoked()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(version: i64, at: Option<i64>) -> Plans {
        let mut plans = Plans::default();
        plans.token_version = version;
        plans.revoked_at = at;
        plans
    }

    #[test]
    fn a_version_older_than_the_users_is_revoked() {
        let token = Presented { user_id: "usr_1".into(), version: Some(1), issued_at: 100 };
        assert!(!token.revoked_by(&plans(0, None)));
        assert!(!token.revoked_by(&plans(1, Some(500))));
        assert!(token.revoked_by(&plans(2, Some(50))));
    }

    #[test]
    fn another_issuers_token_is_revoked_by_when_it_was_issued() {
        let token = Presented { user_id: "usr_1".into(), version: None, issued_at: 100 };
        assert!(!token.revoked_by(&plans(0, None)));
        assert!(token.revoked_by(&plans(1, Some(100))));
        assert!(!token.revoked_by(&plans(1, Some(99))));
    }

    #[tokio::test]
    async fn only_the_presenting_users_plans_are_compared() {
        let token = Presented { user_id: "usr_1".into(), version: Some(0), issued_at: 100 };
        scope(Some(token), async {
            assert_eq!(check("usr_1", &plans(1, Some(200))).unwrap_err().code(), "token_revoked");
            assert!(check("usr_2", &plans(1, Some(200))).is_ok());
        })
        .await;
        assert!(check("usr_1", &plans(1, Some(200))).is_ok());
        let token = Presented { user_id: "usr_1".into(), version: Some(0), issued_at: 100 };
        scope(Some(token), ignoring(async { assert!(check("usr_1", &plans(1, Some(200))).is_ok()) })).await;
    }
}
