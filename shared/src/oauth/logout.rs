//! RP-Initiated Logout 1.0 (`/oauth/end_session`): which request may end the browser's session
//! and where the browser goes afterwards ([`check`]), and the ending itself ([`end`]).
//!
//! Rules, in the order the specification and its conformance tests give them:
//! - `id_token_hint` must be an ID token we signed (expired is fine); anything else is an error
//!   page, never a redirect.
//! - `client_id`, when given beside a hint, must be the hint's `aud`.
//! - `post_logout_redirect_uri` needs a client (the hint's or `client_id`) and must equal one of
//!   its registered `post_logout_redirect_uris` exactly; anything else is an error page. `state`
//!   goes back with it.
//! - Without a valid hint naming the session's user, the user confirms first: anyone could link
//!   to this endpoint (§2: "the OP SHOULD ask the End-User whether to log out").
//! - The session ends (its item deleted, the cookie cleared) together with the refresh-token
//!   families bound to it (OpenID Connect Core §11: not those granted `offline_access`), and
//!   every client that signed in through it and registered a back-channel URI is told
//!   ([`super::backchannel`]).

use crate::App;
use crate::domain::browser_session::BrowserSession;
use crate::domain::client::Client;
use crate::error::Error;
use crate::oauth::backchannel;
use crate::oauth::client_auth::plausible_client_id;
use crate::params::Params;
use crate::queue::LogoutQueue;
use crate::store::Store;
use crate::tokens::id::{self, HintClaims};

/// Why a logout request gets an error page instead of a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutProblem {
    /// `id_token_hint` is not an ID token of ours.
    BadHint,
    /// `client_id` is not the hint's audience.
    ClientMismatch,
    UnknownClient,
    /// `post_logout_redirect_uri` without a hint or `client_id` to say whose it is.
    RedirectWithoutClient,
    /// `post_logout_redirect_uri` is not one the client registered.
    UnregisteredRedirect,
}

/// How a logout request fails.
#[derive(Debug)]
pub enum LogoutRefusal {
    Shown(LogoutProblem),
    Backend(Error),
}

impl From<Error> for LogoutRefusal {
    fn from(e: Error) -> Self {
        LogoutRefusal::Backend(e)
    }
}

/// A checked logout request.
#[derive(Debug)]
pub struct LogoutRequest {
    /// The client that asked, when the request says (for the confirmation page, and the form).
    pub client: Option<Client>,
    /// The registered URI to send the browser to afterwards, exactly as given.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// The valid hint's claims, if one came.
    pub hint: Option<HintClaims>,
}

impl LogoutRequest {
    /// Whether the request may end `session` without asking: a hint for the session's user.
    pub fn may_end_without_asking(&self, session: Option<&BrowserSession>) -> bool {
        match (&self.hint, session) {
            (Some(hint), Some(session)) => hint.sub == session.user_id,
            // No session to end: nothing to confirm, only the redirect.
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Where the browser goes once the session ended: the registered URI with `state`.
    pub fn redirect(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_ref()?;
        Some(match &self.state {
            None => uri.clone(),
            Some(state) => {
                let query = serde_urlencoded::to_string([("state", state)]).unwrap_or_default();
                let joiner = if uri.contains('?') { '&' } else { '?' };
                format!("{uri}{joiner}{query}")
            }
        })
    }
}

/// Checks a logout request's parameters (query or form).
pub async fn check(app: &App, params: &Params, now: i64) -> Result<LogoutRequest, LogoutRefusal> {
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(hint) => match id::verify_hint(app, hint, now).await? {
            Some(claims) => Some(claims),
            None => return Err(LogoutRefusal::Shown(LogoutProblem::BadHint)),
        },
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(given), Some(hint)) if given != hint.aud => {
            return Err(LogoutRefusal::Shown(LogoutProblem::ClientMismatch));
        }
        (Some(given), _) => Some(given.to_string()),
        (None, Some(hint)) => Some(hint.aud.clone()),
        (None, None) => None,
    };
    let client = match client_id {
        None => None,
        Some(id) => {
            let known = if plausible_client_id(&id) { app.store.client(&id).await? } else { None };
            Some(known.ok_or(LogoutRefusal::Shown(LogoutProblem::UnknownClient))?)
        }
    };
    let post_logout_redirect_uri = match (params.get("post_logout_redirect_uri"), &client) {
        (None, _) => None,
        (Some(_), None) => return Err(LogoutRefusal::Shown(LogoutProblem::RedirectWithoutClient)),
        (Some(uri), Some(client)) if client.post_logout_redirect_uris.iter().any(|r| r == uri) => Some(uri.to_string()),
        (Some(_), Some(_)) => return Err(LogoutRefusal::Shown(LogoutProblem::UnregisteredRedirect)),
    };
    let state = params.get("state").map(str::to_string);
    Ok(LogoutRequest { client, post_logout_redirect_uri, state, hint })
}

