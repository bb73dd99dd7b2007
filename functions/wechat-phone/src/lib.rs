//! `POST /wechat/phone`: the phone number behind a phone-number button's `code`, from WeChat's
//! `getuserphonenumber`, stored on the user (and so in `/userinfo`).
//!
//! The server's WeChat access token comes from [`wxauth::wechat::server_token`]; when WeChat
//! rejects it (40001/42001) it is renewed once and the call retried.

use serde::Deserialize;
use serde_json::json;
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::{Error, OAuthError};
use wxauth::store::users::Phone;
use wxauth::wechat::api::{PhoneInfo, WechatError};
use wxauth::wechat::caller;
use wxauth::wechat::server_token::is_token_rejected;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneRequest {
    code: String,
}

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(phone(app, &req).await)
}

async fn phone(app: &App, req: &Request) -> Result<Response, Error> {
    // The method first, as on every route; then authenticate before reading the body: an
    // anonymous caller learns nothing about it.
    if req.method() != http::Method::POST {
        return Err(http::method_not_allowed("POST").into());
    }
    let now = wxauth::unix_now();
    let caller = caller::authenticate(app, req.headers(), now).await?;
    let body: PhoneRequest = http::json(req)?;
    if body.code.is_empty() {
        return Err(OAuthError::invalid_request("missing code").into());
    }
    if !wxauth::wechat::api::plausible_code(&body.code) {
        return Err(OAuthError::invalid_request("the code is not a phone-number button's code").into());
    }
    let token = app.server_tokens.get(app, &caller.app, now).await?;
    let info = match app.wechat.phone_number(&token, &body.code).await {
        Err(WechatError::Api { errcode, .. }) if is_token_rejected(errcode) => {
            let token = app.server_tokens.renew(app, &caller.app, &token, now).await?;
            app.wechat.phone_number(&token, &body.code).await
        }
        other => other,
    }
    .map_err(to_error)?;
    if info.watermark.appid != caller.app.appid {
        return Err(Error::BadGateway(anyhow::anyhow!("getuserphonenumber answered for another appid")));
    }
    let PhoneInfo { phone_number, pure_phone_number, country_code, .. } = info;
    let phone = Phone { phone_number, pure_phone_number, country_code };
    app.store.set_user_phone(&caller.user.id, &phone, now).await?;
    let body = json!({
        "phone_number": phone.phone_number,
        "pure_phone_number": phone.pure_phone_number,
        "country_code": phone.country_code,
    });
    Ok(http::no_store(http::json_response(200, &body)))
}

fn to_error(e: WechatError) -> Error {
    match e {
        WechatError::Api { errcode: 40029 | 40163, .. } => {
            OAuthError::invalid_request("the phone code is invalid, expired or used: ask the user again").into()
        }
        e => e.into_error("getuserphonenumber"),
    }
}
