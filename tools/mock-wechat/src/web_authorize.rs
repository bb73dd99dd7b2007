//! Web sign-in pages: `GET /connect/oauth2/authorize` (Official Account web
//! authorization, scopes `snsapi_base` and `snsapi_userinfo`) and
//! `GET /connect/qrconnect` (website app sign-in, scope `snsapi_login`).
//!
//! Both take `?appid=&redirect_uri=&response_type=code&scope=&state=` (the
//! real link ends with `#wechat_redirect`, which browsers never send). Where
//! WeChat shows a QR code or a consent screen, the mock shows a page "approve
//! as" whose user the tester types; approving redirects to
//! `302 <redirect_uri>?code=<code>&state=<state>` (`&code=…` if
//! `redirect_uri` already has a query; `state` left out when empty), and the
//! code is exchanged by [`crate::sns_oauth2`].
//!
//! The pages check, in order, and answer a failure as an HTML error page
//! (HTTP 200, `text/html; charset=utf-8`, showing the number and the text):
//!
//! | check | errcode and text |
//! |---|---|
//! | `appid` missing | 10012 `appid不能为空` |
//! | `appid` not a registered web app of the page's kind (`POST /mock/apps` with `kind`) | 10005 `Scope 参数错误或没有 Scope 权限` (what WeChat shows for a wrong or other platform's appid); a website app on the Official Account page: 10016 `不支持微信开放平台的Appid，请使用公众号Appid` |
//! | `redirect_uri` missing | 10011 `redirect_uri不能为空` |
//! | `redirect_uri` not an `http(s)` URL whose host is the app's `domain` (exactly, case-insensitively; any port; apps without a domain take any host) | 10003 `redirect_uri 参数错误` |
//! | `scope` missing | 10010 `scope不能为空` |
//! | `scope` not offered by the page | 10005 `Scope 参数错误或没有 Scope 权限` |
//! | `state` longer than 128 or not `[A-Za-z0-9]*` (empty is fine) | 10013 `state 参数错误` (WeChat's code for `state`) |
//! | `response_type` not `code` | 10014 `response_type 参数错误` (the mock's choice) |
//!
//! Then the page: a `<form method="post">` to the same path with hidden
//! fields `appid`, `redirect_uri`, `response_type`, `scope`, `state`, a text
//! input `user`, and two submit buttons, `approve` and `deny`. The POST (an
//! `application/x-www-form-urlencoded` body; a field missing from it is taken
//! from the query string) re-checks all of the above, then:
//!
//! - with a `deny` field: `302 <redirect_uri>?state=<state>` (no code), as
//!   WeChat does when the user refuses;
//! - else a valid `user`: issues a one-time code for it, answers the 302
//!   with the code and sets the cookie
//!   `mock_wechat_user=<user>; Path=/; HttpOnly; SameSite=Lax`;
//! - else the page again, with the problem.
//!
//! A GET for `snsapi_base` whose request carries that cookie (with a valid
//! user) approves at once, without a page, as WeChat's silent authorization
//! does; `snsapi_userinfo` and `snsapi_login` always show the page (with the
//! cookie's user filled in). Every echoed value is HTML-escaped.
//!
//! ## Users (the form's `user`)
//!
//! At most 64 letters, digits, `-`, `_`, `.` or `~`:
//!
//! | user | signs in |
//! |---|---|
//! | `<name>` | openid `openid-<base>-<appid>`, no unionid |
//! | `<name>.u` | the same openid, plus unionid `unionid-<base>` (the one `ok-<name>.u` gets from `jscode2session`) under `snsapi_userinfo` and `snsapi_login` (never under `snsapi_base`) |
//! | `<name>.snap` | a snapshot (快照页) user: openid `openid-snap-<base>-<appid>`, `"is_snapshotuser": 1`, no unionid |
//! | `busy-<name>[.u\|.snap]` | its code's exchange answers -1 `system error` once, then as `<name>[.u\|.snap]` |
//! | `err-<errcode>` | its code's exchange answers that error every time (`err--1` is -1) |
//!
//! `<base>` is `<name>` up to its first `~`, as in [`crate::jscode2session`]
//! (`alice~2.u` is `alice`); it must not be empty. Nicknames are `<base>`.
//! Each call of either page (GET or POST) counts as `web_authorize` for its
//! appid.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::errors::WxError;
use crate::routes::{AppState, query_params};
use crate::state::{Api, AppKind, Mock, present};

/// The Official Account page.
pub const PATH: &str = "/connect/oauth2/authorize";
/// The website app page.
pub const QRCONNECT_PATH: &str = "/connect/qrconnect";
/// The cookie naming the user who last approved (on the mock's origin).
pub const USER_COOKIE: &str = "mock_wechat_user";
/// WeChat's limit on `state`, in bytes.
pub const STATE_MAX_LEN: usize = 128;
/// The mock's limit on a user name.
pub const USER_MAX_LEN: usize = 64;

/// One of the two sign-in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/connect/oauth2/authorize`, for apps of kind `official-account`.
    OfficialAccount,
    /// `/connect/qrconnect`, for apps of kind `website`.
    Website,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Self::OfficialAccount => PATH,
            Self::Website => QRCONNECT_PATH,
        }
    }

    fn kind(self) -> AppKind {
        match self {
            Self::OfficialAccount => AppKind::OfficialAccount,
            Self::Website => AppKind::Website,
        }
    }

    fn offers(self, scope: Scope) -> bool {
        match self {
            Self::OfficialAccount => matches!(scope, Scope::Base | Scope::Userinfo),
            Self::Website => scope == Scope::Login,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::OfficialAccount => "mock WeChat: 网页授权 (Official Account)",
            Self::Website => "mock WeChat: 微信登录 (website app)",
        }
    }
}

