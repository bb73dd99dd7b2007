//! `GET|POST /device`, the device verification page (RFC 8628 §3.3): where a user enters the code
//! a TV or a CLI shows ([`wxauth::oauth::device_verification`]).
//!
//! `GET` shows the form, the code pre-filled from `?user_code=` (the device's
//! `verification_uri_complete`, often a QR code), with a CSRF token both in the form and in a
//! `SameSite=Strict` cookie of this path; with `?result=approved|denied` it shows the page after
//! an answer instead. `POST` checks that the form's token is the browser's cookie, then: a code no
//! device waits for shows the form again, saying so; a valid one continues on the very page of
//! `/oauth/authorize` (sign-in with every method it offers, or consent for a browser session),
//! whose form posts there. Its answer comes back here as `?result=`. The page speaks `ui_locales`,
//! else `Accept-Language`; the form carries its language.

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::http::{self, Request, Response, header};
use wxauth::oauth::authorization::{Refusal, Unredirectable};
use wxauth::oauth::browser_session;
use wxauth::oauth::device::{Outcome, VERIFICATION_PATH};
use wxauth::oauth::device_verification::{self, Entered};
use wxauth::pages::{self, DevicePage, DeviceStep, Locale, Problem};
use wxauth::params::Params;
use wxauth::secret::{constant_time_eq, random_token};

/// The entry form's CSRF cookie: scoped to this page (the sign-in form has its own).
const CSRF_COOKIE: &str = "wxauth_device_csrf";
/// How long the entry form may stay open: as long as a device code lives.
const FORM_TTL_SECONDS: i64 = wxauth::domain::device_grant::DEVICE_CODE_TTL_SECONDS;

pub async fn handle(app: &App, req: &Request) -> Response {
    let accept_language = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let browser_locale = Locale::negotiate(None, accept_language);
    let result = match *req.method() {
        http::Method::GET => Ok(show(app, req, accept_language, browser_locale)),
        http::Method::POST => enter(app, req, browser_locale).await,
        _ => {
            let mut res = pages::error_response(405, browser_locale, Problem::MethodNotAllowed);
            res.headers_mut().insert(header::ALLOW, http::HeaderValue::from_static("GET, POST"));
            return res;
        }
    };
    result.unwrap_or_else(|(refusal, locale)| match refusal {
        Refusal::Shown(why) => pages::error_response(400, locale, why.into()),
        Refusal::Redirect(location) => http::found(&location),
        Refusal::Backend(e) => pages::backend_error_response(e, locale),
    })
}

/// The form (or, after an answer, what happened), in the language the query or browser asks for.
fn show(app: &App, req: &Request, accept_language: Option<&str>, browser_locale: Locale) -> Response {
    let query = Params::parse(req.uri().query().unwrap_or_default().as_bytes()).unwrap_or_default();
    let locale = match query.get("ui_locales") {
        Some(tags) => Locale::negotiate(Some(tags), accept_language),
        None => browser_locale,
    };
    match query.get("result").and_then(Outcome::parse) {
        Some(Outcome::Approved) => page(200, locale, DeviceStep::Approved),
        Some(Outcome::Denied) => page(200, locale, DeviceStep::Denied),
        None => {
            let csrf_token = random_token();
            // Only a code of ours is echoed back into the form, and as the device shows it.
            let user_code = query
                .get("user_code")
                .and_then(wxauth::domain::device_grant::UserCode::parse)
                .map(|code| code.to_string());
            let step =
                DeviceStep::Enter { csrf_token: &csrf_token, user_code: user_code.as_deref(), unknown_code: false };
            let mut res = page(200, locale, step);
            http::add_cookie(&mut res, &csrf_cookie(app, &csrf_token));
            res
        }
    }
}

fn page(status: u16, locale: Locale, step: DeviceStep<'_>) -> Response {
    pages::html_response(status, &DevicePage::new(locale, VERIFICATION_PATH, step))
}

/// The `Set-Cookie` value binding the entry form to this browser.
fn csrf_cookie(app: &App, csrf_token: &str) -> String {
    let secure = browser_session::secure_attribute(&app.config.issuer);
    format!(
        "{CSRF_COOKIE}={csrf_token}; Path={VERIFICATION_PATH}; Max-Age={FORM_TTL_SECONDS}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// The entered code: the form again, or the device's request on the sign-in or consent page.
async fn enter(app: &App, req: &Request, browser_locale: Locale) -> Result<Response, super::Refused> {
    let form = http::form(req)
        .map_err(|e| (Refusal::Shown(Unredirectable::Malformed(e.description.into_owned())), browser_locale))?;
    let locale = form.get("locale").and_then(Locale::from_tag).unwrap_or(browser_locale);
    let Some(csrf_token) = form.get("csrf_token") else {
        return Err((Refusal::Shown(Unredirectable::IncompleteForm), locale));
    };
    // Double submit: a form posted from another site carries no cookie of ours (SameSite=Strict)
    // and cannot read one to copy into its fields.
    let cookie = http::cookie(req.headers(), CSRF_COOKIE);
    if !cookie.is_some_and(|c| constant_time_eq(c, csrf_token)) {
        return Err((Refusal::Shown(Unredirectable::OtherBrowser), locale));
    }
    let typed = form.get("user_code").unwrap_or_default();
    let form_again = |locale: Locale, unknown_code: bool| {
        let user_code = Some(typed).filter(|t| t.len() <= 32);
        page(if unknown_code { 400 } else { 200 }, locale, DeviceStep::Enter { csrf_token, user_code, unknown_code })
    };
    if let Some(other) = form.get("switch_locale").and_then(Locale::from_tag) {
        return Ok(form_again(other, false));
    }
    let now = unix_now();
    let backend = |e: wxauth::error::Error| (Refusal::from(e), locale);
    let session = super::current_session(app, req, now).await.map_err(backend)?;
    match device_verification::enter(app, typed, session.as_ref(), now).await.map_err(backend)? {
        Entered::Unknown => Ok(form_again(locale, true)),
        Entered::Page(started) => super::present(app, req, started, session.as_ref(), locale, now).await,
    }
}
