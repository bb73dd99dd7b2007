//! Client authentication (RFC 6749 §2.3), in one place for every endpoint.
//!
//! Methods: `client_secret_basic`, `client_secret_post`, and `none` (a public client names
//! itself with `client_id`). "The client MUST NOT use more than one authentication method in
//! each request." Confidential clients must authenticate; a public client presenting a secret
//! is refused rather than silently trusted.

use super::error::{Error, OAuthError};
use crate::App;
use crate::http::{Form, basic_credentials};
use crate::store::clients::Client;
use crate::tokens::secret::{constant_time_eq, hash};

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
    /// Reads the credentials of a request from its headers and form.
    pub fn from_request(headers: &http::HeaderMap, form: &Form) -> Result<Self, OAuthError> {
        let basic = basic_credentials(headers)?;
        let form_id = form.get("client_id");
        let form_secret = form.get("client_secret");
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
pub async fn authenticate(app: &App, headers: &http::HeaderMap, form: &Form) -> Result<Client, Error> {
    Ok(authenticate_with(app, headers, form).await?.0)
}

/// The confidential client making the request, authenticated: a public client (which has no
/// secret to present) is a failed client authentication, with the same 401 as a wrong secret.
pub async fn authenticate_confidential(app: &App, headers: &http::HeaderMap, form: &Form) -> Result<Client, Error> {
    let (client, credentials) = authenticate_with(app, headers, form).await?;
    if !client.is_confidential() {
        let refused = credentials.refused();
        return Err(OAuthError { description: "this endpoint is for confidential clients".into(), ..refused }.into());
    }
    Ok(client)
}

async fn authenticate_with(app: &App, headers: &http::HeaderMap, form: &Form) -> Result<(Client, Credentials), Error> {
    let credentials = Credentials::from_request(headers, form)?;
    if !plausible_client_id(credentials.client_id()) {
        return Err(credentials.refused().into());
    }
    let client = app.clients.get(&app.store, credentials.client_id()).await?;
    let client = check(client, &credentials)?;
    Ok((client, credentials))
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
    use crate::oauth::scope::Scope;
    use crate::store::clients::ClientKind;
    use base64::Engine as _;
    use http::{HeaderMap, HeaderValue, header};

    fn client(secret: Option<&str>) -> Client {
        Client {
            id: "c1".into(),
            name: String::new(),
            kind: if secret.is_some() { ClientKind::Confidential } else { ClientKind::Public },
            secret_hash: secret.map(hash),
            grant_types: vec![],
            redirect_uris: vec![],
            scope: Scope::default(),
            audience: None,
            wechat: None,
            created_at: 0,
        }
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Basic {v}")).expect("header"));
        h
    }

    fn form(s: &str) -> Form {
        Form::parse(s.as_bytes()).expect("form")
    }

    #[test]
    fn each_method_is_recognised() {
        assert_eq!(
            Credentials::from_request(&basic("c1", "s"), &form("")).expect("basic"),
            Credentials::Basic { id: "c1".into(), secret: "s".into() }
        );
        assert_eq!(
            Credentials::from_request(&HeaderMap::new(), &form("client_id=c1&client_secret=s")).expect("post"),
            Credentials::Post { id: "c1".into(), secret: "s".into() }
        );
        assert_eq!(
            Credentials::from_request(&HeaderMap::new(), &form("client_id=c1")).expect("none"),
            Credentials::None { id: "c1".into() }
        );
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let e = Credentials::from_request(&basic("c1", "s"), &form("client_secret=s")).expect_err("two");
        assert_eq!(e.error, "invalid_request");
    }

    #[test]
    fn no_client_id_is_invalid_client() {
        assert_eq!(Credentials::from_request(&HeaderMap::new(), &form("")).expect_err("none").status, 401);
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
