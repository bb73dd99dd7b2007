//! `GET /wechat/session`: whether the caller's stored session key is still the one WeChat holds
//! (`wxa/checksession`). A mini program asks before sending encrypted data, and calls
//! `wx.login()` first when the answer is no, instead of finding out from a failed decryption.

use serde_json::json;
use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::{wechat_caller, wechat_data};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(session(app, &req).await)
}

async fn session(app: &App, req: &Request) -> Result<Response, Error> {
    if req.method() != http::Method::GET {
        return Err(http::method_not_allowed("GET").into());
    }
    let now = wxauth::clock::unix_now();
    let caller = wechat_caller::authenticate(app, http::bearer_token(req.headers()), now).await?;
    let valid = wechat_data::session_key_is_current(app, &caller, now).await?;
    Ok(http::no_store(http::json_response(200, &json!({ "valid": valid }))))
}