/// A web sign-in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `snsapi_base`: silent, openid only.
    Base,
    /// `snsapi_userinfo`: consent, `/sns/userinfo`, unionid.
    Userinfo,
    /// `snsapi_login`: the website app's QR sign-in, `/sns/userinfo`, unionid.
    Login,
}

impl Scope {
    pub fn parse(scope: &str) -> Option<Self> {
        match scope {
            "snsapi_base" => Some(Self::Base),
            "snsapi_userinfo" => Some(Self::Userinfo),
            "snsapi_login" => Some(Self::Login),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Base => "snsapi_base",
            Self::Userinfo => "snsapi_userinfo",
            Self::Login => "snsapi_login",
        }
    }

    /// Whether WeChat answers the unionid (and `/sns/userinfo`) under this
    /// scope: not under `snsapi_base`.
    pub fn reveals_profile(self) -> bool {
        self != Self::Base
    }
}

/// Who a sign-in page user is, whatever the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The name before any `~`, `.u` or `.snap`: the nickname.
    pub base: String,
    /// `.u`: has a unionid.
    pub unionid: bool,
    /// `.snap`: a snapshot user (virtual openid, no unionid).
    pub snapshot: bool,
}

impl WebIdentity {
    /// `openid-<base>-<appid>`, or `openid-snap-<base>-<appid>` for a snapshot user.
    pub fn openid(&self, appid: &str) -> String {
        let snap = if self.snapshot { "snap-" } else { "" };
        format!("openid-{snap}{}-{appid}", self.base)
    }

    /// `unionid-<base>` for a `.u` user.
    pub fn unionid(&self) -> Option<String> {
        (self.unionid && !self.snapshot).then(|| format!("unionid-{}", self.base))
    }
}

/// What the form's `user` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebUser {
    /// `[busy-]<name>[.u|.snap]`.
    Person { identity: WebIdentity, busy: bool },
    /// `err-<errcode>`.
    Error(WxError),
}

impl WebUser {
    /// Parses a user name; `Err` is the problem the page shows.
    pub fn parse(name: &str) -> Result<Self, &'static str> {
        if name.is_empty() {
            return Err("Type a user to approve as.");
        }
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if name.len() > USER_MAX_LEN || !name.bytes().all(allowed) {
            return Err("A user is at most 64 letters, digits, '-', '_', '.' or '~'.");
        }
        if name.starts_with("err-") {
            return WxError::named_by_code(name)
                .map(Self::Error)
                .ok_or("err-<errcode> needs a non-zero number, e.g. err-40029 or err--1.");
        }
        let (rest, busy) = match name.strip_prefix("busy-") {
            Some(rest) => (rest, true),
            None => (name, false),
        };
        let (rest, unionid, snapshot) = if let Some(rest) = rest.strip_suffix(".u") {
            (rest, true, false)
        } else if let Some(rest) = rest.strip_suffix(".snap") {
            (rest, false, true)
        } else {
            (rest, false, false)
        };
        let base = rest.split_once('~').map_or(rest, |(base, _)| base);
        if base.is_empty() {
            return Err("The name before '~', '.u' or '.snap' must not be empty.");
        }
        Ok(Self::Person { identity: WebIdentity { base: base.to_owned(), unionid, snapshot }, busy })
    }
}

/// The parameters of either page: the query of a GET, the form of a POST.
#[derive(Debug, Default, Clone)]
pub struct AuthorizeRequest {
    pub appid: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
}

impl AuthorizeRequest {
    fn from_params(mut params: HashMap<String, String>) -> Self {
        Self {
            appid: params.remove("appid"),
            redirect_uri: params.remove("redirect_uri"),
            response_type: params.remove("response_type"),
            scope: params.remove("scope"),
            state: params.remove("state"),
        }
    }
}

/// A request that passed every check of its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub page: Page,
    pub appid: String,
    pub redirect_uri: String,
    pub scope: Scope,
    /// Empty when not given.
    pub state: String,
}

impl Authorization {
    /// `redirect_uri` with `code` (when given) and `state` (when not empty)
    /// added to its query, before any fragment.
    pub fn location(&self, code: Option<&str>) -> String {
        let (base, fragment) = match self.redirect_uri.split_once('#') {
            Some((base, fragment)) => (base, Some(fragment)),
            None => (self.redirect_uri.as_str(), None),
        };
        let params: Vec<String> = [("code", code.unwrap_or_default()), ("state", self.state.as_str())]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let mut location = base.to_owned();
        if !params.is_empty() {
            if !base.contains('?') {
                location.push('?');
            } else if !base.ends_with(['?', '&']) {
                location.push('&');
            }
            location.push_str(&params.join("&"));
        }
        if let Some(fragment) = fragment {
            location.push('#');
            location.push_str(fragment);
        }
        location
    }
}

/// The user's answer on the page (the POST).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve as this user (the form's `user`).
    Approve(String),
    /// The `deny` button.
    Deny,
}

