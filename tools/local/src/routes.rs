//! HTTP to the functions' handlers: axum request in, `lambda_http` request to the handler,
//! response back out. The route table mirrors `template.yaml`.

use std::sync::Arc;

use authorize::page::escape;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use wxauth::App;

/// Requests above this are refused before a handler sees them (handlers refuse far smaller).
const MAX_BODY: usize = 1024 * 1024;

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(app)
}

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        // As the route itself answers a body over its own limit (API.md: 413).
        let (parts, body) = crate::front::route_error(&path, 413, "the request body is too large").into_parts();
        return Response::from_parts(parts, Body::from(body.as_ref().to_vec()));
    };
    let req = lambda_http::Request::from_parts(parts, lambda_http::Body::from(bytes.to_vec()));
    let res = match path.as_str() {
        "/oauth/token" => token::handle(&app, req).await,
        "/.well-known/jwks.json" => jwks::handle(&app, req).await,
        metadata::OAUTH_PATH | metadata::OPENID_PATH => metadata::handle(&app, req).await,
        "/userinfo" => userinfo::handle(&app, req).await,
        "/oauth/authorize" => authorize::handle(&app, req).await,
        "/oauth/revoke" => revoke::handle(&app, req).await,
        "/oauth/introspect" => introspect::handle(&app, req).await,
        "/wechat/decrypt" => wechat_decrypt::handle(&app, req).await,
        "/wechat/phone" => wechat_phone::handle(&app, req).await,
        "/wechat/session" => wechat_session::handle(&app, req).await,
        "/demo/callback" => return demo_callback(req.uri().query().unwrap_or_default()),
        _ => return not_found(),
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
fn demo_callback(query: &str) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let rows: String = params
        .iter()
        .map(|(k, v)| format!("<tr><th>{}</th><td id=\"{}\">{}</td></tr>", escape(k), escape(k), escape(v)))
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>demo-web callback</title></head>\
         <body><h1>demo-web received</h1><table>{rows}</table></body></html>"
    );
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, "text/html; charset=utf-8"), (http::header::CACHE_CONTROL, "no-store")],
        html,
    )
        .into_response()
}
