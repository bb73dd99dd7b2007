//! `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server offers. The lists
//! come from the code that implements them, so the document cannot claim what does not exist.

use serde::Serialize;
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::Error;
use wxauth::oauth::{client_auth, grants};

/// The metadata document; fields per RFC 8414 §2.
#[derive(Debug, Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: String,
    /// REQUIRED by RFC 8414; empty until the authorization endpoint exists.
    pub response_types_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// RFC 9068 access tokens are ES256 JWTs.
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
}

impl Metadata {
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_string(),
            token_endpoint: format!("{issuer}/oauth/token"),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            response_types_supported: vec![],
            grant_types_supported: grants::GRANT_TYPES.to_vec(),
            token_endpoint_auth_methods_supported: client_auth::METHODS.to_vec(),
            access_token_signing_alg_values_supported: vec!["ES256"],
        }
    }
}

/// The document changes only with a deployment: let clients cache it for an hour.
const MAX_AGE_SECONDS: u64 = 3600;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(metadata(app, &req))
}

fn metadata(app: &App, req: &Request) -> Result<Response, Error> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return Err(http::method_not_allowed("GET").into());
    }
    Ok(http::cacheable_json(&Metadata::new(&app.config.issuer), MAX_AGE_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer_and_every_grant_is_listed() {
        let m = Metadata::new("https://auth.example.com");
        assert_eq!(m.token_endpoint, "https://auth.example.com/oauth/token");
        assert_eq!(m.jwks_uri, "https://auth.example.com/.well-known/jwks.json");
        assert!(m.grant_types_supported.contains(&"urn:wxauth:grant-type:wechat-code"));
        assert!(m.grant_types_supported.contains(&"refresh_token"));
        assert_eq!(m.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "none"]);
    }
}
