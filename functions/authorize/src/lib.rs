//! `GET|POST /oauth/authorize` (RFC 6749 §4.1.1, §4.2.1): the sign-in and consent page.
//!
//! `GET` validates the request, stores it as a pending sign-in (10 minutes), and shows the page;
//! a CSRF token goes both into the form and into a `SameSite=Strict` cookie, so a form posted
//! from another site, or another browser, is refused. `POST` checks both, signs the user in
//! (same answer and same work for a wrong password, an unknown user and a locked username),
//! consumes the pending request once, and redirects back with a code (or, for clients
//! registered for implicit, a token in the fragment), `state` and `iss` (RFC 9207).
//!
//! OpenID Connect (Core 1.0 §3.1.2.1): `nonce` is stored with the request and the code and
//! echoed in the ID token; `prompt=none` answers `login_required` (no browser session is kept,
//! so a user can never be signed in silently), `login` and `consent` are what every request gets
//! anyway; `max_age` is met by the fresh sign-in of every request (the ID token always carries
//! `auth_time`); `login_hint` pre-fills the username; `ui_locales` is a preference, and the page
//! has one language; `request` and `request_uri` are refused with their own error codes.
//!
//! RFC 6749 §4.1.2.1: with an unknown client or a redirect URI that is not registered, "the
//! authorization server SHOULD inform the resource owner of the error and MUST NOT
//! automatically redirect the user-agent to the invalid redirection URI": those get an error
//! page. Every other error goes back to the client by redirect.

pub mod page;

use wxauth::App;
use wxauth::domain::authorization::PendingAuthorization;
use wxauth::domain::client::Client;
use wxauth::error::Error;
use wxauth::grant_type::IMPLICIT;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::client_auth::plausible_client_id;
use wxauth::oauth::grants::authorization_code;
use wxauth::oauth::pkce::CodeChallenge;
use wxauth::params::Params;
use wxauth::scope::Scope;
use wxauth::secret::{constant_time_eq, hash, random_token};
use wxauth::store::Written;
use wxauth::tokens::{access, codes};

/// How long the sign-in page may stay open.
const PENDING_TTL_SECONDS: i64 = 600;
/// A `nonce` longer than this is refused: it is stored with the request and the code, and
/// echoed in every ID token of the grant.
const MAX_NONCE_LEN: usize = 512;
/// A `login_hint` longer than any username is ignored.
const MAX_LOGIN_HINT_LEN: usize = 64;
const CSRF_COOKIE: &str = "wxauth_csrf";
const PATH: &str = "/oauth/authorize";

/// How a request ends when it does not succeed.
enum Refusal {
    /// Shown to the user; never a redirect.
    Page {
        status: u16,
        title: &'static str,
        message: String,
    },
    /// Back to the client's registered redirect URI.
    Redirect(String),
    Backend(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal::Backend(e)
    }
}

fn bad_request(title: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::Page { status: 400, title, message: message.into() }
}

pub async fn handle(app: &App, req: Request) -> Response {
    let result = match *req.method() {
        http::Method::GET => show(app, &req).await,
        http::Method::POST => decide(app, &req).await,
        // 405 with Allow, as every route answers a wrong method; the page is the error page.
        _ => {
            let mut res = page::html_response(405, page::error_page("Method not allowed", "Use GET or POST."));
            res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, POST"));
            return res;
        }
    };
    match result {
        Ok(res) => res,
        Err(Refusal::Page { status, title, message }) => page::html_response(status, page::error_page(title, &message)),
        Err(Refusal::Redirect(location)) => redirect(&location),
        Err(Refusal::Backend(e)) => {
            let shown = e.to_oauth();
            let _ = http::respond(Err(e)); // logs the cause once, like every other handler
            page::html_response(
                shown.status,
                page::error_page("Temporarily unavailable", "Please try again in a moment."),
            )
        }
    }
}

/// The client and redirect URI of a request: the two things that must be right before we may
/// redirect anywhere.
async fn client_and_redirect(app: &App, params: &Params) -> Result<(Client, String, bool), Refusal> {
    let Some(client_id) = params.get("client_id") else {
        return Err(bad_request("Invalid request", "The request names no client (client_id)."));
    };
    let known = if plausible_client_id(client_id) { app.store.client(client_id).await? } else { None };
    let Some(client) = known else {
        return Err(bad_request("Unknown application", "This application is not registered."));
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_string(),
        Some(_) => {
            return Err(bad_request("Invalid redirect", "The redirect URI is not registered for this application."));
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(bad_request("Invalid redirect", "The request names no redirect URI.")),
    };
    Ok((client, redirect_uri, params.get("redirect_uri").is_some()))
}

async fn show(app: &App, req: &Request) -> Result<Response, Refusal> {
    let params = Params::parse(req.uri().query().unwrap_or_default().as_bytes())
        .map_err(|e| bad_request("Invalid request", e.description))?;
    let (client, redirect_uri, redirect_uri_given) = client_and_redirect(app, &params).await?;
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
    // OpenID Connect Core §6: "request_not_supported", "request_uri_not_supported"; Dynamic
    // Client Registration is not offered either (§3.1.2.6).
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
    let login_hint = params.get("login_hint").filter(|hint| hint.len() <= MAX_LOGIN_HINT_LEN);
    let expected_mode = if fragment { "fragment" } else { "query" };
    if params.get("response_mode").is_some_and(|mode| mode != expected_mode) {
        return Err(back("invalid_request", "response_mode must be query for a code and fragment for a token"));
    }
    let code_challenge = match response_type {
        "code" if client.allows_grant(authorization_code::GRANT_TYPE) => {
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
        expires_at: wxauth::clock::unix_now() + PENDING_TTL_SECONDS,
    };
    app.store.put_pending_authorization(&pending).await?;
    let mut res = sign_in_page(&client, &pending, &request_id, &csrf_token, login_hint, None);
    let secure = if app.config.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{CSRF_COOKIE}={csrf_token}; Path={PATH}; Max-Age={PENDING_TTL_SECONDS}; HttpOnly; SameSite=Strict{secure}"
    );
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        res.headers_mut().append(http::header::SET_COOKIE, value);
    }
    Ok(res)
}

