//! `GET|POST /oauth/authorize` (RFC 6749 §4.1.1, §4.2.1): the sign-in and consent page.
//!
//! `GET` checks the request ([`wxauth::oauth::authorization::start`]): answered at once through
//! the browser session when that may, else stored as a pending sign-in and shown as the page
//! (a sign-in, or consent only for the session's user); a CSRF token goes both into the form and
//! into a `SameSite=Strict` cookie. `POST` finds the request again in the browser that started
//! it ([`resume`](wxauth::oauth::authorization::resume)), signs the user in (same answer and same
//! work for a wrong password, an unknown user and a locked username) and starts a new browser
//! session, and redirects back with a code or token, or `access_denied`. The page speaks the request's
//! `ui_locales`, else the browser's `Accept-Language` (zh-CN or en); the form carries it.
//!
//! The sign-in page offers WeChat by the browser ([`wxauth::oauth::wechat_web::choose`]):
//! inside WeChat with an Official Account the page is skipped for WeChat's silent authorization;
//! desktops get a link to the website app's QR page; other phones a hint to open the page in
//! WeChat. The same function serves WeChat's callback ([`wechat_callback`]), the
//! domain-verification file WeChat asks for at the issuer's root ([`verify_file`]), and the
//! device verification page, where a user code leads to the same sign-in page ([`device`]).

mod device;
mod scan;
mod verify_file;
mod wechat_callback;

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::domain::browser_session::{BrowserSession, SignInMethod};
use wxauth::domain::scan::RequestedFrom;
use wxauth::domain::wechat_web::{BrowserKind, WebAppKind};
use wxauth::http::{self, Request, Response};
use wxauth::oauth::authorization::{self, Next, PENDING_TTL_SECONDS, Refusal, Started, Unredirectable};
use wxauth::oauth::browser_session;
use wxauth::oauth::scan::{self as scan_sign_in, ScanOffer};
use wxauth::oauth::sign_in::sign_in;
use wxauth::oauth::wechat_web::{self, Choice};
use wxauth::pages::{self, Locale, Problem, ScanPanel, SignInForm, SignInPage, WechatOffer};
use wxauth::params::Params;
use wxauth::secret::hash;

const CSRF_COOKIE: &str = "wxauth_csrf";
pub(crate) const PATH: &str = "/oauth/authorize";

pub async fn handle(app: &App, req: Request) -> Response {
    match req.uri().path() {
        PATH => authorize(app, req).await,
        wechat_web::CALLBACK_PATH => wechat_callback::handle(app, &req).await,
        path if path.starts_with(scan_sign_in::PATH) => scan::handle(app, &req).await,
        wxauth::oauth::device::VERIFICATION_PATH => device::handle(app, &req).await,
        // `GET /{file}`: any other file at the root.
        _ => verify_file::handle(app, &req).await,
    }
}

async fn authorize(app: &App, req: Request) -> Response {
    let accept_language = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let browser_locale = Locale::negotiate(None, accept_language);
    let result = match *req.method() {
        http::Method::GET => show(app, &req, accept_language, browser_locale).await,
        http::Method::POST => decide(app, &req, browser_locale).await,
        // 405 with Allow, as every route answers a wrong method; the page is the error page.
        _ => {
            let mut res = pages::error_response(405, browser_locale, Problem::MethodNotAllowed);
            res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, POST"));
            return res;
        }
    };
    result.unwrap_or_else(|(refusal, locale)| match refusal {
        Refusal::Shown(why) => pages::error_response(400, locale, why.into()),
        Refusal::Redirect(location) => http::found(&location),
        Refusal::Backend(e) => pages::backend_error_response(e, locale),
    })
}

/// A refusal and the language to tell it in.
pub(crate) type Refused = (Refusal, Locale);

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
    let now = unix_now();
    let session = current_session(app, req, now).await.map_err(|e| (e.into(), locale))?;
    let started = match authorization::start(app, &params, session.as_ref(), now).await.map_err(|r| (r, locale))? {
        Next::Answered(location) => return Ok(http::found(&location)),
        Next::Page(started) => started,
    };
    present(app, req, started, session.as_ref(), locale, now).await
}

