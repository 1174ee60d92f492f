//! The backend-key check: the component answers only requests that came through the
//! gateway, which injects `x-backend-key`.
//!
//! It runs before routing, on every path (docs included), so a direct caller learns
//! nothing, not even which paths exist. The comparison is constant-time in the key's
//! content (`subtle`); only the length can be learned from timing, as with any HMAC-free
//! shared secret, so deployments use long random keys.

use subtle::ConstantTimeEq;

use crate::config::KeyPolicy;
use crate::contract::BACKEND_KEY_HEADER;
use crate::problem::Problem;

/// `Ok(())` when the request may proceed under `policy`.
pub fn check(policy: &KeyPolicy, headers: &http::HeaderMap) -> Result<(), Problem> {
    match policy {
        KeyPolicy::Open => Ok(()),
        KeyPolicy::FailClosed(_) => Err(Problem::Misconfigured),
        KeyPolicy::Require(expected) => {
            let mut values = headers.get_all(BACKEND_KEY_HEADER).iter();
            // Exactly one header: a duplicated header is refused rather than guessed at.
            match (values.next(), values.next()) {
                (Some(given), None) if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) => {
                    Ok(())
                }
                _ => Err(Problem::Unauthorized),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for v in values {
            map.append(BACKEND_KEY_HEADER, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn open_lets_everything_through() {
        assert_eq!(check(&KeyPolicy::Open, &headers(&[])), Ok(()));
    }

    #[test]
    fn require_wants_exactly_the_key() {
        let policy = KeyPolicy::Require("s3cret-key".into());
        assert_eq!(check(&policy, &headers(&["s3cret-key"])), Ok(()));
        for bad in [
            &[][..],
            &["wrong"],
            &["s3cret-ke"],
            &["s3cret-key "],
            &["S3CRET-KEY"],
        ] {
            assert_eq!(
                check(&policy, &headers(bad)),
                Err(Problem::Unauthorized),
                "{bad:?}"
            );
        }
        assert_eq!(
            check(&policy, &headers(&["s3cret-key", "s3cret-key"])),
            Err(Problem::Unauthorized)
        );
    }

    #[test]
    fn fail_closed_refuses_even_with_a_header() {
        let policy = KeyPolicy::FailClosed("test");
        assert_eq!(
            check(&policy, &headers(&["anything"])),
            Err(Problem::Misconfigured)
        );
    }
}
