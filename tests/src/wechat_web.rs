//! Sign in with WeChat on the web, as a browser does it: our pages in-process, the mock WeChat's
//! authorization pages over HTTP, each side with its own cookie jar, redirects followed until
//! the browser lands at the client (or stops at a page).

use std::collections::HashMap;

use lambda_http::Body;
use wxauth::domain::wechat_web::WebAppKind;
use wxauth_provision::NewWebApp;

use crate::sign_in::REDIRECT_URI;
use crate::{ISSUER, Server, TestEnv, raw_request};

/// WeChat's browser on a phone (an iPhone's WeChat 8).
pub const IN_WECHAT: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
/// A desktop Chrome.
pub const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
/// Safari on an iPhone, outside WeChat.
pub const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";

/// A WeChat web app registered both at wxauth and at the mock WeChat.
#[derive(Debug, Clone)]
pub struct WebApp {
    pub appid: String,
}

impl TestEnv {
    /// Registers a WeChat web app of `kind` with a fresh appid, its callback domain the issuer's
    /// host, at the mock WeChat and at wxauth.
    pub async fn wechat_web_app(&self, kind: WebAppKind) -> WebApp {
        let appid = format!("wxweb{}", wxauth::secret::random_id().replace(['-', '_'], "0"));
        let secret = format!("secret-{appid}");
        let domain = wxauth_provision::issuer_host(ISSUER).to_string();
        self.mock_post(
            "/mock/apps",
            serde_json::json!({"appid": appid, "secret": secret, "kind": kind.as_str(), "domain": domain}),
        )
        .await;
        let new =
            NewWebApp { kind, appid: appid.clone(), secret, domain, issuer: Some(ISSUER.into()), verify_file: None };
        let data_key = wxauth::keys::data_key::DataKey::new(self.kms.clone(), self.app.config.kms_data_key_id.clone());
        wxauth_provision::create_wechat_web_app(&self.app.store, &data_key, new, wxauth::clock::unix_now())
            .await
            .expect("web app");
        WebApp { appid }
    }
}

/// Where the browser stopped.
#[derive(Debug)]
pub enum Landed {
    /// At the client's redirect URI: the query's parameters.
    Client(HashMap<String, String>),
    /// At one of our pages (the consent page, an error page): status and HTML.
    Page(u16, String),
    /// At the mock WeChat's authorization page for `user` (asked for, not yet approved), or one
    /// of its error pages.
    Wechat(u16, String),
    /// At our callback, not called ([`WechatBrowser::stop_at_callback`]): its path and query.
    Callback(String),
}

impl Landed {
    /// The client's parameters; panics elsewhere.
    pub fn client(self) -> HashMap<String, String> {
        match self {
            Landed::Client(params) => params,
            other => panic!("expected to land at the client: {other:?}"),
        }
    }

    /// Our page's status and HTML; panics elsewhere.
    pub fn page(self) -> (u16, String) {
        match self {
            Landed::Page(status, html) => (status, html),
            other => panic!("expected one of our pages: {other:?}"),
        }
    }
}

/// The `href` of the page's WeChat link (`<a class="wechat" href="…">`), HTML-unescaped.
pub fn wechat_link(html: &str) -> String {
    let marker = "<a class=\"wechat\" href=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no WeChat link:\n{html}")) + marker.len();
    let end = html[start..].find('"').expect("the href ends") + start;
    html[start..end].replace("&#38;", "&").replace("&amp;", "&")
}

/// The address API Gateway sees a test browser's requests come from (TEST-NET-1).
pub const BROWSER_IP: &str = "192.0.2.10";

/// A browser: its User-Agent, its address, our cookies and the mock WeChat's.
pub struct WechatBrowser<'a> {
    server: &'a Server,
    mock_wechat: String,
    user_agent: &'a str,
    /// API Gateway's `sourceIp` of its requests to us ([`BROWSER_IP`] unless set).
    pub source_ip: String,
    pub cookies: HashMap<String, String>,
    pub wechat_cookies: HashMap<String, String>,
    http: reqwest::Client,
    /// The callback URLs WeChat sent the browser to, in order (to replay one).
    pub callbacks: Vec<String>,
    /// Stop when WeChat sends the browser to our callback (to call it some other way).
    pub stop_at_callback: bool,
}

impl<'a> WechatBrowser<'a> {
    pub fn new(env: &'a TestEnv, user_agent: &'a str) -> Self {
        Self::on(env, &env.mock_wechat, user_agent)
    }

