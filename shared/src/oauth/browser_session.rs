//! The browser session (OpenID Connect Core §3.1.2.1): started by every sign-in on the
//! authorization page, found again by its cookie, used by later authorization requests of any
//! client, ended by logout or its limits.
//!
//! The cookie holds 256 random bits, new on every sign-in: a value set in the browser before
//! (by an attacker, say) is never kept, so a session cannot be fixed. It is `HttpOnly`,
//! `SameSite=Lax` (a top-level redirect from a client's site must carry it) and `Path=/`; on an
//! `https` issuer `Secure` and named with the `__Host-` prefix, so no subdomain can set it.
//! Only its SHA-256 is stored.

use crate::App;
use crate::domain::browser_session::{BrowserSession, SignInMethod};
use crate::error::Error;
use crate::secret::{hash, random_id, random_token};

/// A using request moves the idle limit only when it has moved by more than this since: one
/// write per minute at most, not one per authorization.
const IDLE_STEP_SECONDS: i64 = 60;

/// The cookie's name for `issuer`.
pub fn cookie_name(issuer: &str) -> &'static str {
    if is_https(issuer) { "__Host-wxauth_session" } else { "wxauth_session" }
}

fn is_https(issuer: &str) -> bool {
    issuer.starts_with("https://")
}

/// `; Secure` for a cookie of an `https` issuer, else nothing (the local stack's plain http):
/// the attribute every cookie of ours carries on https.
pub fn secure_attribute(issuer: &str) -> &'static str {
    if is_https(issuer) { "; Secure" } else { "" }
}

/// The `Set-Cookie` value that gives the browser session `value`. No `Max-Age`: the cookie lives
/// as long as the browser, the session as long as its limits (checked on every read).
pub fn set_cookie(app: &App, value: &str) -> String {
    let issuer = &app.config.issuer;
    let secure = secure_attribute(issuer);
    format!("{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}", cookie_name(issuer))
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(app: &App) -> String {
    let issuer = &app.config.issuer;
    let secure = secure_attribute(issuer);
    format!("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}", cookie_name(issuer))
}

/// Starts a session for `user_id`, who signed in now by `method`. Returns the cookie's value
/// (stored nowhere) and the session.
pub async fn start(
    app: &App,
    user_id: &str,
    method: SignInMethod,
    now: i64,
) -> Result<(String, BrowserSession), Error> {
    let value = random_token();
    let session = BrowserSession {
        id_hash: hash(&value),
        sid: random_id(),
        user_id: user_id.to_string(),
        auth_time: now,
        method,
        clients: Vec::new(),
        idle_until: now + app.config.session_idle_ttl.as_secs() as i64,
        absolute_until: now + app.config.session_max_ttl.as_secs() as i64,
    };
    app.store.put_browser_session(&session).await?;
    Ok((value, session))
}

/// The live session the browser's cookie names, if any.
pub async fn current(app: &App, cookie: Option<&str>, now: i64) -> Result<Option<BrowserSession>, Error> {
    // A value that is not one of ours costs no read.
    let Some(value) = cookie.filter(|v| v.len() == 43 && v.bytes().all(is_base64url)) else {
        return Ok(None);
    };
    app.store.browser_session(&hash(value), now).await
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The session signed the user in to `client_id`: its idle limit moves and the client is
/// recorded (a logout tells it). `false` when the session ended meanwhile.
pub async fn used_for(app: &App, session: &BrowserSession, client_id: &str, now: i64) -> Result<bool, Error> {
    let idle_until = now + app.config.session_idle_ttl.as_secs() as i64;
    let known = session.clients.iter().any(|c| c == client_id);
    if known && idle_until - session.idle_until < IDLE_STEP_SECONDS {
        return Ok(true);
    }
    app.store.use_browser_session(session, client_id, idle_until, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_prefixed_and_secure_on_https_only() {
        assert_eq!(cookie_name("https://auth.example"), "__Host-wxauth_session");
        assert_eq!(cookie_name("http://localhost:3000"), "wxauth_session");
    }
}