/// The page of a started request, stored with the sign-in methods it offers: a sign-in, or
/// consent for `session`'s user (a web client's request, or a device's from `/device`).
pub(crate) async fn present(
    app: &App,
    req: &Request,
    mut started: Box<Started>,
    session: Option<&BrowserSession>,
    locale: Locale,
    now: i64,
) -> Result<Response, Refused> {
    let backend = |e: wxauth::error::Error| (Refusal::from(e), locale);
    let signed_in_as = match (&started.pending.session_sid, session) {
        (Some(_), Some(session)) => Some(display_name(app, session).await.map_err(backend)?),
        _ => None,
    };
    // A consent page signs nobody in: WeChat is offered on sign-in pages only.
    let browser = browser_kind(req);
    let choice = match signed_in_as {
        Some(_) => Choice::Nothing,
        None => wechat_web::choose(app, browser).await.map_err(backend)?,
    };
    // One binding cookie ties WeChat's callback and the scan ticket to this browser.
    let binding = binding_value(app, req);
    let leg = match &choice {
        Choice::OfficialAccount(web_app) | Choice::Website(web_app) => {
            Some(wechat_web::bind(Some(&binding), web_app).1)
        }
        Choice::Nothing | Choice::OpenInWechat => None,
    };
    let wechat_url = leg.as_ref().map(|leg| wechat_web::wechat_url(app, leg, &started.request_id));
    let bound = leg.is_some();
    authorization::keep(app, &mut started, leg).await.map_err(backend)?;
    if let (Choice::OfficialAccount(_), Some(url)) = (&choice, &wechat_url) {
        // Inside WeChat: straight to its silent authorization; the page would only add a tap.
        let mut res = http::found(url);
        http::add_cookie(&mut res, &wechat_web::binding_cookie(app, &binding));
        return Ok(res);
    }
    let scan = match signed_in_as {
        Some(_) => ScanOffer::Nothing,
        None => {
            let (client, pending) = (&started.client, &started.pending);
            scan_sign_in::offer(app, browser, requested_from(req), client, pending, &hash(&binding), now)
                .await
                .map_err(backend)?
        }
    };
    let wechat = match (&choice, &wechat_url) {
        (Choice::Website(_), Some(url)) => WechatOffer::QrLink(url),
        (Choice::OpenInWechat, _) => WechatOffer::OpenInWechat,
        _ => WechatOffer::Nothing,
    };
    let page = SignInForm {
        client_name: &started.client.name,
        client_id: &started.client.id,
        scope: &started.pending.scope,
        action: PATH,
        request_id: &started.request_id,
        csrf_token: &started.csrf_token,
        username: started.login_hint.as_deref(),
        signed_in_as: signed_in_as.as_deref(),
        wrong_password: false,
        wechat,
        scan: scan_panel(&scan),
    };
    let mut res = pages::html_response(200, &SignInPage::new(locale, &page));
    http::add_cookie(&mut res, &csrf_cookie(app, &started.csrf_token));
    if bound || matches!(scan, ScanOffer::Code(_)) {
        http::add_cookie(&mut res, &wechat_web::binding_cookie(app, &binding));
    }
    Ok(res)
}

fn browser_kind(req: &Request) -> BrowserKind {
    BrowserKind::of(user_agent(req))
}

/// The browser as the mini program's confirmation describes it.
fn requested_from(req: &Request) -> RequestedFrom {
    RequestedFrom::of(user_agent(req), http::source_ip(req))
}

fn user_agent(req: &Request) -> Option<&str> {
    req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok())
}

/// The value of the browser's binding cookie: its own, or a new one for the response to set.
fn binding_value(app: &App, req: &Request) -> String {
    wechat_web::binding_value(http::cookie(req.headers(), wechat_web::binding_cookie_name(&app.config.issuer)))
}

/// How a page shows a scan offer.
fn scan_panel(offer: &ScanOffer) -> ScanPanel<'_> {
    match offer {
        ScanOffer::Nothing => ScanPanel::Nothing,
        ScanOffer::Code(ticket) => ScanPanel::Code(ticket.as_str()),
        ScanOffer::Unavailable(problem) => ScanPanel::Unavailable(*problem),
    }
}

