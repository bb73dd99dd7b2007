//! Errors as the client sees them (RFC 6749 §5.2, RFC 6750 §3) and as the operator sees them.
//!
//! [`OAuthError`] is a client's mistake or a refusal: it becomes a 4xx with `{"error",
//! "error_description"}`. [`Error`] adds the faults that are not the client's: a backend that is
//! down or throttling (503 `temporarily_unavailable`), WeChat answering nonsense (502), and the
//! unexpected (500, opaque). Descriptions are fixed texts: they never echo a token, code or secret.

use std::borrow::Cow;

/// An error answered to the client as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    /// The RFC 6749 / RFC 6750 error code.
    pub error: &'static str,
    pub description: Cow<'static, str>,
    /// `WWW-Authenticate` value: `Basic` after a failed Basic authentication (RFC 6749 §5.2),
    /// `Bearer error="invalid_token"` for protected resources (RFC 6750 §3).
    pub www_authenticate: Option<Cow<'static, str>>,
    /// `Retry-After` seconds, for throttling.
    pub retry_after: Option<u64>,
    /// `Allow`, with a 405.
    pub allow: Option<&'static str>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $status:literal;)*) => {
        impl OAuthError {
            $(
                $(#[$doc])*
                pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                    Self::new($status, stringify!($name), description)
                }
            )*
        }
    };
}

constructors! {
    /// "The request is missing a required parameter, includes an unsupported parameter value
    /// (other than grant type), repeats a parameter, ... or is otherwise malformed."
    invalid_request => 400;
    /// "Client authentication failed (e.g., unknown client, no client authentication included,
    /// or unsupported authentication method)."
    invalid_client => 401;
    /// "The provided authorization grant ... or refresh token is invalid, expired, revoked, does
    /// not match the redirection URI used in the authorization request, or was issued to another
    /// client."
    invalid_grant => 400;
    /// "The authenticated client is not authorized to use this authorization grant type."
    unauthorized_client => 400;
    /// "The authorization grant type is not supported by the authorization server."
    unsupported_grant_type => 400;
    /// "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the
    /// resource owner."
    invalid_scope => 400;
    /// The resource owner or the authorization server denied the request.
    access_denied => 403;
    /// "The authorization server is currently unable to handle the request due to a temporary
    /// overloading or maintenance of the server."
    temporarily_unavailable => 503;
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self { status, error, description: description.into(), www_authenticate: None, retry_after: None, allow: None }
    }

    pub fn with_www_authenticate(mut self, value: impl Into<Cow<'static, str>>) -> Self {
        self.www_authenticate = Some(value.into());
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn with_allow(mut self, methods: &'static str) -> Self {
        self.allow = Some(methods);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.description)
    }
}

/// Everything a handler can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client's mistake or a refusal: answered as it is.
    #[error("{0}")]
    OAuth(OAuthError),
    /// DynamoDB, KMS or WeChat is unreachable, timing out or throttling: 503, worth a retry.
    #[error("backend unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// WeChat answered something we cannot use: 502.
    #[error("bad upstream answer: {0:#}")]
    BadGateway(anyhow::Error),
    /// A bug or a broken deployment: 500 with an opaque body.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        Error::OAuth(e)
    }
}

impl Error {
    /// What the client is told. Causes stay in the log.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            Error::OAuth(e) => e.clone(),
            Error::Unavailable(_) => {
                OAuthError::temporarily_unavailable("a backend service is unavailable; retry shortly")
                    .with_retry_after(1)
            }
            Error::BadGateway(_) => OAuthError::new(502, "server_error", "an upstream service gave an unusable answer"),
            Error::Internal(_) => OAuthError::new(500, "server_error", "unexpected server error"),
        }
    }
}

/// `Result` of the protocol layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_use_the_rfc_code_and_status() {
        let e = OAuthError::invalid_client("unknown client");
        assert_eq!((e.status, e.error), (401, "invalid_client"));
        assert_eq!(OAuthError::unsupported_grant_type("x").error, "unsupported_grant_type");
        assert_eq!(OAuthError::temporarily_unavailable("x").status, 503);
    }

    #[test]
    fn backend_faults_hide_their_cause_from_the_client() {
        let e = Error::Unavailable(anyhow::anyhow!("dynamodb at 10.0.0.1 throttled"));
        let shown = e.to_oauth();
        assert_eq!((shown.status, shown.error), (503, "temporarily_unavailable"));
        assert!(!shown.description.contains("10.0.0.1"));
        let e = Error::Internal(anyhow::anyhow!("secret=abc"));
        assert!(!e.to_oauth().description.contains("abc"));
    }
}
