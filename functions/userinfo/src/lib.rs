//! `GET|POST /userinfo` (OpenID Connect Core §5.3, RFC 6750 Bearer): the claims
//! [`wxauth::oauth::userinfo`] allows the token's scope.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::{bearer, userinfo};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(answer(app, &req).await)
}

async fn answer(app: &App, req: &Request) -> Result<Response, Error> {
    if req.method() != http::Method::GET && req.method() != http::Method::POST {
        return Err(http::method_not_allowed("GET, POST").into());
    }
    let now = wxauth::clock::unix_now();
    let claims = bearer::authenticate(app, http::bearer_token(req.headers()), now).await?;
    let info = userinfo::userinfo(app, &claims).await?;
    Ok(http::no_store(http::json_response(200, &info)))
}
