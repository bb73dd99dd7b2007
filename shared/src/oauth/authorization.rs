//! The authorization request (RFC 6749 §4.1.1, §4.2.1; OpenID Connect Core §3.1.2): checked and
//! stored as a pending sign-in when the page is shown ([`start`], [`keep`]), found again and bound to the
//! browser when the form comes back ([`resume`]), and answered once by redirect ([`deny`],
//! [`approve`]). The page itself and the password check are the caller's.
//!
//! RFC 6749 §4.1.2.1: with an unknown client or a redirect URI that is not registered, "the
//! authorization server SHOULD inform the resource owner of the error and MUST NOT
//! automatically redirect the user-agent to the invalid redirection URI": those are
//! [`Refusal::Shown`]. Every other error goes back to the client by redirect.
//!
//! OpenID Connect Core §3.1.2.1 with a browser session ([`super::browser_session`]), decided
//! in this order: the session counts unless `prompt=login`, `max_age` has passed since its
//! sign-in (`max_age=0` always has), or an `id_token_hint` names another user; then a remembered
//! consent must cover the scopes unless `prompt=consent`. Both hold: the request is answered
//! at once, without a page. Else the page asks for a sign-in or for consent only, and
//! `prompt=none` answers `login_required` or `consent_required` instead. `nonce` is stored with
//! the request and the code and echoed in the ID token; `login_hint` pre-fills the username;
//! `request`, `request_uri` and `registration` are refused with their own error codes (§6,
//! §3.1.2.6).
//!
//! A device's request (RFC 8628, started from its user code by [`super::device_verification`])
//! is resumed, approved and denied the same way, by any sign-in method, but has no redirect URI:
//! its client must still allow the device grant, and its answer goes to the device's grant
//! ([`super::device`]) and sends the browser to the verification page's result, never a code.

use crate::App;
use crate::domain::authorization::{PendingAuthorization, WechatLeg};
use crate::domain::browser_session::BrowserSession;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::grant_type::{AUTHORIZATION_CODE, DEVICE_CODE, IMPLICIT};
use crate::oauth::browser_session;
use crate::oauth::client_auth::plausible_client_id;
use crate::oauth::device::{self, Outcome};
use crate::oauth::grants::count_issued;
use crate::oauth::pkce::CodeChallenge;
use crate::params::Params;
use crate::scope::Scope;
use crate::secret::{constant_time_eq, hash, random_alphanumeric, random_token};
use crate::store::Written;
use crate::tokens::{access, codes, id};

/// How long the sign-in page may stay open.
pub const PENDING_TTL_SECONDS: i64 = 600;
/// A `nonce` longer than this is refused: it is stored with the request and the code, and
/// echoed in every ID token of the grant.
const MAX_NONCE_LEN: usize = 512;
/// A `login_hint` longer than any username is ignored.
const MAX_LOGIN_HINT_LEN: usize = 64;

/// Why a request is answered with a page instead of a redirect: nowhere safe to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unredirectable {
    /// The query or form could not be read (its description, for the page's detail line).
    Malformed(String),
    NoClient,
    UnknownClient,
    UnregisteredRedirect,
    NoRedirect,
    /// The form lacks `request_id` or `csrf_token`.
    IncompleteForm,
    /// The pending sign-in is gone: expired, or never existed.
    Expired,
    /// The form's CSRF token does not match this browser's cookie or the pending request.
    OtherBrowser,
    /// The client or its redirect URI was removed while the page was open.
    NoLongerRegistered,
    /// Another submission of the same page won.
    AlreadyAnswered,
    /// The consent page's browser session ended (or another user signed in) before the answer.
    SessionEnded,
}

/// How a request ends when it does not succeed.
#[derive(Debug)]
pub enum Refusal {
    /// Shown to the user; never a redirect.
    Shown(Unredirectable),
    /// Back to the client's registered redirect URI, with `error`, `state` and `iss`.
    Redirect(String),
    Backend(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Backend(e)
    }
}