/// What a page answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The error page.
    Error(WxError),
    /// The "approve as" page, its `user` input filled in, and the problem
    /// with the last submission.
    Page { auth: Authorization, user: String, problem: Option<&'static str> },
    /// 302 to `location`; `remember` is the user to set the cookie to.
    Redirect { location: String, remember: Option<String> },
}

/// The lowercase host of an `http(s)` URL, without its port; `None` if
/// `uri` is no such URL.
fn redirect_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host_port)| host_port);
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, ""));
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (host_ok && port.bytes().all(|b| b.is_ascii_digit())).then(|| host.to_ascii_lowercase())
}

fn valid_state(state: &str) -> bool {
    state.len() <= STATE_MAX_LEN && state.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Mock {
    /// The checks both pages make, GET and POST, in WeChat's order; counts
    /// the call once the appid is given.
    pub fn check_authorization(&mut self, page: Page, req: &AuthorizeRequest) -> Result<Authorization, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::PAGE_APPID_MISSING)?;
        self.count(appid, Api::WebAuthorize);
        let domain = match self.app(appid).map(|app| (app.kind, app.domain.clone())) {
            Some((Some(kind), domain)) if kind == page.kind() => domain,
            Some((Some(AppKind::Website), _)) if page == Page::OfficialAccount => {
                return Err(WxError::OPEN_PLATFORM_APPID);
            }
            _ => return Err(WxError::SCOPE_UNAUTHORIZED),
        };
        let redirect_uri = present(req.redirect_uri.as_deref()).ok_or(WxError::REDIRECT_URI_MISSING)?;
        let host = redirect_host(redirect_uri).ok_or(WxError::REDIRECT_URI_MISMATCH)?;
        if domain.is_some_and(|domain| domain != host) {
            return Err(WxError::REDIRECT_URI_MISMATCH);
        }
        let scope = present(req.scope.as_deref()).ok_or(WxError::SCOPE_MISSING)?;
        let scope = Scope::parse(scope).filter(|scope| page.offers(*scope)).ok_or(WxError::SCOPE_UNAUTHORIZED)?;
        let state = req.state.clone().unwrap_or_default();
        if !valid_state(&state) {
            return Err(WxError::STATE_INVALID);
        }
        if req.response_type.as_deref() != Some("code") {
            return Err(WxError::RESPONSE_TYPE_INVALID);
        }
        Ok(Authorization { page, appid: appid.to_owned(), redirect_uri: redirect_uri.to_owned(), scope, state })
    }

    /// A page's GET: the error page, the silent approval of `snsapi_base`
    /// for the cookie's user, or the "approve as" page.
    pub fn authorize_page(
        &mut self,
        page: Page,
        req: &AuthorizeRequest,
        cookie_user: Option<&str>,
        now_ms: u64,
    ) -> Outcome {
        let auth = match self.check_authorization(page, req) {
            Ok(auth) => auth,
            Err(err) => return Outcome::Error(err),
        };
        let remembered = cookie_user.and_then(|name| WebUser::parse(name).ok().map(|user| (name, user)));
        match remembered {
            Some((_, user)) if auth.scope == Scope::Base => {
                let code = self.issue_web_code(&auth.appid, auth.scope, user, now_ms);
                Outcome::Redirect { location: auth.location(Some(&code)), remember: None }
            }
            _ => {
                let user = remembered.map(|(name, _)| name.to_owned()).unwrap_or_default();
                Outcome::Page { auth, user, problem: None }
            }
        }
    }

    /// A page's POST: the checks again, then the user's decision.
    pub fn authorize_decision(
        &mut self,
        page: Page,
        req: &AuthorizeRequest,
        decision: &Decision,
        now_ms: u64,
    ) -> Outcome {
        let auth = match self.check_authorization(page, req) {
            Ok(auth) => auth,
            Err(err) => return Outcome::Error(err),
        };
        let name = match decision {
            Decision::Deny => return Outcome::Redirect { location: auth.location(None), remember: None },
            Decision::Approve(name) => name,
        };
        match WebUser::parse(name) {
            Ok(user) => {
                let code = self.issue_web_code(&auth.appid, auth.scope, user, now_ms);
                Outcome::Redirect { location: auth.location(Some(&code)), remember: Some(name.clone()) }
            }
            Err(problem) => Outcome::Page { auth, user: name.clone(), problem: Some(problem) },
        }
    }
}

/// `&`, `<`, `>`, `"` and `'` as character references.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A URL as a `Location` header value: bytes outside printable ASCII
/// percent-encoded.
fn header_safe(location: &str) -> String {
    let mut safe = String::with_capacity(location.len());
    for b in location.bytes() {
        if (0x21..=0x7e).contains(&b) {
            safe.push(char::from(b));
        } else {
            safe.push_str(&format!("%{b:02X}"));
        }
    }
    safe
}

fn html_page(title: &str, body: &str) -> Response {
    let title = escape_html(title);
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    ))
    .into_response()
}

fn error_page(err: WxError) -> Response {
    let body = format!(
        "<p>Oops! Something went wrong:(</p>\n<p class=\"error\"><span class=\"errcode\">{}</span> \
         <span class=\"errmsg\">{}</span></p>\n",
        err.0,
        escape_html(err.errmsg())
    );
    html_page("mock WeChat: 错误", &body)
}

