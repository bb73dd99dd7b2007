//! `POST /oauth/token` (RFC 6749 §3.2): authenticates the client, runs the grant, answers a
//! token response or an RFC 6749 §5.2 error.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::{client_auth, grants};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(token(app, &req).await)
}

async fn token(app: &App, req: &Request) -> Result<Response, Error> {
    let params = http::form(req)?;
    let client = client_auth::authenticate(app, &http::client_credentials(req, &params)?).await?;
    let tokens = grants::exchange(app, &client, &params, wxauth::clock::unix_now()).await?;
    Ok(http::no_store(http::json_response(200, &tokens)))
}