/// A request that passed every check and waits for the user's answer, once [`keep`] stored it.
pub struct Started {
    pub client: Client,
    pub pending: PendingAuthorization,
    /// The form's `request_id` (and WeChat's `state`: letters and digits); only its hash is
    /// stored.
    pub request_id: String,
    /// The form's and the cookie's `csrf_token`; only its hash is stored.
    pub csrf_token: String,
    /// `login_hint`, when it could be a username.
    pub login_hint: Option<String>,
}

/// How a checked request goes on.
pub enum Next {
    /// The page: a sign-in, or (with `pending.session_sid`) consent for the session's user.
    Page(Box<Started>),
    /// Answered without a page, through the browser session: where to send the browser.
    Answered(String),
}

/// A pending request found again from its form, in the browser that started it.
pub struct Resumed {
    pub client: Client,
    pub pending: PendingAuthorization,
}

/// `pending`'s redirect URI with the response `params`, in the query or (implicit) fragment.
fn answer(pending: &PendingAuthorization, params: &[(&str, &str)], issuer: &str) -> String {
    redirect_url(&pending.redirect_uri, pending.response_type == "token", params, pending.state.as_deref(), issuer)
}

/// The client and redirect URI of a request: the two things that must be right before we may
/// redirect anywhere; and whether the request named the URI (the token request must then too).
async fn client_and_redirect(app: &App, params: &Params) -> Result<(Client, String, bool), Refusal> {
    let Some(client_id) = params.get("client_id") else {
        return Err(Refusal::Shown(Unredirectable::NoClient));
    };
    let known = if plausible_client_id(client_id) { app.store.client(client_id).await? } else { None };
    let Some(client) = known else {
        return Err(Refusal::Shown(Unredirectable::UnknownClient));
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => return Err(Refusal::Shown(Unredirectable::UnregisteredRedirect)),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(Refusal::Shown(Unredirectable::NoRedirect)),
    };
    Ok((client, redirect_uri, params.get("redirect_uri").is_some()))
}

/// Checks an authorization request's query; answers it through the browser's `session` when
/// that may, else prepares it as a pending sign-in for [`keep`] to store.
pub async fn start(app: &App, params: &Params, session: Option<&BrowserSession>, now: i64) -> Result<Next, Refusal> {
    let (client, redirect_uri, redirect_uri_given) = client_and_redirect(app, params).await?;
    let state = params.get("state").map(str::to_string);
    let response_type = params.get("response_type").unwrap_or_default();
    // Tokens never travel in a query (RFC 6749 §4.2.2): implicit answers in the fragment, a
    // code in the query, and `response_mode` may only confirm that.
    let fragment = response_type == "token";
    let back = |error: &str, description: &str| {
        Refusal::Redirect(redirect_url(
            &redirect_uri,
            fragment,
            &[("error", error), ("error_description", description)],
            state.as_deref(),
            &app.config.issuer,
        ))
    };
    for (param, error) in [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ] {
        if params.get(param).is_some() {
            return Err(back(error, &format!("the {param} parameter is not supported")));
        }
    }
    let prompt = Prompt::parse(params.get("prompt")).map_err(|why| back("invalid_request", why))?;
    let max_age = match params.get("max_age").map(str::parse::<u32>) {
        None => None,
        Some(Ok(age)) => Some(i64::from(age)),
        Some(Err(_)) => return Err(back("invalid_request", "max_age must be a number of seconds")),
    };
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(hint) => match id::verify_hint(app, hint, now).await? {
            Some(claims) => Some(claims),
            None => return Err(back("invalid_request", "id_token_hint is not an ID token of this issuer")),
        },
    };
    let nonce = params.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE_LEN) {
        return Err(back("invalid_request", "nonce must be 1 to 512 characters"));
    }
    let login_hint = params.get("login_hint").filter(|hint| hint.len() <= MAX_LOGIN_HINT_LEN).map(str::to_string);
    let expected_mode = if fragment { "fragment" } else { "query" };
    if params.get("response_mode").is_some_and(|mode| mode != expected_mode) {
        return Err(back("invalid_request", "response_mode must be query for a code and fragment for a token"));
    }
    let code_challenge = match response_type {
        "code" if client.allows_grant(AUTHORIZATION_CODE) => {
            match CodeChallenge::parse(params.get("code_challenge"), params.get("code_challenge_method")) {
                Ok(challenge) => Some(challenge.as_str().to_string()),
                Err(e) => return Err(back(e.error, &e.description)),
            }
        }
        "code" => return Err(back("unauthorized_client", "this client may not use the authorization code flow")),
        "token" if client.allows_grant(IMPLICIT) => None,
        "" => return Err(back("invalid_request", "response_type is required")),
        _ => return Err(back("unsupported_response_type", "this response type is not available to this client")),
    };
    let scope = Scope::grant(params.get("scope"), &client.scope).map_err(|e| back(e.error, &e.description))?;
    let mut pending = PendingAuthorization {
        id_hash: String::new(), // the form's identifiers, once the page is sure
        csrf_hash: String::new(),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        redirect_uri_given,
        response_type: response_type.to_string(),
        scope,
        state: state.clone(),
        code_challenge,
        nonce,
        session_sid: None,
        prompt_consent: prompt.consent,
        wechat: None,
        device: None,
        expires_at: now + PENDING_TTL_SECONDS,
    };
    // §3.1.2.1: the session counts only for a sign-in recent enough, of the hinted user.
    let signed_in = session.filter(|s| {
        !prompt.login
            && max_age.is_none_or(|age| age > 0 && now - s.auth_time <= age)
            && hint.as_ref().is_none_or(|h| h.sub == s.user_id)
    });
    match signed_in {
        None if prompt.none => return Err(back("login_required", "the user must sign in")),
        None => {}
        Some(session) => {
            let consented = !prompt.consent
                && app
                    .store
                    .consent(&session.user_id, &client.id, now)
                    .await?
                    .is_some_and(|c| c.covers(&pending.scope));
            if consented {
                let location = issue(app, &client, &pending, session, now).await?;
                return Ok(Next::Answered(location));
            }
            if prompt.none {
                return Err(back("consent_required", "the user must allow this application first"));
            }
            pending.session_sid = Some(session.sid.clone());
        }
    }
    let (request_id, csrf_token) = (random_alphanumeric(), random_token());
    pending.id_hash = hash(&request_id);
    pending.csrf_hash = hash(&csrf_token);
    Ok(Next::Page(Box::new(Started { client, pending, request_id, csrf_token, login_hint })))
}

