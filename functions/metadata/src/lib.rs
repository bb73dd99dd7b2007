//! `GET /.well-known/oauth-authorization-server` (RFC 8414) and
//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0): one document for
//! both, so the two cannot disagree. The lists come from the code that implements them, so the
//! document cannot claim what does not exist.

use serde::Serialize;
use wxauth::App;
use wxauth::error::Error;
use wxauth::grant_type;
use wxauth::http::{self, Request, Response};
use wxauth::keys::algorithm::Algorithm;
use wxauth::oauth::{client_auth, device};
use wxauth::pages::Locale;
use wxauth::tokens::id::OPENID;
use wxauth::tokens::refresh::OFFLINE_ACCESS;

/// The routes this function serves.
pub const OAUTH_PATH: &str = "/.well-known/oauth-authorization-server";
pub const OPENID_PATH: &str = "/.well-known/openid-configuration";

/// The metadata document: RFC 8414 §2 (and RFC 9207 for `iss`), with OpenID Connect Discovery
/// §3's fields.
#[derive(Debug, Serialize)]
pub struct Metadata {
    /// Exactly the `iss` of every token: API Gateway and OIDC libraries compare byte for byte.
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub userinfo_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    /// RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    /// RFC 8628 §4: where a device asks for a device code and a user code.
    pub device_authorization_endpoint: String,
    /// Back-Channel Logout 1.0: logout tokens reach registered clients, always with `sid`.
    pub backchannel_logout_supported: bool,
    pub backchannel_logout_session_supported: bool,
    pub scopes_supported: Vec<&'static str>,
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
    /// Every algorithm a registered key may sign with; a token's is its key's.
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
    /// `sub` is the same for every client (no pairwise identifiers).
    pub subject_types_supported: Vec<&'static str>,
    /// Discovery §3: "The algorithm RS256 MUST be included."
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    /// Discovery §3 defaults `request_uri_parameter_supported` to true: say otherwise.
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    pub prompt_values_supported: Vec<&'static str>,
    /// The languages of the sign-in page (Discovery §3), chosen by `ui_locales`.
    pub ui_locales_supported: Vec<&'static str>,
}

/// The ID token's claims and what userinfo may show (by scope).
pub const CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "azp",
    "at_hash",
    "sid",
    "amr",
    "openid",
    "unionid",
    "preferred_username",
    "nickname",
    "picture",
    "phone_number",
    "phone_number_verified",
];

impl Metadata {
    pub fn new(issuer: &str) -> Self {
        let mut grant_types = grant_type::ALL.to_vec();
        grant_types.push(grant_type::IMPLICIT);
        let algorithms: Vec<&'static str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
        Self {
            issuer: issuer.to_string(),
            authorization_endpoint: format!("{issuer}/oauth/authorize"),
            token_endpoint: format!("{issuer}/oauth/token"),
            jwks_uri: format!("{issuer}/.well-known/jwks.json"),
            userinfo_endpoint: format!("{issuer}/userinfo"),
            revocation_endpoint: format!("{issuer}/oauth/revoke"),
            introspection_endpoint: format!("{issuer}/oauth/introspect"),
            end_session_endpoint: format!("{issuer}/oauth/end_session"),
            device_authorization_endpoint: format!("{issuer}{}", device::PATH),
            backchannel_logout_supported: true,
            backchannel_logout_session_supported: true,
            scopes_supported: vec![OPENID, "profile", "phone", OFFLINE_ACCESS],
            response_types_supported: vec!["code", "token"],
            response_modes_supported: vec!["query", "fragment"],
            grant_types_supported: grant_types,
            token_endpoint_auth_methods_supported: client_auth::METHODS.to_vec(),
            revocation_endpoint_auth_methods_supported: client_auth::METHODS.to_vec(),
            introspection_endpoint_auth_methods_supported: vec!["client_secret_basic", "client_secret_post"],
            code_challenge_methods_supported: vec!["S256"],
            authorization_response_iss_parameter_supported: true,
            access_token_signing_alg_values_supported: algorithms.clone(),
            subject_types_supported: vec!["public"],
            id_token_signing_alg_values_supported: algorithms,
            claims_supported: CLAIMS.to_vec(),
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            claims_parameter_supported: false,
            prompt_values_supported: vec!["none", "login", "consent", "select_account"],
            ui_locales_supported: Locale::ALL.iter().map(|l| l.tag()).collect(),
        }
    }
}

/// The document changes only with a deployment: let clients cache it for an hour.
const MAX_AGE_SECONDS: u64 = 3600;

pub async fn handle(app: &App, req: Request) -> Response {
    http::respond(metadata(app, &req))
}

fn metadata(app: &App, req: &Request) -> Result<Response, Error> {
    http::allow(req, "GET, HEAD")?;
    Ok(http::cacheable_json(&Metadata::new(&app.config.issuer), MAX_AGE_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_openid_connect_discovery_requires_is_there() {
        let m = serde_json::to_value(Metadata::new("https://auth.example.com")).expect("json");
        for field in [
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "response_types_supported",
            "subject_types_supported",
            "id_token_signing_alg_values_supported",
        ] {
            assert!(!m[field].is_null(), "{field}");
        }
        assert_eq!(m["issuer"], "https://auth.example.com");
        assert!(m["id_token_signing_alg_values_supported"].as_array().expect("list").contains(&"RS256".into()));
        assert_eq!(m["subject_types_supported"], serde_json::json!(["public"]));
        assert_eq!(m["request_uri_parameter_supported"], false);
        assert!(m["scopes_supported"].as_array().expect("list").contains(&"openid".into()));
        assert_eq!(m["ui_locales_supported"], serde_json::json!(["zh-CN", "en"]));
    }

    #[test]
    fn endpoints_hang_off_the_issuer_and_every_grant_is_listed() {
        let m = Metadata::new("https://auth.example.com");
        assert_eq!(m.token_endpoint, "https://auth.example.com/oauth/token");
        assert_eq!(m.authorization_endpoint, "https://auth.example.com/oauth/authorize");
        assert_eq!(m.jwks_uri, "https://auth.example.com/.well-known/jwks.json");
        assert_eq!(m.device_authorization_endpoint, "https://auth.example.com/oauth/device_authorization");
        for grant in [
            "urn:wxauth:grant-type:wechat-code",
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            "urn:ietf:params:oauth:grant-type:device_code",
            "implicit",
        ] {
            assert!(m.grant_types_supported.contains(&grant), "{grant}");
        }
        assert_eq!(m.token_endpoint_auth_methods_supported, ["client_secret_basic", "client_secret_post", "none"]);
        assert_eq!(m.code_challenge_methods_supported, ["S256"]);
        assert!(m.authorization_response_iss_parameter_supported);
    }
}
