//! Refresh tokens and their families (ory/fosite's "token family" rotation, RFC 9700 §4.14.2).

use super::browser_session::SignInMethod;
use crate::scope::Scope;

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// [`crate::secret::hash`] of the token.
    pub hash: String,
    pub family_id: String,
    pub client_id: String,
    pub subject: String,
    pub scope: Scope,
    /// When the user signed in for the grant (OpenID Connect `auth_time`), carried through every
    /// rotation; `None` for tokens issued before it was recorded.
    pub auth_time: Option<i64>,
    /// The browser session of the sign-in and its method, for the ID tokens of every rotation.
    pub sid: Option<String>,
    pub method: Option<SignInMethod>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was rotated; a token presented after this is reused.
    pub used_at: Option<i64>,
    /// The hash of the token it was rotated into.
    pub replaced_by: Option<String>,
    /// Retired on the reuse-grace path before its holder ever used it: presenting it is reuse,
    /// never a retry.
    pub superseded: bool,
}

/// A token family: one grant and everything rotated from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub subject: String,
    /// The browser session whose end ends this family too (OpenID Connect Core §11: unless the
    /// grant holds `offline_access`).
    pub session_sid: Option<String>,
    pub revoked: bool,
    pub created_at: i64,
    pub expires_at: i64,
}
