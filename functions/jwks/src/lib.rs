//! `GET /.well-known/jwks.json`: every published signing key (active, upcoming and retired until
//! the tokens it signed have expired), read from the key registry, never from KMS.

use wxauth::App;
use wxauth::error::Error;
use wxauth::http::{self, Request, Response};
use wxauth::keys::jwks::JwkSet;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(jwks(app, &req).await)
}

async fn jwks(app: &App, req: &Request) -> Result<Response, Error> {
    http::allow(req, "GET, HEAD")?;
    let keys = app.keys.published(wxauth::clock::unix_now()).await?;
    let set = JwkSet { keys: keys.iter().map(|k| k.jwk.clone()).collect() };
    Ok(http::cacheable_json(&set, app.config.key_cache_ttl.as_secs()))
}
