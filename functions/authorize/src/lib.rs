//! `GET|POST /oauth/authorize` (RFC 6749 §4.1.1, §4.2.1): the sign-in and consent page.
//!
//! `GET` checks the request and stores it as a pending sign-in
//! ([`wxauth::oauth::authorization::start`]), and shows the page; a CSRF token goes both into
//! the form and into a `SameSite=Strict` cookie. `POST` finds the request again in the browser
//! that started it ([`resume`](wxauth::oauth::authorization::resume)), signs the user in (same
//! answer and same work for a wrong password, an unknown user and a locked username), and
//! redirects back with a code or token, or `access_denied`. The page speaks the request's
//! `ui_locales`, else the browser's `Accept-Language` (zh-CN or en); the form carries it.

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::authorization::{self, PENDING_TTL_SECONDS, Refusal, Unredirectable};
use wxauth::oauth::sign_in::sign_in;
use wxauth::pages::{self, ErrorPage, Locale, Problem, SignInForm, SignInPage};
use wxauth::params::Params;

const CSRF_COOKIE: &str = "wxauth_csrf";
const PATH: &str = "/oauth/authorize";

pub async fn handle(app: &App, req: Request) -> Response {
    let accept_language = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let browser_locale = Locale::negotiate(None, accept_language);
    let result = match *req.method() {
        http::Method::GET => show(app, &req, accept_language, browser_locale).await,
        http::Method::POST => decide(app, &req, browser_locale).await,
        // 405 with Allow, as every route answers a wrong method; the page is the error page.
        _ => {
            let mut res = error_page(405, browser_locale, Problem::MethodNotAllowed);
            res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, POST"));
            return res;
        }
    };
    result.unwrap_or_else(|(refusal, locale)| match refusal {
        Refusal::Shown(why) => error_page(400, locale, why.into()),
        Refusal::Redirect(location) => redirect(&location),
        Refusal::Backend(e) => {
            let status = e.to_oauth().status;
            let _ = http::respond(Err(e)); // logs the cause once, like every other handler
            error_page(status, locale, Problem::Unavailable)
        }
    })
}

/// A refusal and the language to tell it in.
type Refused = (Refusal, Locale);

async fn show(
    app: &App,
    req: &Request,
    accept_language: Option<&str>,
    browser_locale: Locale,
) -> Result<Response, Refused> {
    let query = req.uri().query().unwrap_or_default();
    let params = Params::parse(query.as_bytes())
        .map_err(|e| (Refusal::Shown(Unredirectable::Malformed(e.description.into_owned())), browser_locale))?;
    let locale = Locale::negotiate(params.get("ui_locales"), accept_language);
    let started = authorization::start(app, &params).await.map_err(|r| (r, locale))?;
    let page = SignInForm {
        client_name: &started.client.name,
        client_id: &started.client.id,
        scope: &started.pending.scope,
        action: PATH,
        request_id: &started.request_id,
        csrf_token: &started.csrf_token,
        username: started.login_hint.as_deref(),
        wrong_password: false,
    };
    let mut res = pages::html_response(200, &SignInPage::new(locale, &page));
    let secure = if app.config.issuer.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{CSRF_COOKIE}={}; Path={PATH}; Max-Age={PENDING_TTL_SECONDS}; HttpOnly; SameSite=Strict{secure}",
        started.csrf_token
    );
    if let Ok(value) = http::HeaderValue::from_str(&cookie) {
        res.headers_mut().append(http::header::SET_COOKIE, value);
    }
    Ok(res)
}

async fn decide(app: &App, req: &Request, browser_locale: Locale) -> Result<Response, Refused> {
    let form = http::form(req)
        .map_err(|e| (Refusal::Shown(Unredirectable::Malformed(e.description.into_owned())), browser_locale))?;
    // The page's language as the form carries it; a language switch asks for another.
    let locale = form.get("locale").and_then(Locale::from_tag).unwrap_or(browser_locale);
    let (Some(request_id), Some(csrf_token)) = (form.get("request_id"), form.get("csrf_token")) else {
        return Err((Refusal::Shown(Unredirectable::IncompleteForm), locale));
    };
    let now = unix_now();
    let cookie = http::cookie(req.headers(), CSRF_COOKIE);
    let resumed = authorization::resume(app, request_id, csrf_token, cookie, now).await.map_err(|r| (r, locale))?;
    let username = form.get("username").unwrap_or_default();
    let page = |locale: Locale, wrong_password: bool| {
        let form = SignInForm {
            client_name: &resumed.client.name,
            client_id: &resumed.client.id,
            scope: &resumed.pending.scope,
            action: PATH,
            request_id,
            csrf_token,
            username: Some(username),
            wrong_password,
        };
        pages::html_response(200, &SignInPage::new(locale, &form))
    };
    if let Some(other) = form.get("switch_locale").and_then(Locale::from_tag) {
        return Ok(page(other, false));
    }
    let location = if form.get("decision") == Some("approve") {
        let password = form.get("password").unwrap_or_default();
        match sign_in(app, username, password, now).await.map_err(|e| (e.into(), locale))? {
            Some(user_id) => authorization::approve(app, &resumed, user_id, now).await,
            None => return Ok(page(locale, true)),
        }
    } else {
        authorization::deny(app, &resumed, now).await
    };
    location.map(|location| redirect(&location)).map_err(|r| (r, locale))
}

fn error_page(status: u16, locale: Locale, problem: Problem) -> Response {
    pages::html_response(status, &ErrorPage::new(locale, &problem))
}

fn redirect(location: &str) -> Response {
    let mut res = http::no_store(Response::new(http::Body::Empty));
    *res.status_mut() = http::StatusCode::FOUND;
    if let Ok(value) = http::HeaderValue::from_str(location) {
        res.headers_mut().insert(http::header::LOCATION, value);
    }
    res
}
