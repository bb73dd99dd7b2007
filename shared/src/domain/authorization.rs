//! The authorization endpoint's state: a pending sign-in request and the code it leads to.

use super::browser_session::SignInMethod;
use super::wechat_web::WebScope;
use crate::scope::Scope;

/// A validated authorization request waiting for the user's sign-in and decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Hash of the request id carried by the form.
    pub id_hash: String,
    /// Hash of the CSRF token bound to the browser by a cookie.
    pub csrf_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (else it was the client's only one): RFC 6749
    /// §4.1.3 then requires it again at the token endpoint.
    pub redirect_uri_given: bool,
    /// `code` or `token`.
    pub response_type: String,
    pub scope: Scope,
    pub state: Option<String>,
    /// PKCE S256 challenge (always for `code`).
    pub code_challenge: Option<String>,
    /// OpenID Connect `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// Set when the page asks only for consent, for the user of this browser session (`sid`):
    /// the answer counts only from a browser still in that session.
    pub session_sid: Option<String>,
    /// `prompt=consent`: consent is asked even when remembered (a sign-in that skips our page,
    /// WeChat's inside WeChat, shows the consent page after it).
    pub prompt_consent: bool,
    /// Set when the page offers WeChat sign-in: the request id is then also WeChat's `state`.
    pub wechat: Option<WechatLeg>,
    /// Set for a device's request (RFC 8628), entered by its user code at `/device`: the hash of
    /// its device code. Such a request has no redirect URI and ends in no code: its approval
    /// marks the device's grant approved, and the browser learns the outcome on a page.
    pub device: Option<String>,
    pub expires_at: i64,
}

/// A pending request's sign-in through WeChat's web authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatLeg {
    pub appid: String,
    /// What the next trip to WeChat asks for (`snsapi_base` steps up to `snsapi_userinfo`).
    pub scope: WebScope,
    /// Hash of the binding cookie of the browser the page was shown in: WeChat's callback
    /// counts only there.
    pub browser_hash: String,
}

/// How far WeChat's callback got with a pending request (see `oauth::wechat_web`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatProgress {
    pub pending: PendingAuthorization,
    /// The request was answered (a code issued, or denied).
    pub consumed: bool,
    /// It was answered by WeChat's callback itself (not by a decision on a page since).
    pub answered_by_callback: bool,
    /// Hash of the WeChat code whose callback holds the request now.
    pub claimed_code: Option<String>,
    /// Hash of the `snsapi_base` code whose openid was new: the sign-in stepped up from there.
    pub stepped_up_by: Option<String>,
    /// The first callback's session, sealed for the browser: what a repeated callback with the
    /// same code answers again.
    pub replay: Option<Vec<u8>>,
}

/// An issued authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// See [`PendingAuthorization::redirect_uri_given`].
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub code_challenge: String,
    pub subject: String,
    /// When the user signed in (OpenID Connect `auth_time`).
    pub auth_time: Option<i64>,
    /// The authorization request's `nonce`, for the ID token.
    pub nonce: Option<String>,
    /// The browser session the code was issued in, and how its user signed in.
    pub sid: Option<String>,
    pub method: Option<SignInMethod>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// What its redemption issued: revoked if the code is replayed.
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
}

/// What a redemption issues, recorded on the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub family_id: String,
    pub access_jti: String,
    pub access_exp: i64,
}
