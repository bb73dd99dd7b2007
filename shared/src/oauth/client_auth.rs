//! Client authentication (RFC 6749 §2.3), in one place for every endpoint.
//!
//! Methods: `client_secret_basic`, `client_secret_post`, and `none` (a public client names
//! itself with `client_id`). "The client MUST NOT use more than one authentication method in
//! each request." Confidential clients must authenticate; a public client presenting a secret
//! is refused rather than silently trusted.

use crate::App;
use crate::domain::client::Client;
use crate::error::{Error, OAuthError};
use crate::params::Params;
use crate::secret::{constant_time_eq, hash};

/// The methods, as RFC 8414 names them.
pub const METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

/// The credentials a request carries, before they are checked.
#[derive(PartialEq, Eq)]
pub enum Credentials {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    None { id: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = match self {
            Credentials::Basic { .. } => "client_secret_basic",
            Credentials::Post { .. } => "client_secret_post",
            Credentials::None { .. } => "none",
        };
        write!(f, "Credentials({method}, {:?})", self.client_id())
    }
}

impl Credentials {
    /// The credentials of a request: those of its `Authorization: Basic` header (`basic`,
    /// already decoded) and its `client_id` and `client_secret` parameters.
    pub fn new(basic: Option<(String, String)>, params: &Params) -> Result<Self, OAuthError> {
        let form_id = params.get("client_id");
        let form_secret = params.get("client_secret");
        match (basic, form_id, form_secret) {
            (Some(_), _, Some(_)) => Err(OAuthError::invalid_request("use one client authentication method, not two")),
            (Some((id, secret)), form_id, None) => {
                if form_id.is_some_and(|f| f != id) {
                    return Err(OAuthError::invalid_request("client_id differs from the authenticated client"));
                }
                Ok(Credentials::Basic { id, secret })
            }
            (None, Some(id), Some(secret)) => Ok(Credentials::Post { id: id.into(), secret: secret.into() }),
            (None, Some(id), None) => Ok(Credentials::None { id: id.into() }),
            (None, None, _) => Err(OAuthError::invalid_client("client authentication is required (client_id)")),
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            Credentials::Basic { id, .. } | Credentials::Post { id, .. } | Credentials::None { id } => id,
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Credentials::Basic { secret, .. } | Credentials::Post { secret, .. } => {
                Some(secret).filter(|s| !s.is_empty()).map(String::as_str)
            }
            Credentials::None { .. } => None,
        }
    }

    /// The 401 for these credentials: with `WWW-Authenticate: Basic` when Basic was tried.
    fn refused(&self) -> OAuthError {
        let e = OAuthError::invalid_client("client authentication failed");
        match self {
            Credentials::Basic { .. } => e.with_www_authenticate("Basic"),
            _ => e,
        }
    }
}

/// Client ids are ours: short and printable (`wxauth-admin` refuses others). Anything else
/// cannot name a client, and must not reach DynamoDB's key-size limit as a 500.
pub fn plausible_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The client making the request, authenticated.
pub async fn authenticate(app: &App, credentials: &Credentials) -> Result<Client, Error> {
    if !plausible_client_id(credentials.client_id()) {
        return Err(credentials.refused().into());
    }
    let client = app.clients.get(&app.store, credentials.client_id()).await?;
    Ok(check(client, credentials)?)
}

/// The confidential client making the request, authenticated: a public client (which has no
/// secret to present) is a failed client authentication, with the same 401 as a wrong secret.
pub async fn authenticate_confidential(app: &App, credentials: &Credentials) -> Result<Client, Error> {
    let client = authenticate(app, credentials).await?;
    if !client.is_confidential() {
        let refused = credentials.refused();
        return Err(OAuthError { description: "this endpoint is for confidential clients".into(), ..refused }.into());
    }
    Ok(client)
}

/// The rules, apart from the store: unknown client, missing or wrong secret.
pub fn check(client: Option<Client>, credentials: &Credentials) -> Result<Client, OAuthError> {
    // Hash even when there is no client, so an unknown id costs what a known one does.
    let presented = credentials.secret().map(hash);
    let Some(client) = client else {
        return Err(credentials.refused());
    };
    if client.is_confidential() && client.secret_hash.is_none() {
        return Err(credentials.refused()); // a broken registration must not make it public
    }
    let authenticated = match (&client.secret_hash, presented) {
        (Some(stored), Some(presented)) => constant_time_eq(stored, &presented),
        (Some(_), None) => false, // a confidential client must authenticate
        (None, None) => true,     // a public client names itself
        (None, Some(_)) => false, // a secret for a client that has none
    };
    if authenticated { Ok(client) } else { Err(credentials.refused()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::ClientKind;
    use crate::scope::Scope;

    fn client(secret: Option<&str>) -> Client {
        Client {
            id: "c1".into(),
            name: String::new(),
            kind: if secret.is_some() { ClientKind::Confidential } else { ClientKind::Public },
            secret_hash: secret.map(hash),
            grant_types: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: Scope::default(),
            audience: None,
            wechat: None,
            created_at: 0,
        }
    }

    fn basic(id: &str, secret: &str) -> Option<(String, String)> {
        Some((id.into(), secret.into()))
    }

    fn params(s: &str) -> Params {
        Params::parse(s.as_bytes()).expect("form")
    }

    #[test]
    fn each_method_is_recognised() {
        assert_eq!(
            Credentials::new(basic("c1", "s"), &params("")).expect("basic"),
            Credentials::Basic { id: "c1".into(), secret: "s".into() }
        );
        assert_eq!(
            Credentials::new(None, &params("client_id=c1&client_secret=s")).expect("post"),
            Credentials::Post { id: "c1".into(), secret: "s".into() }
        );
        assert_eq!(
            Credentials::new(None, &params("client_id=c1")).expect("none"),
            Credentials::None { id: "c1".into() }
        );
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let e = Credentials::new(basic("c1", "s"), &params("client_secret=s")).expect_err("two");
        assert_eq!(e.error, "invalid_request");
    }

    #[test]
    fn no_client_id_is_invalid_client() {
        assert_eq!(Credentials::new(None, &params("")).expect_err("none").status, 401);
    }

    #[test]
    fn confidential_clients_need_their_secret() {
        let ok = Credentials::Post { id: "c1".into(), secret: "right".into() };
        assert!(check(Some(client(Some("right"))), &ok).is_ok());
        let wrong = Credentials::Basic { id: "c1".into(), secret: "wrong".into() };
        let e = check(Some(client(Some("right"))), &wrong).expect_err("wrong");
        assert_eq!((e.status, e.www_authenticate.as_deref()), (401, Some("Basic")));
        let none = Credentials::None { id: "c1".into() };
        assert!(check(Some(client(Some("right"))), &none).is_err());
    }

    #[test]
    fn public_clients_name_themselves_and_may_not_bring_a_secret() {
        assert!(check(Some(client(None)), &Credentials::None { id: "c1".into() }).is_ok());
        assert!(check(Some(client(None)), &Credentials::Basic { id: "c1".into(), secret: String::new() }).is_ok());
        assert!(check(Some(client(None)), &Credentials::Post { id: "c1".into(), secret: "x".into() }).is_err());
    }

    #[test]
    fn an_unknown_client_is_invalid_client() {
        assert_eq!(
            check(None, &Credentials::None { id: "nobody".into() }).expect_err("unknown").error,
            "invalid_client"
        );
    }
}
