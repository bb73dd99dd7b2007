//! The user's side of a device's request (RFC 8628 §3.3): a user code entered at `/device`
//! becomes a pending authorization request like any other ([`enter`]), shown on the same sign-in
//! page (every sign-in method it offers) or, in a browser with a session, on the consent page.
//! Its answer goes to the device's grant instead of a redirect URI
//! ([`super::authorization::approve`], [`super::authorization::deny`]).
//!
//! A device's request always asks: a remembered consent never answers it (the person at the
//! browser must be the one who sees the device), so it is started with `prompt_consent`, which
//! also has WeChat's callback show the consent page after a sign-in inside WeChat. The sign-in
//! page names the client and the scopes, and its button is "sign in and allow": that is the
//! confirmation, as for a web client.
//!
//! Guessing a user code: 20^8 ≈ 2.6 × 10^10 codes, each live 10 minutes. With 1,000 devices
//! waiting at once, one guess in 2.6 × 10^7 hits one; API Gateway's route throttle
//! (`ThrottleRate`, per stage) bounds the guesses, and each costs a page load and a form post.
//! A hit gains the guesser nothing of the device's owner: it lets the guesser sign *their own*
//! account in on a stranger's device. Wrong entries are not counted per browser: the guesser
//! controls the browser (a new cookie is one GET away), so such a count would only stop the
//! honest; they are counted as a metric ([`Metric::UserCodeMisses`]) that an operator can alarm
//! on.

use crate::App;
use crate::domain::authorization::PendingAuthorization;
use crate::domain::browser_session::BrowserSession;
use crate::domain::device_grant::{DeviceStatus, UserCode};
use crate::error::Error;
use crate::grant_type::DEVICE_CODE;
use crate::metrics::{self, Metric};
use crate::oauth::authorization::{PENDING_TTL_SECONDS, Started};
use crate::secret::{hash, random_alphanumeric, random_token};

/// What an entered user code leads to.
pub enum Entered {
    /// The page for the device's request: a sign-in, or (with `pending.session_sid`) consent for
    /// the session's user. Not stored yet: [`super::authorization::keep`] stores it with the
    /// sign-in methods its page offers.
    Page(Box<Started>),
    /// No device waits for this code: unknown, expired, answered, or its client no longer allowed
    /// the grant. The entry page again, saying so (which of these, it need not tell).
    Unknown,
}

/// The device's request behind the user code `typed`, for a browser with `session` (if any).
pub async fn enter(app: &App, typed: &str, session: Option<&BrowserSession>, now: i64) -> Result<Entered, Error> {
    let found = match UserCode::parse(typed) {
        Some(user_code) => app.store.device_grant_by_user_code(&user_code, now).await?,
        None => None,
    };
    let Some(grant) = found.filter(|g| g.status == DeviceStatus::Pending && !g.redeemed) else {
        metrics::count(Metric::UserCodeMisses, &[]);
        return Ok(Entered::Unknown);
    };
    let client = app.clients.get(&app.store, &grant.client_id).await?.filter(|c| c.allows_grant(DEVICE_CODE));
    let Some(client) = client else { return Ok(Entered::Unknown) };
    let (request_id, csrf_token) = (random_alphanumeric(), random_token());
    let pending = PendingAuthorization {
        id_hash: hash(&request_id),
        csrf_hash: hash(&csrf_token),
        client_id: client.id.clone(),
        // Nowhere to redirect: the answer goes to the device's grant.
        redirect_uri: String::new(),
        redirect_uri_given: false,
        response_type: "device_code".into(),
        scope: grant.scope.clone(),
        state: None,
        code_challenge: None,
        nonce: None,
        session_sid: session.map(|s| s.sid.clone()),
        prompt_consent: true,
        wechat: None,
        device: Some(grant.hash.clone()),
        // The page lives no longer than the device's code.
        expires_at: grant.expires_at.min(now + PENDING_TTL_SECONDS),
    };
    Ok(Entered::Page(Box::new(Started { client, pending, request_id, csrf_token, login_hint: None })))
}
