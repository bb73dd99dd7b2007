//! `POST /oauth/introspect` (RFC 7662), for confidential clients; the rules, and what a caller
//! may see, are [`wxauth::oauth::introspection`]'s.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::{client_auth, introspection};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(introspect(app, &req).await)
}

async fn introspect(app: &App, req: &Request) -> Result<Response, Error> {
    let params = http::form(req)?;
    let caller = client_auth::authenticate_confidential(app, &http::client_credentials(req, &params)?).await?;
    let token = params.require("token")?;
    let answer = introspection::introspect(app, &caller, token, wxauth::clock::unix_now()).await?;
    Ok(http::no_store(http::json_response(200, &answer)))
}
