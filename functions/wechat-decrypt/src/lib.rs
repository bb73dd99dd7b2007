//! `POST /wechat/decrypt`: a mini program's `encryptedData` (e.g. from `wx.getUserProfile` or
//! `wx.getWeRunData`), decrypted with the caller's stored session key and checked: strict
//! PKCS#7, the watermark's appid, and `rawData`'s signature when given. The rules, and what
//! `"authenticated"` means, are [`wxauth::oauth::wechat_data`]'s.

use serde_json::json;
use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::wechat_caller;
use wxauth::oauth::wechat_data::{self, DecryptRequest};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(decrypt(app, &req).await)
}

async fn decrypt(app: &App, req: &Request) -> Result<Response, Error> {
    // The method first, as on every route; then authenticate before reading the body: an
    // anonymous caller learns nothing about it.
    if req.method() != http::Method::POST {
        return Err(http::method_not_allowed("POST").into());
    }
    let now = wxauth::clock::unix_now();
    let caller = wechat_caller::authenticate(app, http::bearer_token(req.headers()), now).await?;
    let body: DecryptRequest = http::json(req)?;
    let decrypted = wechat_data::decrypt(app, &caller, &body, now).await?;
    let answer = json!({ "data": decrypted.data, "authenticated": decrypted.authenticated });
    Ok(http::no_store(http::json_response(200, &answer)))
}