/// Stores a started request for its page, with the WeChat sign-in the page offers.
pub async fn keep(app: &App, started: &mut Started, wechat: Option<WechatLeg>) -> Result<(), Error> {
    started.pending.wechat = wechat;
    app.store.put_pending_authorization(&started.pending).await
}

/// Finds the pending request of a submitted form. The form's `csrf_token` must equal the
/// browser's cookie and hash to what the request stored, so a form posted from another site or
/// another browser is refused.
pub async fn resume(
    app: &App,
    request_id: &str,
    csrf_token: &str,
    csrf_cookie: Option<&str>,
    now: i64,
) -> Result<Resumed, Refusal> {
    let Some(pending) = app.store.pending_authorization(&hash(request_id), now).await? else {
        return Err(Refusal::Shown(Unredirectable::Expired));
    };
    let bound = csrf_cookie.is_some_and(|c| constant_time_eq(c, csrf_token))
        && constant_time_eq(&hash(csrf_token), &pending.csrf_hash);
    if !bound {
        return Err(Refusal::Shown(Unredirectable::OtherBrowser));
    }
    recheck(app, pending, now).await
}

/// A pending request found again, with its client read again: where we may send the user, and
/// what it may have, are decided by its registration now.
pub(super) async fn recheck(app: &App, pending: PendingAuthorization, now: i64) -> Result<Resumed, Refusal> {
    // A device's request has no redirect URI: its client must still exist and allow the grant.
    if pending.device.is_some() {
        let client = app.store.client(&pending.client_id).await?.filter(|c| c.allows_grant(DEVICE_CODE));
        let Some(client) = client else {
            return Err(Refusal::Shown(Unredirectable::NoLongerRegistered));
        };
        return Ok(Resumed { client, pending });
    }
    let client =
        app.store.client(&pending.client_id).await?.filter(|c| c.redirect_uris.contains(&pending.redirect_uri));
    let Some(client) = client else {
        return Err(Refusal::Shown(Unredirectable::NoLongerRegistered));
    };
    let resumed = Resumed { client, pending };
    let grant = if resumed.pending.code_challenge.is_some() { AUTHORIZATION_CODE } else { IMPLICIT };
    if !resumed.client.allows_grant(grant) {
        consume(app, &resumed.pending, now).await?;
        return Err(Refusal::Redirect(answer(
            &resumed.pending,
            &[("error", "unauthorized_client")],
            &app.config.issuer,
        )));
    }
    Ok(resumed)
}

