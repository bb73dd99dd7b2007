//! `POST /wechat/phone`: the phone number behind a phone-number button's `code`, from WeChat's
//! `getuserphonenumber` with the cached server token (renewed once when WeChat refuses it),
//! stored on the user (and so in `/userinfo`). The rules: [`wxauth::oauth::wechat_data`].

use serde_json::json;
use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::wechat_caller;
use wxauth::oauth::wechat_data::{self, PhoneRequest};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(phone(app, &req).await)
}

async fn phone(app: &App, req: &Request) -> Result<Response, Error> {
    // The method first, as on every route; then authenticate before reading the body: an
    // anonymous caller learns nothing about it.
    if req.method() != http::Method::POST {
        return Err(http::method_not_allowed("POST").into());
    }
    let now = wxauth::clock::unix_now();
    let caller = wechat_caller::authenticate(app, http::bearer_token(req.headers()), now).await?;
    let body: PhoneRequest = http::json(req)?;
    let phone = wechat_data::phone_number(app, &caller, &body.code, now).await?;
    let body = json!({
        "phone_number": phone.phone_number,
        "pure_phone_number": phone.pure_phone_number,
        "country_code": phone.country_code,
    });
    Ok(http::no_store(http::json_response(200, &body)))
}
