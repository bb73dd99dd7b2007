//! `GET|POST /oauth/end_session` (OpenID Connect RP-Initiated Logout 1.0): ends the browser
//! session and sends the browser back to the client, or shows "signed out". The rules are
//! [`wxauth::oauth::logout`]'s. A request without a valid hint for the session's user gets a
//! confirmation page first, whose POST carries a CSRF token that must match a `SameSite=Strict`
//! cookie set with the page. Every page speaks `ui_locales`, else `Accept-Language`.

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::browser_session;
use wxauth::oauth::logout::{self, LogoutRefusal};
use wxauth::pages::{self, ConfirmLogout, ConfirmLogoutPage, Locale, Problem, SignedOutPage};
use wxauth::params::Params;
use wxauth::secret::{constant_time_eq, random_token};

const PATH: &str = "/oauth/end_session";
const CSRF_COOKIE: &str = "wxauth_logout_csrf";
/// How long the confirmation page may stay open.
const CONFIRM_TTL_SECONDS: i64 = 600;

pub async fn handle(app: &App, req: Request) -> Response {
    let accept_language = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let browser_locale = Locale::negotiate(None, accept_language);
    let params = match *req.method() {
        http::Method::GET => Params::parse(req.uri().query().unwrap_or_default().as_bytes()),
        http::Method::POST => http::form(&req),
        _ => {
            let mut res = pages::error_response(405, browser_locale, Problem::MethodNotAllowed);
            res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, POST"));
            return res;
        }
    };
    let params = match params {
        Ok(params) => params,
        Err(e) => {
            let problem =
                Problem::Request(wxauth::oauth::authorization::Unredirectable::Malformed(e.description.into_owned()));
            return pages::error_response(e.status, browser_locale, problem);
        }
    };
    let locale = params
        .get("locale")
        .and_then(Locale::from_tag)
        .unwrap_or_else(|| Locale::negotiate(params.get("ui_locales"), accept_language));
    end_session(app, &req, &params, locale).await.unwrap_or_else(|refusal| match refusal {
        LogoutRefusal::Shown(problem) => pages::error_response(400, locale, Problem::Logout(problem)),
        LogoutRefusal::Backend(e) => pages::backend_error_response(e, locale),
    })
}

async fn end_session(app: &App, req: &Request, params: &Params, locale: Locale) -> Result<Response, LogoutRefusal> {
    let now = unix_now();
    let request = logout::check(app, params, now).await?;
    let cookie = http::cookie(req.headers(), browser_session::cookie_name(&app.config.issuer));
    let session = browser_session::current(app, cookie, now).await?;
    // The confirmation's POST counts only with the CSRF token its page set in this browser.
    let confirmed = *req.method() == http::Method::POST
        && params.get("confirm") == Some("yes")
        && params
            .get("csrf_token")
            .zip(http::cookie(req.headers(), CSRF_COOKIE))
            .is_some_and(|(form, cookie)| !form.is_empty() && constant_time_eq(form, cookie));
    if session.is_some() && !confirmed && !request.may_end_without_asking(session.as_ref()) {
        return Ok(confirmation(app, &request, locale));
    }
    if let Some(session) = &session {
        logout::end(app, session, now).await?;
    }
    let mut res = match request.redirect() {
        Some(location) => http::found(&location),
        None => pages::html_response(200, &SignedOutPage::new(locale)),
    };
    http::add_cookie(&mut res, &browser_session::clear_cookie(app));
    Ok(res)
}

/// The page that asks before a logout nobody vouched for.
fn confirmation(app: &App, request: &logout::LogoutRequest, locale: Locale) -> Response {
    let csrf_token = random_token();
    let client = request.client.as_ref();
    let form = ConfirmLogout {
        action: PATH,
        csrf_token: &csrf_token,
        client_name: client.map(|c| if c.name.is_empty() { c.id.as_str() } else { c.name.as_str() }),
        client_id: client.map(|c| c.id.as_str()),
        post_logout_redirect_uri: request.post_logout_redirect_uri.as_deref(),
        state: request.state.as_deref(),
    };
    let mut res = pages::html_response(200, &ConfirmLogoutPage::new(locale, &form));
    let secure = browser_session::secure_attribute(&app.config.issuer);
    let cookie = format!(
        "{CSRF_COOKIE}={csrf_token}; Path={PATH}; Max-Age={CONFIRM_TTL_SECONDS}; HttpOnly; SameSite=Strict{secure}"
    );
    http::add_cookie(&mut res, &cookie);
    res
}