/// The user said no: the request is used up, and the client learns `access_denied`.
pub async fn deny(app: &App, resumed: &Resumed, now: i64) -> Result<String, Refusal> {
    consume(app, &resumed.pending, now).await?;
    // A device learns it by polling; the browser sees the verification page say so.
    if let Some(device_hash) = &resumed.pending.device {
        return match device::deny(app, device_hash, now).await? {
            Written::Yes => Ok(device::result_location(app, Outcome::Denied)),
            Written::LostRace => Err(Refusal::Shown(Unredirectable::AlreadyAnswered)),
        };
    }
    Ok(answer(
        &resumed.pending,
        &[("error", "access_denied"), ("error_description", "the user denied the request")],
        &app.config.issuer,
    ))
}

/// The user of `session` allowed the request (signing in on the page, or on the consent page
/// for that session): the request is used up, the consent remembered, and the client gets a code
/// (or, implicit, an access token in the fragment) for the scope it may still have.
pub async fn approve(app: &App, resumed: &Resumed, session: &BrowserSession, now: i64) -> Result<String, Refusal> {
    let pending = &resumed.pending;
    if pending.session_sid.as_ref().is_some_and(|sid| *sid != session.sid) {
        return Err(Refusal::Shown(Unredirectable::SessionEnded));
    }
    consume(app, pending, now).await?;
    grant(app, resumed, session, now).await
}

/// [`approve`] of a request consumed already by the caller's own write (WeChat's callback, which
/// consumes it together with what a repeated callback needs): the consent remembered, the answer
/// issued.
pub(super) async fn grant(app: &App, resumed: &Resumed, session: &BrowserSession, now: i64) -> Result<String, Refusal> {
    let Resumed { client, pending } = resumed;
    // A device's request remembers no consent: the next one asks again.
    if let Some(device_hash) = &pending.device {
        return match approve_device(app, client, pending, device_hash, session, now).await? {
            Written::Yes => Ok(device::result_location(app, Outcome::Approved)),
            Written::LostRace => Err(Refusal::Shown(Unredirectable::AlreadyAnswered)),
        };
    }
    let scope = pending.scope.intersection(&client.scope);
    let consent_until = now + app.config.consent_ttl.as_secs() as i64;
    app.store.remember_consent(&session.user_id, &client.id, &scope, consent_until, now).await?;
    Ok(issue(app, client, pending, session, now).await?)
}

/// The answer to an allowed request, issued to the user of `session`; the session records the
/// client (whom its logout tells).
pub(super) async fn issue(
    app: &App,
    client: &Client,
    pending: &PendingAuthorization,
    session: &BrowserSession,
    now: i64,
) -> Result<String, Error> {
    // Answered again (WeChat repeating its callback): the device's grant, never a code.
    if let Some(device_hash) = &pending.device {
        return match approve_device(app, client, pending, device_hash, session, now).await? {
            Written::Yes => Ok(device::result_location(app, Outcome::Approved)),
            Written::LostRace => Err(OAuthError::invalid_grant("the device's request was answered or expired").into()),
        };
    }
    let scope = pending.scope.intersection(&client.scope);
    let issuer = &app.config.issuer;
    let location = match pending.code_challenge.clone() {
        Some(code_challenge) => {
            let code = codes::issue(app, pending, code_challenge, session, scope, now).await?;
            answer(pending, &[("code", &code)], issuer)
        }
        None => {
            let token = access::issue(app, &session.user_id, client, &scope, now).await?;
            count_issued(IMPLICIT, client);
            let expires_in = app.config.access_token_ttl.as_secs().to_string();
            let scope = scope.to_string();
            answer(
                pending,
                &[
                    ("access_token", &token.jwt),
                    ("token_type", "Bearer"),
                    ("expires_in", &expires_in),
                    ("scope", &scope),
                ],
                issuer,
            )
        }
    };
    browser_session::used_for(app, session, &client.id, now).await?;
    Ok(location)
}