fn sign_in_page(
    client: &Client,
    pending: &PendingAuthorization,
    request_id: &str,
    csrf_token: &str,
    username: Option<&str>,
    error: Option<&str>,
) -> Response {
    let scopes: Vec<String> =
        pending.scope.to_string().split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let name = if client.name.is_empty() { &client.id } else { &client.name };
    page::html_response(
        200,
        page::sign_in_page(&page::SignIn {
            client_name: name,
            client_id: &client.id,
            scopes: &scopes,
            request_id,
            csrf_token,
            username,
            error,
            action: PATH,
        }),
    )
}

async fn decide(app: &App, req: &Request) -> Result<Response, Refusal> {
    let form = http::form(req).map_err(|e| bad_request("Invalid request", e.description))?;
    let (Some(request_id), Some(csrf_token)) = (form.get("request_id"), form.get("csrf_token")) else {
        return Err(bad_request("Invalid request", "The form is incomplete. Start again from the application."));
    };
    let now = wxauth::clock::unix_now();
    let Some(pending) = app.store.pending_authorization(&hash(request_id), now).await? else {
        return Err(bad_request("Sign-in expired", "This sign-in page has expired. Start again from the application."));
    };
    let cookie = csrf_cookie(req.headers());
    let bound = cookie.is_some_and(|c| constant_time_eq(c, csrf_token))
        && constant_time_eq(&hash(csrf_token), &pending.csrf_hash);
    if !bound {
        return Err(bad_request(
            "Sign-in refused",
            "This form was not opened in this browser. Start again from the application.",
        ));
    }
    // The client may have changed since the page was shown: where we may send the user, and
    // what it may have, are decided by its registration now.
    let client =
        app.store.client(&pending.client_id).await?.filter(|c| c.redirect_uris.contains(&pending.redirect_uri));
    let Some(client) = client else {
        return Err(bad_request(
            "Unknown application",
            "This application or its redirect URI is no longer registered.",
        ));
    };
    let back = |params: &[(&str, &str)]| {
        redirect_url(
            &pending.redirect_uri,
            pending.response_type == "token",
            params,
            pending.state.as_deref(),
            &app.config.issuer,
        )
    };
    let grant = if pending.code_challenge.is_some() { authorization_code::GRANT_TYPE } else { IMPLICIT };
    if !client.allows_grant(grant) {
        consume(app, &pending, now).await?;
        return Err(Refusal::Redirect(back(&[("error", "unauthorized_client")])));
    }
    let scope = pending.scope.intersection(&client.scope);
    if form.get("decision") != Some("approve") {
        consume(app, &pending, now).await?;
        return Ok(redirect(&back(&[
            ("error", "access_denied"),
            ("error_description", "the user denied the request"),
        ])));
    }
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let Some(user_id) = wxauth::oauth::sign_in::sign_in(app, username, password, now).await? else {
        return Ok(sign_in_page(
            &client,
            &pending,
            request_id,
            csrf_token,
            Some(username),
            Some("Wrong username or password."),
        ));
    };
    consume(app, &pending, now).await?;
    let location = match pending.code_challenge.clone() {
        Some(code_challenge) => {
            let code = codes::issue(app, &pending, code_challenge, user_id, scope, now).await?;
            back(&[("code", &code)])
        }
        None => {
            let token = access::issue(app, &user_id, &client, &scope, now).await?;
            wxauth::oauth::grants::count_issued(IMPLICIT, &client);
            let expires_in = app.config.access_token_ttl.as_secs().to_string();
            let scope = scope.to_string();
            back(&[
                ("access_token", &token.jwt),
                ("token_type", "Bearer"),
                ("expires_in", &expires_in),
                ("scope", &scope),
            ])
        }
    };
    Ok(redirect(&location))
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

async fn consume(app: &App, pending: &PendingAuthorization, now: i64) -> Result<(), Refusal> {
    match app.store.consume_pending_authorization(&pending.id_hash, now).await? {
        Written::Yes => Ok(()),
        Written::LostRace => {
            Err(bad_request("Already answered", "This sign-in was already completed. Return to the application."))
        }
    }
}

fn csrf_cookie(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(CSRF_COOKIE)?.strip_prefix('='))
}

/// `redirect_uri` with the response parameters, `state` and `iss` added: to the query for a
/// code, to the fragment for implicit (RFC 6749 §4.2.2).
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

fn redirect(location: &str) -> Response {
    let mut res = http::no_store(Response::new(http::Body::Empty));
    *res.status_mut() = http::StatusCode::FOUND;
    if let Ok(value) = http::HeaderValue::from_str(location) {
        res.headers_mut().insert(http::header::LOCATION, value);
    }
    res
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

    #[test]
    fn the_csrf_cookie_is_found_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, http::HeaderValue::from_static("a=1; wxauth_csrf=xyz; b=2"));
        assert_eq!(csrf_cookie(&headers), Some("xyz"));
        headers.insert(http::header::COOKIE, http::HeaderValue::from_static("wxauth_csrfx=evil"));
        assert_eq!(csrf_cookie(&headers), None);
    }
}
