//! `POST /wechat/scan`: the mini program's side of signing in on a computer by scanning its code.
//! The code opened the mini program's `SCAN_LOGIN_PAGE` with the ticket as `scene`; the page
//! reports `scanned` (the ticket binds to this user, the answer names the client, the scopes and
//! the browser that asks, for the confirmation), then `approve` or `deny`. Only access tokens of
//! the deployment's scan mini program (`SCAN_LOGIN_CLIENT`) count. The rules:
//! [`wxauth::oauth::scan`].

use serde::Deserialize;
use wxauth::App;
use wxauth::error::{Error, OAuthError};
use wxauth::http::{self, Request, Response};
use wxauth::oauth::bearer;
use wxauth::oauth::scan::{self, ScanAction};

#[derive(Deserialize)]
struct ScanRequest {
    scene: String,
    action: String,
}

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(answer(app, &req).await)
}

async fn answer(app: &App, req: &Request) -> Result<Response, Error> {
    // The method first, as on every route; then authenticate before reading the body: an
    // anonymous caller learns nothing about it.
    if req.method() != http::Method::POST {
        return Err(http::method_not_allowed("POST").into());
    }
    let now = wxauth::clock::unix_now();
    let claims = bearer::authenticate(app, http::bearer_token(req.headers()), now).await?;
    let body: ScanRequest = http::json(req)?;
    let Some(action) = ScanAction::parse(&body.action) else {
        return Err(OAuthError::invalid_request("action must be scanned, approve or deny").into());
    };
    let reply = scan::answer(app, &claims, &body.scene, action, http::source_ip(req), now).await?;
    Ok(http::no_store(http::json_response(200, &reply)))
}