/// The device's grant (its device code hashing to `device_hash`) approved for the user of
/// `session`, for the scope the client may still have; the session records the client, as for a
/// code.
async fn approve_device(
    app: &App,
    client: &Client,
    pending: &PendingAuthorization,
    device_hash: &str,
    session: &BrowserSession,
    now: i64,
) -> Result<Written, Error> {
    let scope = pending.scope.intersection(&client.scope);
    let written = device::approve(app, device_hash, session, scope, now).await?;
    if written == Written::Yes {
        browser_session::used_for(app, session, &client.id, now).await?;
    }
    Ok(written)
}

/// Marks the pending request answered; of two concurrent submissions only one gets here.
async fn consume(app: &App, pending: &PendingAuthorization, now: i64) -> Result<(), Refusal> {
    match app.store.consume_pending_authorization(&pending.id_hash, now).await? {
        Written::Yes => Ok(()),
        Written::LostRace => Err(Refusal::Shown(Unredirectable::AlreadyAnswered)),
    }
}

/// The OpenID Connect `prompt` parameter (Core §3.1.2.1). `select_account` asks for nothing
/// here: a browser session holds one user, and the page offers a sign-in as another.
#[derive(Debug, Default, PartialEq, Eq)]
struct Prompt {
    /// No page may be shown.
    none: bool,
    /// Sign in again, whatever the session.
    login: bool,
    /// Ask for consent again, whatever was remembered.
    consent: bool,
}

impl Prompt {
    fn parse(value: Option<&str>) -> Result<Self, &'static str> {
        let values: Vec<&str> = value.unwrap_or_default().split(' ').filter(|v| !v.is_empty()).collect();
        if values.iter().any(|v| !["none", "login", "consent", "select_account"].contains(v)) {
            return Err("prompt may be none, login, consent or select_account");
        }
        let prompt = Prompt {
            none: values.contains(&"none"),
            login: values.contains(&"login"),
            consent: values.contains(&"consent"),
        };
        // "If this parameter contains none with any other value, an error is returned."
        if prompt.none && values.len() > 1 {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(prompt)
    }
}

/// `redirect_uri` with the response parameters, `state` and `iss` (RFC 9207) added: to the
/// query for a code, to the fragment for implicit (RFC 6749 §4.2.2).
fn redirect_url(
    redirect_uri: &str,
    fragment: bool,
    params: &[(&str, &str)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    if fragment {
        format!("{redirect_uri}#{encoded}")
    } else if redirect_uri.contains('?') {
        format!("{redirect_uri}&{encoded}")
    } else {
        format!("{redirect_uri}?{encoded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_goes_in_the_query_with_state_and_iss() {
        let url =
            redirect_url("https://app.example/cb", false, &[("code", "abc")], Some("s t"), "https://auth.example");
        assert_eq!(url, "https://app.example/cb?code=abc&state=s+t&iss=https%3A%2F%2Fauth.example");
    }

    #[test]
    fn an_existing_query_is_kept() {
        let url = redirect_url("https://app.example/cb?x=1", false, &[("code", "abc")], None, "https://a");
        assert_eq!(url, "https://app.example/cb?x=1&code=abc&iss=https%3A%2F%2Fa");
    }

    #[test]
    fn implicit_answers_go_in_the_fragment() {
        let url = redirect_url("https://app.example/cb", true, &[("access_token", "t")], None, "https://a");
        assert_eq!(url, "https://app.example/cb#access_token=t&iss=https%3A%2F%2Fa");
    }

    #[test]
    fn prompt_values_are_checked_and_none_stands_alone() {
        assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
        let both = Prompt { login: true, consent: true, ..Prompt::default() };
        assert_eq!(Prompt::parse(Some("login  consent")), Ok(both));
        assert_eq!(Prompt::parse(Some("select_account")), Ok(Prompt::default()));
        assert_eq!(Prompt::parse(Some("none")), Ok(Prompt { none: true, ..Prompt::default() }));
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("silent")).is_err());
    }
}
