//! `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server offers. The lists
//! come from the code that implements them, so the document cannot claim what does not exist.

use serde::Serialize;
use wxauth::App;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::error::Error;
use wxauth::oauth::{client_auth, grants};

/// The metadata document; fields per RFC 8414 §2 (and RFC 9207 for `iss`).
#[derive(Debug, Serialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    /// `token` (implicit) only for clients registered for it.
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Introspection is for confidential clients.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    /// RFC 9068 access tokens are ES256 JWTs.
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
}

impl Metadata {
    pub fn new(issuer: &str) -> Self {
        let mut grant_types = grants::GRANT_TYPES.to_vec();
        grant_types.push(grants::IMPLICIT);
        Self {
            issuer: issuer.to_string(),
            authorization_endpoint: format!("{issuer}/oauth/authorize"),
            token_endpoint: format!("{issuer}/oauth/token"),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            revocation_endpoint: format!("{issuer}/oauth/revoke"),
            introspection_endpoint: format!("{issuer}/oauth/introspect"),
            response_types_supported: vec!["code", "token"],
            response_modes_supported: vec!["query", "fragment"],
            grant_types_supported: grant_types,
            token_endpoint_auth_methods_supported: client_auth::METHODS.to_vec(),
            revocation_endpoint_auth_methods_supported: client_auth::METHODS.to_vec(),
            introspection_endpoint_auth_methods_supported: vec!["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported: vec!["S256"],
            authorization_response_iss_parameter_supported: true,
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
        assert_eq!(m.authorization_endpoint, "https://auth.example.com/oauth/authorize");
        assert_eq!(m.jwks_uri, "https://auth.example.com/.well-known/jwks.json");
        for grant in [
            "urn:wxauth:grant-type:wechat-code",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "implicit",
        ] {
            assert!(m.grant_types_supported.contains(&grant), "{grant}");
        }
        assert_eq!(m.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "none"]);
        assert_eq!(m.code_challenge_methods_supported, ["S256"]);
        assert!(m.authorization_response_iss_parameter_supported);
    }
}