fn approval_page(auth: &Authorization, user: &str, problem: Option<&str>) -> Response {
    let hidden = [
        ("appid", auth.appid.as_str()),
        ("redirect_uri", auth.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", auth.scope.as_str()),
        ("state", auth.state.as_str()),
    ]
    .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape_html(value)))
    .concat();
    let problem = problem.map_or_else(String::new, |problem| {
        format!("<p class=\"problem\" role=\"alert\">{}</p>\n", escape_html(problem))
    });
    let body = format!(
        "<p>App <code>{appid}</code> asks for <code>{scope}</code>, then returns to <code>{redirect_uri}</code> \
         with state <code>{state}</code>.</p>\n{problem}\
         <form method=\"post\" action=\"{path}\">\n{hidden}\
         <p><label for=\"user\">Approve as</label> \
         <input type=\"text\" id=\"user\" name=\"user\" value=\"{user}\" autocomplete=\"off\" autofocus></p>\n\
         <p><button type=\"submit\" name=\"approve\" value=\"1\">Approve</button> \
         <button type=\"submit\" name=\"deny\" value=\"1\">Deny</button></p>\n</form>\n\
         <p>Users: <code>alice</code> (openid only), <code>alice.u</code> (with unionid), \
         <code>alice.snap</code> (snapshot user), <code>busy-alice</code> (the exchange answers -1 once), \
         <code>err-40029</code> (the exchange answers that error).</p>\n",
        appid = escape_html(&auth.appid),
        scope = auth.scope.as_str(),
        redirect_uri = escape_html(&auth.redirect_uri),
        state = escape_html(&auth.state),
        path = auth.page.path(),
        user = escape_html(user),
    );
    html_page(auth.page.title(), &body)
}

fn render(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Error(err) => error_page(err),
        Outcome::Page { auth, user, problem } => approval_page(&auth, &user, problem),
        Outcome::Redirect { location, remember } => {
            let mut headers = vec![(header::LOCATION, header_safe(&location))];
            if let Some(user) = remember {
                headers.push((header::SET_COOKIE, format!("{USER_COOKIE}={user}; Path=/; HttpOnly; SameSite=Lax")));
            }
            let mut response = StatusCode::FOUND.into_response();
            for (name, value) in headers {
                if let Ok(value) = value.parse() {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
    }
}

/// The value of the [`USER_COOKIE`] cookie, if the request carries one.
fn cookie_user(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == USER_COOKIE).then(|| value.trim_matches('"').to_owned())
        })
}

fn show(state: &AppState, page: Page, query: Option<String>, headers: &HeaderMap) -> Response {
    let req = AuthorizeRequest::from_params(query_params(query));
    let user = cookie_user(headers);
    let outcome = {
        let (mut mock, now) = state.lock();
        mock.authorize_page(page, &req, user.as_deref(), now)
    };
    render(outcome)
}

fn decide(state: &AppState, page: Page, query: Option<String>, body: &[u8]) -> Response {
    let mut params = query_params(Some(String::from_utf8_lossy(body).into_owned()));
    for (name, value) in query_params(query) {
        params.entry(name).or_insert(value);
    }
    let decision = if params.contains_key("deny") {
        Decision::Deny
    } else {
        Decision::Approve(params.get("user").cloned().unwrap_or_default())
    };
    let req = AuthorizeRequest::from_params(params);
    let outcome = {
        let (mut mock, now) = state.lock();
        mock.authorize_decision(page, &req, &decision, now)
    };
    render(outcome)
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    show(&state, Page::OfficialAccount, query, &headers)
}

pub(crate) async fn handle_post(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    decide(&state, Page::OfficialAccount, query, &body)
}

pub(crate) async fn handle_qrconnect(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    show(&state, Page::Website, query, &headers)
}

pub(crate) async fn handle_qrconnect_post(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    decide(&state, Page::Website, query, &body)
}

#[cfg(test)]
mod tests {
    use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
    use serde_json::json;

    use super::*;
    use crate::state::App;
    use crate::testing::{OA, T0, WEB, app, authorize_req, code_in, header_of, send, send_with, web_mock, wechat};

    fn person(base: &str, unionid: bool, snapshot: bool, busy: bool) -> WebUser {
        WebUser::Person { identity: WebIdentity { base: base.into(), unionid, snapshot }, busy }
    }

    #[test]
    fn user_names() {
        assert_eq!(WebUser::parse("alice"), Ok(person("alice", false, false, false)));
        assert_eq!(WebUser::parse("alice.u"), Ok(person("alice", true, false, false)));
        assert_eq!(WebUser::parse("alice~2.u"), Ok(person("alice", true, false, false)));
        assert_eq!(WebUser::parse("bob.snap"), Ok(person("bob", false, true, false)));
        assert_eq!(WebUser::parse("busy-carol.u"), Ok(person("carol", true, false, true)));
        assert_eq!(WebUser::parse("a_b-c.d"), Ok(person("a_b-c.d", false, false, false)));
        assert_eq!(WebUser::parse("err-40029"), Ok(WebUser::Error(WxError::INVALID_CODE)));
        assert_eq!(WebUser::parse("err--1"), Ok(WebUser::Error(WxError::SYSTEM_ERROR)));
        let long = "x".repeat(USER_MAX_LEN + 1);
        for bad in
            ["", "al ice", "<b>", "ali/ce", "é", "err-0", "err-x", "err-", ".u", "~2", "busy-", "busy-.snap", &long]
        {
            assert!(WebUser::parse(bad).is_err(), "{bad}");
        }
        assert!(WebUser::parse(&long[1..]).is_ok());

        let alice = WebIdentity { base: "alice".into(), unionid: true, snapshot: false };
        assert_eq!((alice.openid("wxa"), alice.unionid()), ("openid-alice-wxa".into(), Some("unionid-alice".into())));
        let snap = WebIdentity { base: "bob".into(), unionid: false, snapshot: true };
        assert_eq!((snap.openid("wxa"), snap.unionid()), ("openid-snap-bob-wxa".into(), None));
    }

