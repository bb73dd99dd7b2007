//! The authorization request (RFC 6749 §4.1.1, §4.2.1; OpenID Connect Core §3.1.2): checked and
//! stored as a pending sign-in when the page is shown ([`start`]), found again and bound to the
//! browser when the form comes back ([`resume`]), and answered once by redirect ([`deny`],
//! [`approve`]). The page itself and the password check are the caller's.
//!
//! RFC 6749 §4.1.2.1: with an unknown client or a redirect URI that is not registered, "the
//! authorization server SHOULD inform the resource owner of the error and MUST NOT
//! automatically redirect the user-agent to the invalid redirection URI": those are
//! [`Refusal::Shown`]. Every other error goes back to the client by redirect.
//!
//! OpenID Connect: `nonce` is stored with the request and the code and echoed in the ID token;
//! `prompt=none` answers `login_required` (no browser session is kept, so a user can never be
//! signed in silently), `login` and `consent` are what every request gets anyway; `max_age` is
//! met by the fresh sign-in of every request (the ID token always carries `auth_time`);
//! `login_hint` pre-fills the username; `request`, `request_uri` and `registration` are refused
//! with their own error codes (§6, §3.1.2.6).

use crate::App;
use crate::clock::unix_now;
use crate::domain::authorization::PendingAuthorization;
use crate::domain::client::Client;
use crate::error::Error;
use crate::grant_type::{AUTHORIZATION_CODE, IMPLICIT};
use crate::oauth::client_auth::plausible_client_id;
use crate::oauth::grants::count_issued;
use crate::oauth::pkce::CodeChallenge;
use crate::params::Params;
use crate::scope::Scope;
use crate::secret::{constant_time_eq, hash, random_token};
use crate::store::Written;
use crate::tokens::{access, codes};

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

/// A request that passed every check and waits, stored, for the user's answer.
pub struct Started {
    pub client: Client,
    pub pending: PendingAuthorization,
    /// The form's `request_id`; only its hash is stored.
    pub request_id: String,
    /// The form's and the cookie's `csrf_token`; only its hash is stored.
    pub csrf_token: String,
    /// `login_hint`, when it could be a username.
    pub login_hint: Option<String>,
}

/// A pending request found again from its form, in the browser that started it.
pub struct Resumed {
    pub client: Client,
    pub pending: PendingAuthorization,
}

impl Resumed {
    fn answer(&self, params: &[(&str, &str)], issuer: &str) -> String {
        redirect_url(
            &self.pending.redirect_uri,
            self.pending.response_type == "token",
            params,
            self.pending.state.as_deref(),
            issuer,
        )
    }
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

/// Checks an authorization request's query and stores it as a pending sign-in.
pub async fn start(app: &App, params: &Params) -> Result<Started, Refusal> {
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
    if prompt == Prompt::None {
        // §3.1.2.6: "The Authorization Server requires End-User authentication": with no
        // browser session, always.
        return Err(back("login_required", "the user must sign in (no sign-in session is kept)"));
    }
    if params.get("max_age").is_some_and(|age| age.parse::<u64>().is_err()) {
        return Err(back("invalid_request", "max_age must be a number of seconds"));
    }
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
    let (request_id, csrf_token) = (random_token(), random_token());
    let pending = PendingAuthorization {
        id_hash: hash(&request_id),
        csrf_hash: hash(&csrf_token),
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given,
        response_type: response_type.to_string(),
        scope,
        state,
        code_challenge,
        nonce,
        expires_at: unix_now() + PENDING_TTL_SECONDS,
    };
    app.store.put_pending_authorization(&pending).await?;
    Ok(Started { client, pending, request_id, csrf_token, login_hint })
}

/// Finds the pending request of a submitted form. The form's `csrf_token` must equal the
/// browser's cookie and hash to what the request stored, so a form posted from another site or
/// another browser is refused. The client is read again: where we may send the user, and what it
/// may have, are decided by its registration now.
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
    let client =
        app.store.client(&pending.client_id).await?.filter(|c| c.redirect_uris.contains(&pending.redirect_uri));
    let Some(client) = client else {
        return Err(Refusal::Shown(Unredirectable::NoLongerRegistered));
    };
    let resumed = Resumed { client, pending };
    let grant = if resumed.pending.code_challenge.is_some() { AUTHORIZATION_CODE } else { IMPLICIT };
    if !resumed.client.allows_grant(grant) {
        consume(app, &resumed.pending, now).await?;
        return Err(Refusal::Redirect(resumed.answer(&[("error", "unauthorized_client")], &app.config.issuer)));
    }
    Ok(resumed)
}

/// The user said no: the request is used up, and the client learns `access_denied`.
pub async fn deny(app: &App, resumed: &Resumed, now: i64) -> Result<String, Refusal> {
    consume(app, &resumed.pending, now).await?;
    Ok(resumed.answer(
        &[("error", "access_denied"), ("error_description", "the user denied the request")],
        &app.config.issuer,
    ))
}

/// The user signed in as `user_id` and allowed the request: the request is used up, and the
/// client gets a code (or, implicit, an access token in the fragment) for the scope it may still
/// have.
pub async fn approve(app: &App, resumed: &Resumed, user_id: String, now: i64) -> Result<String, Refusal> {
    let Resumed { client, pending } = resumed;
    consume(app, pending, now).await?;
    let scope = pending.scope.intersection(&client.scope);
    let issuer = &app.config.issuer;
    let location = match pending.code_challenge.clone() {
        Some(code_challenge) => {
            let code = codes::issue(app, pending, code_challenge, user_id, scope, now).await?;
            resumed.answer(&[("code", &code)], issuer)
        }
        None => {
            let token = access::issue(app, &user_id, client, &scope, now).await?;
            count_issued(IMPLICIT, client);
            let expires_in = app.config.access_token_ttl.as_secs().to_string();
            let scope = scope.to_string();
            resumed.answer(
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
    Ok(location)
}

/// Marks the pending request answered; of two concurrent submissions only one gets here.
async fn consume(app: &App, pending: &PendingAuthorization, now: i64) -> Result<(), Refusal> {
    match app.store.consume_pending_authorization(&pending.id_hash, now).await? {
        Written::Yes => Ok(()),
        Written::LostRace => Err(Refusal::Shown(Unredirectable::AlreadyAnswered)),
    }
}

/// The OpenID Connect `prompt` parameter (Core §3.1.2.1), as far as it changes anything here.
#[derive(Debug, PartialEq, Eq)]
enum Prompt {
    /// `none`: no interaction allowed.
    None,
    /// Absent, or any of `login`, `consent`, `select_account`: every request shows the page.
    Interactive,
}

impl Prompt {
    fn parse(value: Option<&str>) -> Result<Self, &'static str> {
        let values: Vec<&str> = value.unwrap_or_default().split(' ').filter(|v| !v.is_empty()).collect();
        if values.iter().any(|v| !["none", "login", "consent", "select_account"].contains(v)) {
            return Err("prompt may be none, login, consent or select_account");
        }
        match values.as_slice() {
            ["none"] => Ok(Prompt::None),
            // "If this parameter contains none with any other value, an error is returned."
            v if v.contains(&"none") => Err("prompt=none cannot be combined with other values"),
            _ => Ok(Prompt::Interactive),
        }
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
        assert_eq!(Prompt::parse(None), Ok(Prompt::Interactive));
        assert_eq!(Prompt::parse(Some("login consent")), Ok(Prompt::Interactive));
        assert_eq!(Prompt::parse(Some("none")), Ok(Prompt::None));
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("silent")).is_err());
    }
}
