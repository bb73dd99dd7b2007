//! The route table of wxauth ([`ROUTES`]: path, methods, the function that serves it) and the
//! local server's dispatch over it: axum request in, `lambda_http` request to the function's
//! handler, response back out. The integration tests dispatch through the same table and check
//! it against `template.yaml`, so a route is written here once.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use wxauth::App;

/// One route: a path, the methods `template.yaml` routes to it, and what serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    /// The methods API Gateway routes to the function. The local server hands every method to
    /// the handler, which answers the others with 405 itself.
    pub methods: &'static [&'static str],
    pub serves: Serves,
}

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// A function of `template.yaml`.
    Function(Function),
    /// A page of the local server only, in no template: where `demo-web` lands after sign-in
    /// or logout.
    DemoCallback,
    /// `demo-web`'s back-channel logout endpoint ([`crate::demo_rp`]), local only.
    DemoBackchannelLogout,
}

/// The functions of `template.yaml`, one package and Lambda binary each under `functions/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Token,
    Authorize,
    EndSession,
    Revoke,
    Introspect,
    Jwks,
    Metadata,
    Userinfo,
    WechatDecrypt,
    WechatPhone,
    WechatSession,
    WechatScan,
    DeviceAuthorization,
}

impl Function {
    /// Its package and binary name (template.yaml's `BuildProperties.Binary`).
    pub const fn name(self) -> &'static str {
        match self {
            Function::Token => "token",
            Function::Authorize => "authorize",
            Function::EndSession => "end-session",
            Function::Revoke => "revoke",
            Function::Introspect => "introspect",
            Function::Jwks => "jwks",
            Function::Metadata => "metadata",
            Function::Userinfo => "userinfo",
            Function::WechatDecrypt => "wechat-decrypt",
            Function::WechatPhone => "wechat-phone",
            Function::WechatSession => "wechat-session",
            Function::WechatScan => "wechat-scan",
            Function::DeviceAuthorization => "device-authorization",
        }
    }

    /// Its handler, called as its Lambda binary calls it.
    pub async fn handle(self, app: &App, req: lambda_http::Request) -> wxauth::http::Response {
        match self {
            Function::Token => token::handle(app, req).await,
            Function::Authorize => authorize::handle(app, req).await,
            Function::EndSession => end_session::handle(app, req).await,
            Function::Revoke => revoke::handle(app, req).await,
            Function::Introspect => introspect::handle(app, req).await,
            Function::Jwks => jwks::handle(app, req).await,
            Function::Metadata => metadata::handle(app, req).await,
            Function::Userinfo => userinfo::handle(app, req).await,
            Function::WechatDecrypt => wechat_decrypt::handle(app, req).await,
            Function::WechatPhone => wechat_phone::handle(app, req).await,
            Function::WechatSession => wechat_session::handle(app, req).await,
            Function::WechatScan => wechat_scan::handle(app, req).await,
            Function::DeviceAuthorization => device_authorization::handle(app, req).await,
        }
    }
}

const fn function(path: &'static str, methods: &'static [&'static str], function: Function) -> Route {
    Route { path, methods, serves: Serves::Function(function) }
}

/// Every route, `template.yaml`'s and the local server's own.
pub const ROUTES: &[Route] = &[
    function("/oauth/token", &["POST"], Function::Token),
    function("/oauth/authorize", &["GET", "POST"], Function::Authorize),
    function("/oauth/wechat/callback", &["GET"], Function::Authorize),
    // A scan sign-in ticket: its status (polled), its code image, and the browser's continue.
    function("/oauth/scan/{ticket}", &["GET"], Function::Authorize),
    function("/oauth/scan/{ticket}/image", &["GET"], Function::Authorize),
    function("/oauth/scan/{ticket}/continue", &["GET"], Function::Authorize),
    // WeChat's domain-verification file (MP_verify_*.txt) at the root; API Gateway prefers
    // every more specific route.
    function("/{file}", &["GET"], Function::Authorize),
    // The device verification page (RFC 8628): the user enters the code a TV or CLI shows.
    function("/device", &["GET", "POST"], Function::Authorize),
    function("/oauth/end_session", &["GET", "POST"], Function::EndSession),
    function("/oauth/revoke", &["POST"], Function::Revoke),
    function("/oauth/device_authorization", &["POST"], Function::DeviceAuthorization),
    function("/oauth/introspect", &["POST"], Function::Introspect),
    function("/.well-known/jwks.json", &["GET"], Function::Jwks),
    function(metadata::OAUTH_PATH, &["GET"], Function::Metadata),
    function(metadata::OPENID_PATH, &["GET"], Function::Metadata),
    function("/userinfo", &["GET", "POST"], Function::Userinfo),
    function("/wechat/decrypt", &["POST"], Function::WechatDecrypt),
    function("/wechat/phone", &["POST"], Function::WechatPhone),
    function("/wechat/session", &["GET"], Function::WechatSession),
    function("/wechat/scan", &["POST"], Function::WechatScan),
    Route { path: "/demo/callback", methods: &["GET"], serves: Serves::DemoCallback },
    Route { path: "/demo/logged-out", methods: &["GET"], serves: Serves::DemoCallback },
    Route { path: "/demo/backchannel-logout", methods: &["GET", "POST"], serves: Serves::DemoBackchannelLogout },
];

/// The route of `path` (no query), if any: its own, else one whose `{parameter}` segment takes
/// it (as API Gateway prefers the most specific route).
pub fn route(path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.path == path).or_else(|| ROUTES.iter().find(|r| takes(r.path, path)))
}

