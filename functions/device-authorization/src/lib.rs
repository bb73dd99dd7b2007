//! `POST /oauth/device_authorization` (RFC 8628 §3.1): the client authenticates as at the token
//! endpoint (a public client names itself with `client_id`), asks for a `scope` within its
//! registration, and gets a device code, a user code and where its user enters it (§3.2), with
//! `Cache-Control: no-store`. The rules are [`wxauth::oauth::device`]'s; the device then polls
//! `POST /oauth/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code`.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::{client_auth, device};

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(device_authorization(app, &req).await)
}

async fn device_authorization(app: &App, req: &Request) -> Result<Response, Error> {
    let params = http::form(req)?;
    let client = client_auth::authenticate(app, &http::client_credentials(req, &params)?).await?;
    let answer = device::authorize(app, &client, &params, wxauth::clock::unix_now()).await?;
    Ok(http::no_store(http::json_response(200, &answer)))
}
