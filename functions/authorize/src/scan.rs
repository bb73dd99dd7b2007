//! The routes of a scan sign-in ticket ([`wxauth::oauth::scan`]), for the browser that shows the
//! code: `GET /oauth/scan/{ticket}` (where it stands: JSON, polled), `/image` (the code, as
//! WeChat made it) and `/continue` (after the mini program's approval: the session and the
//! redirect to the client; before it, a page that waits).

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::domain::scan::{ScanStatus, TICKET_TTL_SECONDS};
use wxauth::error::OAuthError;
use wxauth::http::{self, HeaderValue, Request, Response, header};
use wxauth::oauth::authorization::Refusal;
use wxauth::oauth::scan::{self, Continued};
use wxauth::oauth::{browser_session, wechat_web};
use wxauth::pages::{self, Locale, Problem, ScanWaitPage};

pub async fn handle(app: &App, req: &Request) -> Response {
    let rest = req.uri().path().strip_prefix(scan::PATH).unwrap_or_default();
    let (ticket, what) = rest.split_once('/').unwrap_or((rest, ""));
    let cookie = http::cookie(req.headers(), wechat_web::binding_cookie_name(&app.config.issuer));
    let now = unix_now();
    match what {
        "" => http::respond(status(app, req, ticket, cookie, now).await),
        "image" => http::respond(image(app, req, ticket, cookie, now).await),
        "continue" => continue_sign_in(app, req, ticket, cookie, now).await,
        _ => http::respond(Err(not_found().into())),
    }
}

fn not_found() -> OAuthError {
    OAuthError::new(404, "not_found", "no such ticket")
}

async fn status(
    app: &App,
    req: &Request,
    ticket: &str,
    cookie: Option<&str>,
    now: i64,
) -> Result<Response, wxauth::error::Error> {
    http::allow(req, "GET")?;
    let poll = scan::poll(app, ticket, cookie, now).await?;
    Ok(http::no_store(http::json_response(200, &poll)))
}

async fn image(
    app: &App,
    req: &Request,
    ticket: &str,
    cookie: Option<&str>,
    now: i64,
) -> Result<Response, wxauth::error::Error> {
    http::allow(req, "GET")?;
    let Some(image) = scan::image(app, ticket, cookie, now).await? else { return Err(not_found().into()) };
    let mut res = Response::new(http::Body::Binary(image.bytes));
    let headers = res.headers_mut();
    let content_type = HeaderValue::from_str(&image.content_type).unwrap_or(HeaderValue::from_static("image/png"));
    headers.insert(header::CONTENT_TYPE, content_type);
    // The browser may keep it as long as the ticket lives; nobody else may (it opens a sign-in).
    let cache = HeaderValue::from_str(&format!("private, max-age={TICKET_TTL_SECONDS}"));
    headers.insert(header::CACHE_CONTROL, cache.unwrap_or(HeaderValue::from_static("private")));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(res)
}

async fn continue_sign_in(app: &App, req: &Request, ticket: &str, cookie: Option<&str>, now: i64) -> Response {
    let accept_language = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let locale = Locale::negotiate(None, accept_language);
    if let Err(e) = http::allow(req, "GET") {
        let mut res = pages::error_response(405, locale, Problem::MethodNotAllowed);
        if let Some(allow) = e.allow {
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        return res;
    }
    match scan::continue_sign_in(app, ticket, cookie, now).await {
        Ok(Continued::SignedIn { location, session_cookie }) => {
            let mut res = http::found(&location);
            http::add_cookie(&mut res, &browser_session::set_cookie(app, &session_cookie));
            res
        }
        Ok(Continued::Waiting(status)) => {
            pages::html_response(200, &ScanWaitPage::new(locale, status == ScanStatus::Scanned))
        }
        Ok(Continued::Declined) => pages::error_response(403, locale, Problem::ScanDeclined),
        Err(Refusal::Shown(why)) => pages::error_response(400, locale, why.into()),
        Err(Refusal::Redirect(location)) => http::found(&location),
        Err(Refusal::Backend(e)) => pages::backend_error_response(e, locale),
    }
}
