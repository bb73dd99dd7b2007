//! `POST /oauth/revoke` (RFC 7009): the client authenticates as at the token endpoint; the
//! rules are [`wxauth::oauth::revocation`]'s. Always `200 {}` unless the request or the client
//! is refused.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::client_auth;
use wxauth::oauth::revocation::{self, Hint};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(revoke(app, &req).await)
}

async fn revoke(app: &App, req: &Request) -> Result<Response, Error> {
    let params = http::form(req)?;
    let client = client_auth::authenticate(app, &http::client_credentials(req, &params)?).await?;
    let token = params.require("token")?;
    let hint = Hint::parse(params.get("token_type_hint"));
    revocation::revoke(app, &client, token, hint, wxauth::clock::unix_now()).await?;
    Ok(http::no_store(http::json_response(200, &serde_json::json!({}))))
}