/// The `Set-Cookie` value binding a page's form to this browser.
pub(crate) fn csrf_cookie(app: &App, csrf_token: &str) -> String {
    let secure = browser_session::secure_attribute(&app.config.issuer);
    format!("{CSRF_COOKIE}={csrf_token}; Path={PATH}; Max-Age={PENDING_TTL_SECONDS}; HttpOnly; SameSite=Strict{secure}")
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
    let backend = |e: wxauth::error::Error| (Refusal::from(e), locale);
    // The consent page counts only in the browser session it was shown for.
    let consenting = match &resumed.pending.session_sid {
        None => None,
        Some(sid) => match current_session(app, req, now).await.map_err(backend)? {
            Some(session) if session.sid == *sid => Some(session),
            _ => return Err((Refusal::Shown(Unredirectable::SessionEnded), locale)),
        },
    };
    let signed_in_as = match &consenting {
        Some(session) => Some(display_name(app, session).await.map_err(backend)?),
        None => None,
    };
    let username = form.get("username").unwrap_or_default();
    // Shown again (a wrong password, another language), the page keeps its QR link.
    let qr_link = resumed
        .pending
        .wechat
        .as_ref()
        .filter(|leg| leg.scope.kind() == WebAppKind::Website)
        .map(|leg| wechat_web::wechat_url(app, leg, request_id));
    let page = |locale: Locale, wrong_password: bool, scan: &ScanOffer| {
        let form = SignInForm {
            client_name: &resumed.client.name,
            client_id: &resumed.client.id,
            scope: &resumed.pending.scope,
            action: PATH,
            request_id,
            csrf_token,
            username: Some(username),
            signed_in_as: signed_in_as.as_deref(),
            wrong_password,
            wechat: qr_link.as_deref().map_or(WechatOffer::Nothing, WechatOffer::QrLink),
            scan: scan_panel(scan),
        };
        pages::html_response(200, &SignInPage::new(locale, &form))
    };
    // Shown again, a sign-in page gets a new code (the form carries no ticket).
    let (on_consent_page, resumed_ref, page_ref) = (consenting.is_some(), &resumed, &page);
    let shown_again = move |locale: Locale, wrong_password: bool| async move {
        let binding = binding_value(app, req);
        let scan = if on_consent_page {
            ScanOffer::Nothing
        } else {
            let (client, pending) = (&resumed_ref.client, &resumed_ref.pending);
            let (browser, from) = (browser_kind(req), requested_from(req));
            scan_sign_in::offer(app, browser, from, client, pending, &hash(&binding), now).await?
        };
        let mut res = page_ref(locale, wrong_password, &scan);
        if matches!(scan, ScanOffer::Code(_)) {
            http::add_cookie(&mut res, &wechat_web::binding_cookie(app, &binding));
        }
        Ok::<_, wxauth::error::Error>(res)
    };
    if let Some(other) = form.get("switch_locale").and_then(Locale::from_tag) {
        return shown_again(other, false).await.map_err(backend);
    }
    if form.get("scan") == Some("renew") {
        return shown_again(locale, false).await.map_err(backend);
    }
    if form.get("decision") != Some("approve") {
        let location = authorization::deny(app, &resumed, now).await.map_err(|r| (r, locale))?;
        return Ok(http::found(&location));
    }
    if let Some(session) = consenting {
        let location = authorization::approve(app, &resumed, &session, now).await.map_err(|r| (r, locale))?;
        return Ok(http::found(&location));
    }
    let password = form.get("password").unwrap_or_default();
    let Some(user_id) = sign_in(app, username, password, now).await.map_err(backend)? else {
        return shown_again(locale, true).await.map_err(backend);
    };
    // A new session, with a new cookie value, on every sign-in: whatever cookie the browser
    // brought (set by someone else, say) is never the one that signs anybody in.
    let (value, session) = browser_session::start(app, &user_id, SignInMethod::Password, now).await.map_err(backend)?;
    let location = authorization::approve(app, &resumed, &session, now).await.map_err(|r| (r, locale))?;
    let mut res = http::found(&location);
    http::add_cookie(&mut res, &browser_session::set_cookie(app, &value));
    Ok(res)
}

/// The browser's live session, if its cookie names one.
async fn current_session(app: &App, req: &Request, now: i64) -> Result<Option<BrowserSession>, wxauth::error::Error> {
    let cookie = http::cookie(req.headers(), browser_session::cookie_name(&app.config.issuer));
    browser_session::current(app, cookie, now).await
}

/// How the consent page names the signed-in user: their username or WeChat nickname, else their
/// id.
async fn display_name(app: &App, session: &BrowserSession) -> Result<String, wxauth::error::Error> {
    let name = wechat_web::user_name(app, &session.user_id).await?;
    Ok(name.unwrap_or_else(|| session.user_id.clone()))
}