    /// A browser of `server` (e.g. one behind the fault proxy) and the mock WeChat at `mock_wechat`.
    pub fn on(server: &'a Server, mock_wechat: &str, user_agent: &'a str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        WechatBrowser {
            server,
            mock_wechat: mock_wechat.to_string(),
            user_agent,
            source_ip: BROWSER_IP.to_string(),
            cookies: HashMap::new(),
            wechat_cookies: HashMap::new(),
            http,
            callbacks: vec![],
            stop_at_callback: false,
        }
    }

    /// The server this browser talks to.
    pub fn server(&self) -> &'a Server {
        self.server
    }

    /// Opens the authorization request `query` and follows it, approving at WeChat as `user`
    /// whenever WeChat shows its page.
    pub async fn sign_in(&mut self, query: &[(&str, &str)], user: &str) -> Landed {
        let path = format!("/oauth/authorize?{}", serde_urlencoded::to_string(query).expect("query"));
        self.open(&path, user).await
    }

    /// Opens our `path` and follows what comes, approving at WeChat as `user`.
    pub async fn open(&mut self, path: &str, user: &str) -> Landed {
        self.go(&format!("{ISSUER}{path}"), user).await
    }

    /// Goes to `url` (ours or the mock WeChat's) and follows what comes, approving at WeChat as
    /// `user`; stops before our callback when `stop_at_callback`.
    pub async fn go(&mut self, url: &str, user: &str) -> Landed {
        let mut next = url.to_string();
        for _ in 0..10 {
            let (status, location, html) = if let Some(path) = next.strip_prefix(ISSUER) {
                if path.starts_with("/oauth/wechat/callback") {
                    self.callbacks.push(path.to_string());
                    if self.stop_at_callback {
                        return Landed::Callback(path.to_string());
                    }
                }
                self.ours(path).await
            } else if next.starts_with(&self.mock_wechat) {
                self.wechat(&next, user).await
            } else if let Some(query) = next.strip_prefix(&format!("{REDIRECT_URI}?")) {
                return Landed::Client(serde_urlencoded::from_str(query).expect("params"));
            } else {
                panic!("the browser was sent somewhere unexpected: {next}");
            };
            match location {
                Some(location) => next = location,
                None if next.starts_with(ISSUER) => return Landed::Page(status, html),
                None => return Landed::Wechat(status, html),
            }
        }
        panic!("too many redirects");
    }

    /// `GET` of our `path` with this browser's cookies; keeps what it sets.
    pub async fn ours(&mut self, path: &str) -> (u16, Option<String>, String) {
        let mut req = wxauth::http::with_source_ip(raw_request("GET", path, None, Body::Empty), &self.source_ip);
        req.headers_mut().insert("user-agent", self.user_agent.parse().expect("ua"));
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req.headers_mut().insert("cookie", cookie.parse().expect("cookie"));
        }
        let res = self.server.dispatch(req).await;
        for set in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            keep_cookie(&mut self.cookies, set);
        }
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        (res.status().as_u16(), location, String::from_utf8_lossy(res.body().as_ref()).into_owned())
    }

    /// The mock WeChat at `url` (its `#wechat_redirect` dropped, as browsers do): its page is
    /// approved as `user`.
    async fn wechat(&mut self, url: &str, user: &str) -> (u16, Option<String>, String) {
        let url = url.split('#').next().expect("url");
        let (status, location, html) = self.wechat_request(self.http.get(url)).await;
        if status != 200 || !html.contains("name=\"user\"") {
            return (status, location, html);
        }
        let request = self.http.post(url).form(&[("user", user), ("approve", "1")]);
        self.wechat_request(request).await
    }

    async fn wechat_request(&mut self, request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
        let cookie = self.wechat_cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let request = request.header("user-agent", self.user_agent);
        let request = if cookie.is_empty() { request } else { request.header("cookie", cookie) };
        let res = request.send().await.expect("mock WeChat");
        for set in res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            keep_cookie(&mut self.wechat_cookies, set);
        }
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
        (res.status().as_u16(), location, res.text().await.expect("body"))
    }
}

/// What [`WechatBrowser::ours`] answered, as a page: its status and HTML (a redirect is a bug).
pub trait IntoPage {
    fn into_page(self) -> (u16, String);
}

impl IntoPage for (u16, Option<String>, String) {
    fn into_page(self) -> (u16, String) {
        assert!(self.1.is_none(), "expected a page, got a redirect to {:?}", self.1);
        (self.0, self.2)
    }
}

/// Keeps (or, `Max-Age=0`, drops) the cookie a `Set-Cookie` value sets.
pub(crate) fn keep_cookie(jar: &mut HashMap<String, String>, set_cookie: &str) {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    let Some((name, value)) = pair.split_once('=') else { return };
    if set_cookie.contains("Max-Age=0") || value.is_empty() {
        jar.remove(name.trim());
    } else {
        jar.insert(name.trim().to_string(), value.to_string());
    }
}