/// Ends `session` (see [`end_sessions`]).
pub async fn end(app: &App, session: &BrowserSession, now: i64) -> Result<Ended, Error> {
    end_sessions(&app.store, &app.logout_queue, std::slice::from_ref(session), now).await
}

/// Ends every live session of `user_id` (admin: revoke-all, session end, a deleted user). The
/// index may miss a session started a moment ago.
pub async fn end_user_sessions(store: &Store, queue: &LogoutQueue, user_id: &str, now: i64) -> Result<Ended, Error> {
    let sessions = store.user_browser_sessions(user_id, now).await?;
    end_sessions(store, queue, &sessions, now).await
}

/// What ending sessions did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ended {
    pub sessions: usize,
    /// Back-channel logout notices queued.
    pub notices: usize,
    /// Refresh-token families bound to the sessions (no `offline_access`) that ended.
    pub families: usize,
}

/// Ends `sessions`: first the back-channel notices are queued (a queue fault leaves every
/// session alive, for the logout to be tried again, instead of a relying party never told),
/// then each session's item goes and the refresh-token families bound to it end.
pub async fn end_sessions(
    store: &Store,
    queue: &LogoutQueue,
    sessions: &[BrowserSession],
    now: i64,
) -> Result<Ended, Error> {
    let notices = backchannel::notices(store, sessions).await?;
    queue.send(&notices).await?;
    let mut families = 0;
    for session in sessions {
        store.end_browser_session(&session.id_hash).await?;
        families += store.revoke_session_families(&session.user_id, &session.sid, now).await?;
    }
    Ok(Ended { sessions: sessions.len(), notices: notices.len(), families })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: Option<&str>, state: Option<&str>) -> LogoutRequest {
        LogoutRequest {
            client: None,
            post_logout_redirect_uri: uri.map(str::to_string),
            state: state.map(str::to_string),
            hint: None,
        }
    }

    #[test]
    fn the_redirect_carries_state_encoded_and_keeps_the_uris_query() {
        assert_eq!(request(None, Some("s")).redirect(), None);
        assert_eq!(request(Some("https://rp.example/bye"), None).redirect().as_deref(), Some("https://rp.example/bye"));
        let with_state = request(Some("https://rp.example/bye?x=1"), Some("a b&c")).redirect();
        assert_eq!(with_state.as_deref(), Some("https://rp.example/bye?x=1&state=a+b%26c"));
    }

    #[test]
    fn only_a_hint_for_the_sessions_user_ends_it_without_asking() {
        let session = BrowserSession {
            id_hash: "h".into(),
            sid: "sid".into(),
            user_id: "u1".into(),
            auth_time: 0,
            method: crate::domain::browser_session::SignInMethod::Password,
            clients: vec![],
            idle_until: 10,
            absolute_until: 10,
        };
        let hinted = |sub: &str| LogoutRequest {
            hint: Some(HintClaims { sub: sub.into(), aud: "c".into(), sid: None }),
            ..request(None, None)
        };
        assert!(hinted("u1").may_end_without_asking(Some(&session)));
        assert!(!hinted("u2").may_end_without_asking(Some(&session)));
        assert!(hinted("u2").may_end_without_asking(None));
        assert!(!request(None, None).may_end_without_asking(Some(&session)));
    }
}