/// Whether route path `pattern` (segments like `{file}` take any one segment) matches `path`.
fn takes(pattern: &str, path: &str) -> bool {
    let (mut pattern, mut path) = (pattern.split('/'), path.split('/'));
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') && !s.is_empty() => {}
            (Some(p), Some(s)) if p == s => {}
            _ => return false,
        }
    }
}

/// Requests above this are refused before a handler sees them (handlers refuse far smaller).
const MAX_BODY: usize = 1024 * 1024;

/// The local server's router: every request, whatever its path, to [`dispatch`].
pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(app)
}

/// Answers a request by its route; a path with none is a JSON 404.
async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        // As the route itself answers a body over its own limit (API.md: 413).
        let (parts, body) = crate::front::route_error(&path, 413, "the request body is too large").into_parts();
        return Response::from_parts(parts, Body::from(body.as_ref().to_vec()));
    };
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip().to_string());
    let mut req = lambda_http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()));
    if let Some(peer) = peer {
        req = wxauth::http::with_source_ip(req, &peer); // as API Gateway passes it on
    }
    let res = match route(&path).map(|r| r.serves) {
        Some(Serves::Function(function)) => function.handle(&app, req).await,
        Some(Serves::DemoCallback) => return demo_callback(req.uri().query().unwrap_or_default()),
        Some(Serves::DemoBackchannelLogout) => return crate::demo_rp::serve(&app, req.method(), req.body()).await,
        None => return not_found(),
    };
    let (parts, body) = res.into_parts();
    Response::from_parts(parts, Body::from(body.as_ref().to_vec()))
}

fn not_found() -> Response {
    let body = r#"{"error":"not_found","error_description":"no such route"}"#;
    (StatusCode::NOT_FOUND, [(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Where `demo-web` lands after the sign-in page: shows what came back, so a person (or the
/// browser test) can read the code and redeem it. Local only: no function serves this.
#[derive(Template)]
#[template(path = "demo_callback.html")]
struct DemoCallback {
    /// The query's parameters, in order; each value in `<td id="<name>">`.
    params: Vec<(String, String)>,
}

fn demo_callback(query: &str) -> Response {
    let page = DemoCallback { params: serde_urlencoded::from_str(query).unwrap_or_default() };
    match page.render() {
        Ok(html) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/html; charset=utf-8"), (http::header::CACHE_CONTROL, "no-store")],
            html,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_is_routed_once() {
        for (i, route) in ROUTES.iter().enumerate() {
            assert!(route.path.starts_with('/') && !route.path.contains('?'), "{route:?}");
            assert!(!route.methods.is_empty(), "{route:?}");
            assert!(ROUTES[i + 1..].iter().all(|r| r.path != route.path), "{} twice", route.path);
        }
    }

    #[test]
    fn a_path_finds_its_route_and_nothing_else_does() {
        assert_eq!(route(metadata::OPENID_PATH).map(|r| r.serves), Some(Serves::Function(Function::Metadata)));
        assert_eq!(route("/demo/callback").map(|r| r.serves), Some(Serves::DemoCallback));
        assert_eq!(route("/oauth/token/"), None);
        assert_eq!(route("/nowhere/else"), None);
        let file = Some(Serves::Function(Function::Authorize));
        assert_eq!(route("/MP_verify_abc.txt").map(|r| r.serves), file);
        assert_eq!(route("/oauth/wechat/callback").map(|r| r.path), Some("/oauth/wechat/callback"));
        assert_eq!(route("/userinfo").map(|r| r.serves), Some(Serves::Function(Function::Userinfo)));
        assert_eq!(route("/device").map(|r| r.path), Some("/device"), "not taken for a file");
    }
}
