//! `GET /wechat/session`: whether the caller's stored session key is still the one WeChat holds
//! (`wxa/checksession`). A mini program asks before sending encrypted data, and calls
//! `wx.login()` first when the answer is no, instead of finding out from a failed decryption.

use serde_json::json;
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::Error;
use wxauth::wechat::api::WechatError;
use wxauth::wechat::caller;
use wxauth::wechat::crypto::checksession_signature;
use wxauth::wechat::server_token::is_token_rejected;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(session(app, &req).await)
}

async fn session(app: &App, req: &Request) -> Result<Response, Error> {
    if req.method() != http::Method::GET {
        return Err(http::method_not_allowed("GET").into());
    }
    let now = wxauth::unix_now();
    let caller = caller::authenticate(app, req.headers(), now).await?;
    let Some(stored) = caller.stored_session_keys(app, now).await? else { return Ok(answer(false)) };
    let key = caller.decrypt_session_key(app, &stored.current).await?;
    let signature = checksession_signature(&key.0);
    let token = app.server_tokens.get(app, &caller.app, now).await?;
    let valid = match app.wechat.check_session(&token, &caller.openid, &signature).await {
        Err(WechatError::Api { errcode, .. }) if is_token_rejected(errcode) => {
            let token = app.server_tokens.renew(app, &caller.app, &token, now).await?;
            app.wechat.check_session(&token, &caller.openid, &signature).await
        }
        other => other,
    }
    .map_err(|e| e.into_error("checksession"))?;
    Ok(answer(valid))
}

fn answer(valid: bool) -> Response {
    http::no_store(http::json_response(200, &json!({ "valid": valid })))
}
