//! Passwordless sign-in: one-time codes and the JWTs that carry what the user owns.

pub mod codes;
pub mod external;
pub mod identity;
pub mod offline;
pub mod presented;
pub mod tokens;

pub use identity::{admin, caller, identify, optional_caller, signed_in};
pub use tokens::{Claims, Tokens};

/// Emails are compared and stored trimmed and lowercased.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    (email.len() <= 254 && email_address::EmailAddress::is_valid(&email) && email.contains('.')).then_some(email)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_normalized_and_validated() {
        assert_eq!(normalize_email("  Ada@Example.COM "), Some("ada@example.com".into()));
        for bad in ["", "ada", "ada@", "@example.com", "ada example@x.com", "ada@localhost"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