    #[test]
    fn redirect_hosts() {
        for (uri, host) in [
            ("https://auth.example.com/cb", Some("auth.example.com")),
            ("HTTP://Auth.Example.COM:8443/cb?x=1#f", Some("auth.example.com")),
            ("http://127.0.0.1:9000", Some("127.0.0.1")),
            ("http://u:p@127.0.0.1/cb", Some("127.0.0.1")),
            ("http://evil.example\\@auth.example.com/", Some("evil.example")),
            ("http://auth.example.com?x=@evil.example", Some("auth.example.com")),
            ("ftp://auth.example.com/", None),
            ("auth.example.com/cb", None),
            ("http:///cb", None),
            ("http://auth.example.com:80x/", None),
            ("http://[::1]:80/", None),
        ] {
            assert_eq!(redirect_host(uri).as_deref(), host, "{uri}");
        }
    }

    #[test]
    fn locations() {
        let auth = |redirect_uri: &str, state: &str| Authorization {
            page: Page::OfficialAccount,
            appid: "wxa".into(),
            redirect_uri: redirect_uri.into(),
            scope: Scope::Base,
            state: state.into(),
        };
        assert_eq!(auth("https://a.example/cb", "s1").location(Some("C")), "https://a.example/cb?code=C&state=s1");
        assert_eq!(
            auth("https://a.example/cb?x=1", "s1").location(Some("C")),
            "https://a.example/cb?x=1&code=C&state=s1"
        );
        assert_eq!(auth("https://a.example/cb?", "").location(Some("C")), "https://a.example/cb?code=C");
        assert_eq!(
            auth("https://a.example/cb#top", "s").location(Some("C")),
            "https://a.example/cb?code=C&state=s#top"
        );
        assert_eq!(auth("https://a.example/cb", "s1").location(None), "https://a.example/cb?state=s1");
        assert_eq!(auth("https://a.example/cb", "").location(None), "https://a.example/cb");
        assert_eq!(header_safe("https://a.example/é b"), "https://a.example/%C3%A9%20b");
        assert_eq!(escape_html(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    /// Every check of both pages, in order, GET and POST alike.
    #[test]
    fn checks_in_order() {
        let mut m = web_mock();
        m.register_app("wxmini", "s");
        let oa = authorize_req(OA, "snsapi_userinfo");
        let web = authorize_req(WEB, "snsapi_login");
        let with = |base: &AuthorizeRequest, f: &dyn Fn(&mut AuthorizeRequest)| {
            let mut req = base.clone();
            f(&mut req);
            req
        };
        let long_state = "a".repeat(STATE_MAX_LEN + 1);
        let cases: Vec<(Page, AuthorizeRequest, WxError)> = vec![
            (Page::OfficialAccount, AuthorizeRequest::default(), WxError::PAGE_APPID_MISSING),
            (Page::OfficialAccount, with(&oa, &|r| r.appid = Some(String::new())), WxError::PAGE_APPID_MISSING),
            (Page::OfficialAccount, with(&oa, &|r| r.appid = Some("wxnone".into())), WxError::SCOPE_UNAUTHORIZED),
            (Page::OfficialAccount, with(&oa, &|r| r.appid = Some("wxmini".into())), WxError::SCOPE_UNAUTHORIZED),
            (Page::OfficialAccount, with(&oa, &|r| r.appid = Some(WEB.into())), WxError::OPEN_PLATFORM_APPID),
            (Page::Website, with(&web, &|r| r.appid = Some(OA.into())), WxError::SCOPE_UNAUTHORIZED),
            (Page::Website, with(&web, &|r| r.appid = Some("wxnone".into())), WxError::SCOPE_UNAUTHORIZED),
            (Page::OfficialAccount, with(&oa, &|r| r.redirect_uri = None), WxError::REDIRECT_URI_MISSING),
            (
                Page::OfficialAccount,
                with(&oa, &|r| r.redirect_uri = Some("https://evil.example/cb".into())),
                WxError::REDIRECT_URI_MISMATCH,
            ),
            (
                Page::OfficialAccount,
                with(&oa, &|r| r.redirect_uri = Some("https://sub.auth.example.com/cb".into())),
                WxError::REDIRECT_URI_MISMATCH,
            ),
            (
                Page::OfficialAccount,
                with(&oa, &|r| r.redirect_uri = Some("/cb".into())),
                WxError::REDIRECT_URI_MISMATCH,
            ),
            (
                Page::Website,
                with(&web, &|r| r.redirect_uri = Some("http://localhost:9000/cb".into())),
                WxError::REDIRECT_URI_MISMATCH,
            ),
            (Page::OfficialAccount, with(&oa, &|r| r.scope = None), WxError::SCOPE_MISSING),
            (Page::OfficialAccount, with(&oa, &|r| r.scope = Some("snsapi_login".into())), WxError::SCOPE_UNAUTHORIZED),
            (
                Page::OfficialAccount,
                with(&oa, &|r| r.scope = Some("snsapi_base,snsapi_userinfo".into())),
                WxError::SCOPE_UNAUTHORIZED,
            ),
            (Page::Website, with(&web, &|r| r.scope = Some("snsapi_userinfo".into())), WxError::SCOPE_UNAUTHORIZED),
            (Page::OfficialAccount, with(&oa, &|r| r.state = Some(long_state.clone())), WxError::STATE_INVALID),
            (Page::OfficialAccount, with(&oa, &|r| r.state = Some("a-b".into())), WxError::STATE_INVALID),
            (Page::Website, with(&web, &|r| r.state = Some("a b".into())), WxError::STATE_INVALID),
            (Page::OfficialAccount, with(&oa, &|r| r.response_type = None), WxError::RESPONSE_TYPE_INVALID),
            (Page::Website, with(&web, &|r| r.response_type = Some("token".into())), WxError::RESPONSE_TYPE_INVALID),
            // The order: a missing redirect_uri wins over a bad scope, a bad scope over a bad state.
            (
                Page::OfficialAccount,
                with(&oa, &|r| {
                    r.redirect_uri = None;
                    r.scope = Some("x".into());
                }),
                WxError::REDIRECT_URI_MISSING,
            ),
            (
                Page::OfficialAccount,
                with(&oa, &|r| {
                    r.scope = Some("x".into());
                    r.state = Some("!".into());
                }),
                WxError::SCOPE_UNAUTHORIZED,
            ),
        ];
        for (page, req, err) in cases {
            assert_eq!(m.authorize_page(page, &req, None, T0), Outcome::Error(err), "{req:?}");
            let decision = Decision::Approve("alice".into());
            assert_eq!(m.authorize_decision(page, &req, &decision, T0), Outcome::Error(err), "POST {req:?}");
            assert_eq!(m.authorize_decision(page, &req, &Decision::Deny, T0), Outcome::Error(err), "deny {req:?}");
        }

        // Any port, any case; empty state and exactly 128 characters are fine.
        for req in [
            with(&oa, &|r| r.redirect_uri = Some("https://AUTH.example.com:8443/x?y=1".into())),
            with(&oa, &|r| r.state = None),
            with(&oa, &|r| r.state = Some(long_state[1..].into())),
            with(&oa, &|r| r.scope = Some("snsapi_base".into())),
        ] {
            assert!(m.check_authorization(Page::OfficialAccount, &req).is_ok(), "{req:?}");
        }
        // A web app without a domain takes any host.
        m.add_app("wxany", App { secret: "s".into(), kind: Some(AppKind::Website), domain: None, pages: None });
        let any = with(&web, &|r| {
            r.appid = Some("wxany".into());
            r.redirect_uri = Some("https://anywhere.example/cb".into());
        });
        assert!(m.check_authorization(Page::Website, &any).is_ok());
        assert!(m.calls(OA).web_authorize > 0 && m.calls("wxnone").web_authorize > 0);
    }

    #[test]
    fn approve_deny_and_cookie_rules() {
        let mut m = web_mock();
        let base = authorize_req(OA, "snsapi_base");
        let userinfo = authorize_req(OA, "snsapi_userinfo");
        let login = authorize_req(WEB, "snsapi_login");

        // Without a cookie every scope shows the page.
        for (page, req) in [(Page::OfficialAccount, &base), (Page::OfficialAccount, &userinfo), (Page::Website, &login)]
        {
            assert!(matches!(m.authorize_page(page, req, None, T0), Outcome::Page { problem: None, .. }));
        }
        // With a cookie, snsapi_base approves at once; the others show the page, the user filled in.
        let Outcome::Redirect { location, remember: None } =
            m.authorize_page(Page::OfficialAccount, &base, Some("alice.u"), T0)
        else {
            panic!("snsapi_base with a cookie is silent")
        };
        assert!(location.starts_with("https://auth.example.com/cb?code=") && location.ends_with("&state=st8"));
        assert!(code_in(&location).is_some_and(|code| code.len() == 32));
        for (page, req) in [(Page::OfficialAccount, &userinfo), (Page::Website, &login)] {
            let outcome = m.authorize_page(page, req, Some("alice.u"), T0);
            assert!(
                matches!(outcome, Outcome::Page { ref user, problem: None, .. } if user == "alice.u"),
                "{outcome:?}"
            );
        }
        // An invalid cookie is ignored.
        let outcome = m.authorize_page(Page::OfficialAccount, &base, Some("<x>"), T0);
        assert!(matches!(outcome, Outcome::Page { ref user, .. } if user.is_empty()), "{outcome:?}");

        // Approving redirects with a fresh code and remembers the user.
        let approve = Decision::Approve("bob".into());
        let Outcome::Redirect { location: first, remember } = m.authorize_decision(Page::Website, &login, &approve, T0)
        else {
            panic!("approved")
        };
        assert_eq!(remember.as_deref(), Some("bob"));
        let Outcome::Redirect { location: second, .. } = m.authorize_decision(Page::Website, &login, &approve, T0)
        else {
            panic!("approved")
        };
        assert_ne!(code_in(&first), code_in(&second));

        // Refusing: state only.
        assert_eq!(
            m.authorize_decision(Page::Website, &login, &Decision::Deny, T0),
            Outcome::Redirect { location: "http://127.0.0.1:9000/cb?state=st8".into(), remember: None }
        );
        // A bad user: the page again, with the problem.
        let outcome = m.authorize_decision(Page::Website, &login, &Decision::Approve("a b".into()), T0);
        assert!(matches!(outcome, Outcome::Page { ref user, problem: Some(_), .. } if user == "a b"), "{outcome:?}");
        let outcome = m.authorize_decision(Page::Website, &login, &Decision::Approve(String::new()), T0);
        assert!(matches!(outcome, Outcome::Page { problem: Some(_), .. }), "{outcome:?}");
    }

    async fn register(app: &axum::Router, body: &str) {
        let (status, _, answer) = send(app, "POST", "/mock/apps", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    /// The Official Account page over HTTP: page, approval, 302 with code
    /// and cookie, exchange, userinfo; then the silent `snsapi_base` path.
    #[tokio::test]
    async fn official_account_flow() {
        let (app, _) = app();
        register(&app, r#"{"appid": "wxoa1", "secret": "sec", "kind": "official-account", "domain": "127.0.0.1"}"#)
            .await;
        let redirect = "http%3A%2F%2F127.0.0.1%3A4000%2Fwechat%2Fcallback%3Fclient%3Dweb";
        let query = format!("appid=wxoa1&redirect_uri={redirect}&response_type=code&scope=snsapi_userinfo&state=xyz");

        let (status, headers, page) = send_with(&app, "GET", &format!("{PATH}?{query}"), &[], "").await;
        assert_eq!(
            (status, header_of(&headers, header::CONTENT_TYPE).as_str()),
            (StatusCode::OK, "text/html; charset=utf-8")
        );
        for part in [
            r#"<form method="post" action="/connect/oauth2/authorize">"#,
            r#"<input type="hidden" name="appid" value="wxoa1">"#,
            r#"<input type="hidden" name="redirect_uri" value="http://127.0.0.1:4000/wechat/callback?client=web">"#,
            r#"<input type="hidden" name="response_type" value="code">"#,
            r#"<input type="hidden" name="scope" value="snsapi_userinfo">"#,
            r#"<input type="hidden" name="state" value="xyz">"#,
            r#"name="user" value="""#,
            r#"<button type="submit" name="approve""#,
            r#"<button type="submit" name="deny""#,
        ] {
            assert!(page.contains(part), "{part} in {page}");
        }

        // The form, as a browser posts it.
        let form = format!("{query}&user=alice.u&approve=1");
        let (status, headers, _) = send_with(&app, "POST", PATH, &[], &form).await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(header_of(&headers, SET_COOKIE), "mock_wechat_user=alice.u; Path=/; HttpOnly; SameSite=Lax");
        let location = header_of(&headers, LOCATION);
        assert!(location.starts_with("http://127.0.0.1:4000/wechat/callback?client=web&code="), "{location}");
        assert!(location.ends_with("&state=xyz"), "{location}");
        let code = code_in(&location).unwrap_or_default();

        let exchange =
            format!("/sns/oauth2/access_token?appid=wxoa1&secret=sec&code={code}&grant_type=authorization_code");
        let token = wechat(&app, "GET", &exchange, "").await;
        let access_token = token["access_token"].as_str().unwrap_or_default().to_owned();
        assert!(access_token.len() > 32);
        assert_eq!(
            token,
            json!({
                "access_token": access_token, "expires_in": 7200, "refresh_token": token["refresh_token"],
                "openid": "openid-alice-wxoa1", "scope": "snsapi_userinfo", "unionid": "unionid-alice"
            })
        );
        assert!(token["refresh_token"].is_string());
        crate::testing::assert_error(&wechat(&app, "GET", &exchange, "").await, 40163, "code been used");

        let info = wechat(
            &app,
            "GET",
            &format!("/sns/userinfo?access_token={access_token}&openid=openid-alice-wxoa1&lang=zh_CN"),
            "",
        )
        .await;
        assert_eq!(
            info,
            json!({
                "openid": "openid-alice-wxoa1", "nickname": "alice", "sex": 0, "province": "", "city": "",
                "country": "", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/mock/alice/132", "privilege": [],
                "unionid": "unionid-alice"
            })
        );

        // snsapi_base with the cookie: straight back, no page, no unionid.
        let base = query.replace("snsapi_userinfo", "snsapi_base");
        let cookie = [(COOKIE, "other=1; mock_wechat_user=alice.u")];
        let (status, headers, _) = send_with(&app, "GET", &format!("{PATH}?{base}"), &cookie, "").await;
        assert_eq!(status, StatusCode::FOUND);
        assert_eq!(header_of(&headers, SET_COOKIE), "");
        let code = code_in(&header_of(&headers, LOCATION)).unwrap_or_default();
        let exchange =
            format!("/sns/oauth2/access_token?appid=wxoa1&secret=sec&code={code}&grant_type=authorization_code");
        let token = wechat(&app, "GET", &exchange, "").await;
        assert_eq!(
            (token["openid"].as_str(), token["scope"].as_str()),
            (Some("openid-alice-wxoa1"), Some("snsapi_base"))
        );
        assert!(token.get("unionid").is_none(), "{token}");
        // snsapi_userinfo with the cookie: the page, the user filled in.
        let (status, _, page) = send_with(&app, "GET", &format!("{PATH}?{query}"), &cookie, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"name="user" value="alice.u""#), "{page}");

        let (_, _, calls) = send(&app, "GET", "/mock/calls?appid=wxoa1", "").await;
        assert_eq!(
            crate::testing::parse(&calls),
            json!({
                "jscode2session": 0, "stable_token": 0, "getuserphonenumber": 0, "checksession": 0,
                "web_authorize": 4, "sns_oauth2_access_token": 3, "sns_oauth2_refresh_token": 0,
                "sns_userinfo": 1, "sns_auth": 0, "getwxacodeunlimit": 0
            })
        );
    }

    /// The website page over HTTP: no state, deny, a bad user, then approval.
    #[tokio::test]
    async fn website_flow() {
        let (app, _) = app();
        register(&app, r#"{"appid": "wxweb1", "secret": "sec", "kind": "website", "domain": "auth.example.com"}"#)
            .await;
        let query =
            "appid=wxweb1&redirect_uri=https%3A%2F%2Fauth.example.com%2Fcb&response_type=code&scope=snsapi_login";
        let (status, _, page) = send(&app, "GET", &format!("{QRCONNECT_PATH}?{query}"), "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"<form method="post" action="/connect/qrconnect">"#), "{page}");
        assert!(page.contains(r#"<input type="hidden" name="state" value="">"#), "{page}");

        let (status, headers, _) =
            send_with(&app, "POST", QRCONNECT_PATH, &[], &format!("{query}&state=s1&user=&deny=1")).await;
        assert_eq!(
            (status, header_of(&headers, LOCATION).as_str()),
            (StatusCode::FOUND, "https://auth.example.com/cb?state=s1")
        );
        assert_eq!(header_of(&headers, SET_COOKIE), "");

        let (status, headers, page) =
            send_with(&app, "POST", QRCONNECT_PATH, &[], &format!("{query}&user=bad%20name")).await;
        assert_eq!(
            (status, header_of(&headers, header::CONTENT_TYPE).as_str()),
            (StatusCode::OK, "text/html; charset=utf-8")
        );
        assert!(page.contains(r#"role="alert""#) && page.contains(r#"value="bad name""#), "{page}");

        // Fields missing from the form come from the query string.
        let (status, headers, _) =
            send_with(&app, "POST", &format!("{QRCONNECT_PATH}?{query}"), &[], "user=dana.u").await;
        assert_eq!(status, StatusCode::FOUND);
        let location = header_of(&headers, LOCATION);
        assert!(
            location.starts_with("https://auth.example.com/cb?code=") && !location.contains("state="),
            "{location}"
        );
        let code = code_in(&location).unwrap_or_default();
        let exchange =
            format!("/sns/oauth2/access_token?appid=wxweb1&secret=sec&code={code}&grant_type=authorization_code");
        let token = wechat(&app, "GET", &exchange, "").await;
        assert_eq!(
            (token["openid"].as_str(), token["scope"].as_str(), token["unionid"].as_str()),
            (Some("openid-dana-wxweb1"), Some("snsapi_login"), Some("unionid-dana"))
        );
        let info = format!(
            "/sns/userinfo?access_token={}&openid=openid-dana-wxweb1",
            token["access_token"].as_str().unwrap_or_default()
        );
        assert_eq!(wechat(&app, "GET", &info, "").await["nickname"], "dana");

        // The pages' errors.
        let mismatch = query.replace("auth.example.com", "evil.example");
        let (status, headers, page) = send(&app, "GET", &format!("{QRCONNECT_PATH}?{mismatch}"), "").await;
        assert_eq!((status, headers.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
        assert!(page.contains("10003") && page.contains("redirect_uri 参数错误"), "{page}");
        let (_, _, page) = send(&app, "GET", QRCONNECT_PATH, "").await;
        assert!(page.contains("10012") && page.contains("appid不能为空"), "{page}");
        let (_, _, page) =
            send(&app, "POST", &format!("{QRCONNECT_PATH}?{}", query.replace("snsapi_login", "snsapi_base")), "user=x")
                .await;
        assert!(page.contains("10005") && page.contains("Scope 参数错误或没有 Scope 权限"), "{page}");
    }

    /// Everything a page echoes is escaped.
    #[tokio::test]
    async fn pages_escape_what_they_echo() {
        let (app, _) = app();
        register(&app, r#"{"appid": "wx<i>\"'&", "secret": "s", "kind": "official-account"}"#).await;
        let appid = "wx%3Ci%3E%22%27%26";
        let redirect = "http%3A%2F%2F127.0.0.1%2Fcb%3Fa%3D%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%26b%3D%27";
        let query = format!("appid={appid}&redirect_uri={redirect}&response_type=code&scope=snsapi_userinfo&state=s");
        let (status, _, page) = send(&app, "GET", &format!("{PATH}?{query}"), "").await;
        assert_eq!(status, StatusCode::OK);
        let (_, _, again) = send(&app, "POST", PATH, &format!("{query}&user=%3Cimg%20src%3Dx%3E%22")).await;
        for page in [&page, &again] {
            assert!(!page.contains("<script>") && !page.contains("<i>") && !page.contains("<img"), "{page}");
            assert!(page.contains(r#"value="wx&lt;i&gt;&quot;&#39;&amp;""#), "{page}");
            assert!(page.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;b=&#39;"), "{page}");
        }
        assert!(again.contains(r#"name="user" value="&lt;img src=x&gt;&quot;""#), "{again}");
    }
}
