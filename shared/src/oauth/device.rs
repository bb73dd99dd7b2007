//! The device authorization grant (RFC 8628): the device's request ([`authorize`], `POST
//! /oauth/device_authorization`) and the user's answer to it ([`approve`], [`deny`]), given on
//! the sign-in or consent page a user code leads to ([`super::device_verification`]). The
//! device's polls are the token endpoint's grant ([`super::grants::device_code`]).
//!
//! 1. The device authenticates as at the token endpoint (a public client names itself) and asks
//!    for a scope within its registration; only clients registered for the grant may
//!    (`unauthorized_client`). It gets a `device_code` (256 random bits, stored only as a hash)
//!    to poll with, a `user_code` to show (8 consonants, `XXXX-XXXX`), where to enter it
//!    (`verification_uri`, and `verification_uri_complete` with the code in it, for a QR code),
//!    `expires_in` (600) and `interval` (5).
//! 2. The user enters the code at `/device`, signs in by any method of the sign-in page (or, with
//!    a browser session, sees the consent page: a device's request always asks), and allows or
//!    denies. The answer is written to the grant once, conditionally: two browsers with the same
//!    code cannot both answer it.
//! 3. The device polls until the answer is there ([`super::grants::device_code`]).
//!
//! An approval carries the approving session's sign-in (`auth_time`, method, `sid`) to the
//! device's tokens, as a code carries it: the ID token's `auth_time`, `amr` and `sid`, and a
//! refresh-token family that ends with that session unless the scope has `offline_access`. The
//! session records the client (its logout tells a client registered for back-channel logout).

use serde::Serialize;

use crate::App;
use crate::domain::browser_session::BrowserSession;
use crate::domain::client::Client;
use crate::domain::device_grant::{
    DEVICE_CODE_TTL_SECONDS, DeviceApproval, DeviceGrant, DeviceStatus, POLL_INTERVAL_SECONDS, UserCode,
};
use crate::error::{Error, OAuthError};
use crate::grant_type::DEVICE_CODE;
use crate::params::Params;
use crate::scope::Scope;
use crate::secret::{hash, random_token};
use crate::store::Written;

/// The device authorization endpoint's path (RFC 8628 §3.1).
pub const PATH: &str = "/oauth/device_authorization";
/// The verification page's path (§3.2 `verification_uri`), under the issuer.
pub const VERIFICATION_PATH: &str = "/device";
/// How often a user code held by another live grant is drawn again. With 1,000 live grants a
/// draw collides once in 2.6 × 10^7: a second draw is already rare.
const USER_CODE_DRAWS: usize = 5;

/// The device authorization response (§3.2).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// As the device shows it: `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// The device code is the device's secret: never printed.
impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The device authorization request of the authenticated `client` (§3.1), with its `scope`.
pub async fn authorize(app: &App, client: &Client, params: &Params, now: i64) -> Result<DeviceAuthorization, Error> {
    if !client.allows_grant(DEVICE_CODE) {
        return Err(OAuthError::unauthorized_client("this client may not use the device authorization grant").into());
    }
    let scope = Scope::grant(params.get("scope"), &client.scope)?;
    for _ in 0..USER_CODE_DRAWS {
        // A new device code with each draw too: a transaction of ours that went through although
        // its answer was lost must not make every later draw fail on its own grant.
        let device_code = random_token();
        let user_code = UserCode::new();
        let grant = DeviceGrant {
            hash: hash(&device_code),
            client_id: client.id.clone(),
            scope: scope.clone(),
            status: DeviceStatus::Pending,
            interval: POLL_INTERVAL_SECONDS,
            // The first poll may come at once; each later one an interval after the last.
            next_poll_at: now,
            redeemed: false,
            expires_at: now + DEVICE_CODE_TTL_SECONDS,
        };
        if app.store.create_device_grant(&grant, &user_code, now).await? == Written::Yes {
            return Ok(response(&app.config.issuer, device_code, &user_code));
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no free user code in {USER_CODE_DRAWS} draws")))
}

fn response(issuer: &str, device_code: String, user_code: &UserCode) -> DeviceAuthorization {
    let verification_uri = format!("{issuer}{VERIFICATION_PATH}");
    DeviceAuthorization {
        device_code,
        user_code: user_code.to_string(),
        // The code's letters and hyphen need no escaping in a query.
        verification_uri_complete: format!("{verification_uri}?user_code={user_code}"),
        verification_uri,
        expires_in: DEVICE_CODE_TTL_SECONDS,
        interval: POLL_INTERVAL_SECONDS,
    }
}

/// The user of `session` allowed the device's request whose device code hashes to
/// `device_hash`, for `scope`. `LostRace` when it was answered (by anyone else) or expired
/// meanwhile; the same session approving again (WeChat repeating its callback, a retried write)
/// is no race.
pub async fn approve(
    app: &App,
    device_hash: &str,
    session: &BrowserSession,
    scope: Scope,
    now: i64,
) -> Result<Written, Error> {
    let approval = DeviceApproval {
        subject: session.user_id.clone(),
        auth_time: session.auth_time,
        method: session.method,
        sid: Some(session.sid.clone()),
        scope,
    };
    app.store.answer_device_grant(device_hash, &DeviceStatus::Approved(approval), now).await
}

/// The user said no to the device's request whose device code hashes to `device_hash`.
pub async fn deny(app: &App, device_hash: &str, now: i64) -> Result<Written, Error> {
    app.store.answer_device_grant(device_hash, &DeviceStatus::Denied, now).await
}

/// How a user's answer ended, as the verification page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Denied,
}

impl Outcome {
    /// Its name in the page's query (`?result=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Outcome::Approved, Outcome::Denied].into_iter().find(|o| o.as_str() == value)
    }
}

/// Where the browser goes after answering a device's request: the verification page, saying
/// what happened (the device learns it by polling).
pub fn result_location(app: &App, outcome: Outcome) -> String {
    format!("{}{VERIFICATION_PATH}?result={}", app.config.issuer, outcome.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_response_names_the_verification_page_with_and_without_the_code() {
        let code = UserCode::parse("BCDFGHJK").unwrap();
        let answer = response("https://auth.example", "dc".into(), &code);
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "device_code": "dc",
                "user_code": "BCDF-GHJK",
                "verification_uri": "https://auth.example/device",
                "verification_uri_complete": "https://auth.example/device?user_code=BCDF-GHJK",
                "expires_in": 600,
                "interval": 5,
            })
        );
        assert!(!format!("{answer:?}").contains("dc\""), "the device code is not printed");
    }

    #[test]
    fn outcomes_round_trip_through_the_query() {
        for outcome in [Outcome::Approved, Outcome::Denied] {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::parse("pending"), None);
    }
}
