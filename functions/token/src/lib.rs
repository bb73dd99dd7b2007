//! `POST /oauth/token` (RFC 6749 §3.2): authenticates the client, runs the grant, answers a
//! token response or an RFC 6749 §5.2 error.

use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::Error;
use wxauth::oauth::{client_auth, grants};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(token(app, &req).await)
}

async fn token(app: &App, req: &Request) -> Result<Response, Error> {
    let form = http::form(req)?;
    let client = client_auth::authenticate(app, req.headers(), &form).await?;
    let tokens = grants::exchange(app, &client, &form, wxauth::unix_now()).await?;
    Ok(http::no_store(http::json_response(200, &tokens)))
}
