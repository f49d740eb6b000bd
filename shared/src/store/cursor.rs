//! Opaque page cursors: the last sort key a page returned, encoded so clients treat it as a
//! token, and accepted back only for the list it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::Error;

pub fn encode(sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(sort_key)
}

/// The sort key a cursor stands for, if it is one of this list's (its keys start with `prefix`).
pub fn decode(cursor: &str, prefix: &str) -> Result<String, Error> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        // DynamoDB refuses sort keys over 1 KB: such a cursor was never one of ours.
        .filter(|sk| sk.starts_with(prefix) && sk.len() <= 1024)
        .ok_or_else(|| Error::bad_request("invalid_cursor", "cursor is not one this API returned"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(decode(&encode("SES#1"), "SES#").unwrap(), "SES#1");
        assert_eq!(decode("!!!", "SES#").unwrap_err().code(), "invalid_cursor");
        assert_eq!(decode(&encode("GRANT#x"), "SES#").unwrap_err().code(), "invalid_cursor");
    }
}
