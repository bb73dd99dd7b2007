//! The authorization endpoint's state: pending sign-in requests (`AUTHZ#<sha256(id)>` / `AUTHZ`)
//! and authorization codes (`CODE#<sha256(code)>` / `CODE`).
//!
//! Rules:
//! - Both are stored under the SHA-256 of their identifier, never the identifier.
//! - A sign-in request lives 10 minutes and is consumed once (a conditional update marks it;
//!   a consumed request reads as absent): a form posted twice cannot yield two codes.
//! - A code lives 60 seconds (`AUTHORIZATION_CODE_TTL`) and is redeemed once: the redemption
//!   records, in the same conditional write that marks it used, the refresh-token family and
//!   the access token's `jti` it issues, so that a replayed code can revoke them (RFC 6749 §4.1.2:
//!   "If an authorization code is used more than once, the authorization server MUST deny the
//!   request and SHOULD revoke (when possible) all tokens previously issued based on that
//!   authorization code").
//! - A request offering WeChat sign-in carries its leg (`wechat_*`): WeChat's callback claims it
//!   for one WeChat code at a time (`wechat_code`, `wechat_claim`: a mark of the claiming
//!   attempt's own), releases it when that code failed or the sign-in steps up to
//!   `snsapi_userinfo` (recording the code that stepped up: `wechat_stepped`), and records the
//!   sealed session it started (`wechat_replay`) for a repeated callback with the same code. Every write of a claim is conditioned on its mark.
//! - A device's request (RFC 8628, entered at `/device`) names its grant by the device code's
//!   hash (`device_hash`, absent on every other request: older items read as no device's).
//! - Reads check `expires_at` themselves: TTL deletes late.

use super::backend::{Store, Written, conditional};
use super::item::{Item, ItemContext as _, Key, b, boolean, n, s};
use crate::domain::authorization::{AuthorizationCode, PendingAuthorization, Redemption, WechatLeg, WechatProgress};
use crate::domain::browser_session::SignInMethod;
use crate::domain::wechat_web::WebScope;
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::random_id;

const REQUEST_PREFIX: &str = "AUTHZ#";
const CODE_PREFIX: &str = "CODE#";

/// The key of the pending sign-in request whose id hashes to `id_hash`.
pub fn request_key(id_hash: &str) -> Key {
    Key::new(format!("{REQUEST_PREFIX}{id_hash}"), "AUTHZ")
}

/// The key of the authorization code that hashes to `hash`.
pub fn code_key(hash: &str) -> Key {
    Key::new(format!("{CODE_PREFIX}{hash}"), "CODE")
}

impl Store {
    pub async fn put_pending_authorization(&self, p: &PendingAuthorization) -> Result<(), Error> {
        // The key is the hash of 256 random bits: it never meets another request's.
        self.put_unconditional(request_to_item(p)).await
    }

    /// The request stored under `id_hash`, unless absent, expired or consumed.
    pub async fn pending_authorization(&self, id_hash: &str, now: i64) -> Result<Option<PendingAuthorization>, Error> {
        let Some(item) = self.get(request_key(id_hash), now).await? else { return Ok(None) };
        if item.opt_string("consumed_by").is_some() {
            return Ok(None);
        }
        request_from_item(&item).reading("authorization request").map(Some)
    }

    /// Consumes the request: marks it with a value of this attempt's own rather than deleting
    /// it, so that a retry of a write whose answer was lost (the SDK's) finds its own mark and
    /// is not taken for a second answer. `LostRace` when it was consumed by another attempt (or
    /// expired) meanwhile.
    pub async fn consume_pending_authorization(&self, id_hash: &str, now: i64) -> Result<Written, Error> {
        let mark = random_id();
        let result = self
            .update_item(request_key(id_hash))
            .update_expression("SET consumed_by = :mark")
            .condition_expression("attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(consumed_by)")
            .expression_attribute_values(":mark", s(&mark))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        if conditional(result, "UpdateItem")?.is_some() {
            return Ok(Written::Yes);
        }
        self.marked_by(id_hash, "consumed_by", &mark, now).await
    }

    /// After a conditional update that failed: `Yes` when the request carries `mark` in
    /// `attribute` all the same (a retry of our own write whose answer was lost), else `LostRace`.
    async fn marked_by(&self, id_hash: &str, attribute: &str, mark: &str, now: i64) -> Result<Written, Error> {
        let ours = self
            .get(request_key(id_hash), now)
            .await?
            .is_some_and(|item| item.opt_string(attribute).as_deref() == Some(mark));
        Ok(if ours { Written::Yes } else { Written::LostRace })
    }

    /// The request stored under `id_hash` with its WeChat leg and how far WeChat's callback got
    /// with it, consumed or not; `None` when absent, expired, or not offering WeChat.
    pub async fn wechat_progress(&self, id_hash: &str, now: i64) -> Result<Option<WechatProgress>, Error> {
        let Some(item) = self.get(request_key(id_hash), now).await? else { return Ok(None) };
        let pending = request_from_item(&item).reading("authorization request")?;
        if pending.wechat.is_none() {
            return Ok(None);
        }
        Ok(Some(WechatProgress {
            pending,
            consumed: item.opt_string("consumed_by").is_some(),
            answered_by_callback: item.opt_string("consumed_by").is_some()
                && item.opt_string("consumed_by") == item.opt_string("wechat_claim"),
            claimed_code: item.opt_string("wechat_code"),
            stepped_up_by: item.opt_string("wechat_stepped"),
            replay: item.opt_bytes("wechat_replay"),
        }))
    }

    /// Claims the request for the callback of the WeChat code hashing to `code_hash`, marked
    /// `mark`: `LostRace` when it is answered, expired, or claimed by another callback.
    pub async fn claim_for_wechat_code(
        &self,
        id_hash: &str,
        code_hash: &str,
        mark: &str,
        now: i64,
    ) -> Result<Written, Error> {
        let result = self
            .update_item(request_key(id_hash))
            .update_expression("SET wechat_code = :code, wechat_claim = :mark")
            .condition_expression(
                "attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(consumed_by) \
                 AND attribute_not_exists(wechat_code)",
            )
            .expression_attribute_values(":code", s(code_hash))
            .expression_attribute_values(":mark", s(mark))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        if conditional(result, "UpdateItem")?.is_some() {
            return Ok(Written::Yes);
        }
        self.marked_by(id_hash, "wechat_claim", mark, now).await
    }

    /// Gives up claim `mark` (its code failed, or the sign-in steps up to another scope,
    /// recording the code that led there), so that the request takes the next code.
    pub async fn release_wechat_claim(
        &self,
        id_hash: &str,
        mark: &str,
        step_up: Option<(WebScope, &str)>,
    ) -> Result<(), Error> {
        let mut update = self
            .update_item(request_key(id_hash))
            .condition_expression("wechat_claim = :mark")
            .expression_attribute_values(":mark", s(mark));
        update = match step_up {
            Some((scope, code_hash)) => update
                .update_expression("REMOVE wechat_code, wechat_claim SET wechat_scope = :scope, wechat_stepped = :code")
                .expression_attribute_values(":scope", s(scope.as_str()))
                .expression_attribute_values(":code", s(code_hash)),
            None => update.update_expression("REMOVE wechat_code, wechat_claim"),
        };
        // Lost: the request expired or was answered meanwhile; nothing is left to release.
        conditional(update.send().await, "UpdateItem").map(drop)
    }

    /// Records, under claim `mark`, the sealed session its callback started. With `consent` the
    /// request turns into a consent page for that session (its new CSRF hash and `sid`); without,
    /// the callback answers it, and the request is consumed by this very write (marked with the
    /// claim's mark, so that a repeated callback knows the request ended in this sign-in and
    /// not in a decision on a page).
    pub async fn record_wechat_sign_in(
        &self,
        id_hash: &str,
        mark: &str,
        replay: &[u8],
        consent: Option<(&str, &str)>,
    ) -> Result<Written, Error> {
        let mut update = self
            .update_item(request_key(id_hash))
            .condition_expression("wechat_claim = :mark AND attribute_not_exists(consumed_by)")
            .expression_attribute_values(":mark", s(mark))
            .expression_attribute_values(":replay", b(replay));
        update = match consent {
            Some((csrf_hash, sid)) => update
                .update_expression("SET wechat_replay = :replay, csrf_hash = :csrf, session_sid = :sid")
                .expression_attribute_values(":csrf", s(csrf_hash))
                .expression_attribute_values(":sid", s(sid)),
            None => update.update_expression("SET wechat_replay = :replay, consumed_by = :mark"),
        };
        conditional(update.send().await, "UpdateItem").map(Written::from_conditional)
    }

    /// A repeated callback shows the consent page again: with a new CSRF token (the first one
    /// went to a response the browser dropped).
    pub async fn renew_consent_csrf(&self, id_hash: &str, csrf_hash: &str, now: i64) -> Result<Written, Error> {
        let result = self
            .update_item(request_key(id_hash))
            .update_expression("SET csrf_hash = :csrf")
            .condition_expression("attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(consumed_by)")
            .expression_attribute_values(":csrf", s(csrf_hash))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        conditional(result, "UpdateItem").map(Written::from_conditional)
    }

    pub async fn put_authorization_code(&self, code: &AuthorizationCode) -> Result<(), Error> {
        // Unconditional, as the pending request above: a random key, and a retry must pass.
        self.put_unconditional(code_to_item(code)).await
    }

    /// The code stored under `hash`, used or not, unless absent or expired.
    pub async fn authorization_code(&self, hash: &str, now: i64) -> Result<Option<AuthorizationCode>, Error> {
        let Some(item) = self.get(code_key(hash), now).await? else { return Ok(None) };
        code_from_item(&item).reading("authorization code").map(Some)
    }

    /// Marks the code used, recording what it issues; `LostRace` when it was used (or expired)
    /// meanwhile.
    pub async fn redeem_authorization_code(&self, hash: &str, issued: &Redemption, now: i64) -> Result<Written, Error> {
        let result = self
            .update_item(code_key(hash))
            .update_expression("SET used_at = :now, family_id = :family, access_jti = :jti, access_exp = :exp")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":family", s(&issued.family_id))
            .expression_attribute_values(":jti", s(&issued.access_jti))
            .expression_attribute_values(":exp", n(issued.access_exp))
            .send()
            .await;
        conditional(result, "UpdateItem").map(Written::from_conditional)
    }
}

fn parse_scope(item: &Item) -> anyhow::Result<Scope> {
    Scope::parse(&item.opt_string("scope").unwrap_or_default())
        .map_err(|_| anyhow::anyhow!("stored scope is malformed"))
}

/// A request as it is put; `consumed_by` is only ever set by its consumption.
fn request_to_item(p: &PendingAuthorization) -> Item {
    Item::keyed(request_key(&p.id_hash))
        .set("csrf_hash", s(&p.csrf_hash))
        .set("client_id", s(&p.client_id))
        .set("redirect_uri", s(&p.redirect_uri))
        .set("redirect_uri_given", boolean(p.redirect_uri_given))
        .set("response_type", s(&p.response_type))
        .set("scope", s(p.scope.to_string()))
        .set("expires_at", n(p.expires_at))
        .set_opt("state", p.state.as_ref().map(s))
        .set_opt("code_challenge", p.code_challenge.as_ref().map(s))
        .set_opt("nonce", p.nonce.as_ref().map(s))
        .set_opt("session_sid", p.session_sid.as_ref().map(s))
        .set_opt("prompt_consent", p.prompt_consent.then(|| boolean(true)))
        .set_opt("wechat_appid", p.wechat.as_ref().map(|w| s(&w.appid)))
        .set_opt("wechat_scope", p.wechat.as_ref().map(|w| s(w.scope.as_str())))
        .set_opt("wechat_browser", p.wechat.as_ref().map(|w| s(&w.browser_hash)))
        .set_opt("device_hash", p.device.as_ref().map(s))
}

fn wechat_leg_from_item(item: &Item) -> anyhow::Result<Option<WechatLeg>> {
    let Some(appid) = item.opt_string("wechat_appid") else { return Ok(None) };
    let scope = item.string("wechat_scope")?;
    Ok(Some(WechatLeg {
        appid,
        scope: WebScope::parse(&scope).ok_or_else(|| anyhow::anyhow!("unknown WeChat scope {scope:?}"))?,
        browser_hash: item.string("wechat_browser")?,
    }))
}

/// Requests stored before `redirect_uri_given` existed named their `redirect_uri`.
fn request_from_item(item: &Item) -> anyhow::Result<PendingAuthorization> {
    Ok(PendingAuthorization {
        id_hash: item.string_after("pk", REQUEST_PREFIX)?,
        csrf_hash: item.string("csrf_hash")?,
        client_id: item.string("client_id")?,
        redirect_uri: item.string("redirect_uri")?,
        redirect_uri_given: item.opt_bool("redirect_uri_given").unwrap_or(true),
        response_type: item.string("response_type")?,
        scope: parse_scope(item)?,
        state: item.opt_string("state"),
        code_challenge: item.opt_string("code_challenge"),
        nonce: item.opt_string("nonce"),
        session_sid: item.opt_string("session_sid"),
        prompt_consent: item.opt_bool("prompt_consent").unwrap_or(false),
        wechat: wechat_leg_from_item(item)?,
        // Absent on every request but a device's (and on every item stored before devices).
        device: item.opt_string("device_hash"),
        expires_at: item.number("expires_at")?,
    })
}

/// A code as it is put; what its redemption issued (`used_at`, `family_id`, `access_jti`,
/// `access_exp`) is only ever set by the redemption's update.
fn code_to_item(code: &AuthorizationCode) -> Item {
    Item::keyed(code_key(&code.hash))
        .set("client_id", s(&code.client_id))
        .set("redirect_uri", s(&code.redirect_uri))
        .set("redirect_uri_given", boolean(code.redirect_uri_given))
        .set("scope", s(code.scope.to_string()))
        .set("code_challenge", s(&code.code_challenge))
        .set("subject", s(&code.subject))
        .set("expires_at", n(code.expires_at))
        .set_opt("auth_time", code.auth_time.map(n))
        .set_opt("nonce", code.nonce.as_ref().map(s))
        .set_opt("sid", code.sid.as_ref().map(s))
        .set_opt("amr", code.method.map(|m| s(m.amr())))
        .set_opt("used_at", code.used_at.map(n))
        .set_opt("family_id", code.family_id.as_ref().map(s))
        .set_opt("access_jti", code.access_jti.as_ref().map(s))
        .set_opt("access_exp", code.access_exp.map(n))
}

/// Codes stored before `redirect_uri_given` existed named their `redirect_uri`.
fn code_from_item(item: &Item) -> anyhow::Result<AuthorizationCode> {
    Ok(AuthorizationCode {
        hash: item.string_after("pk", CODE_PREFIX)?,
        client_id: item.string("client_id")?,
        redirect_uri: item.string("redirect_uri")?,
        redirect_uri_given: item.opt_bool("redirect_uri_given").unwrap_or(true),
        scope: parse_scope(item)?,
        code_challenge: item.string("code_challenge")?,
        subject: item.string("subject")?,
        auth_time: item.opt_number("auth_time"),
        nonce: item.opt_string("nonce"),
        sid: item.opt_string("sid"),
        method: item.opt_string("amr").and_then(|amr| SignInMethod::from_amr(&amr)),
        expires_at: item.number("expires_at")?,
        used_at: item.opt_number("used_at"),
        family_id: item.opt_string("family_id"),
        access_jti: item.opt_string("access_jti"),
        access_exp: item.opt_number("access_exp"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(item: &Item) -> Vec<&str> {
        let mut names: Vec<&str> = item.attributes().keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn a_pending_request_round_trips_keyed_by_its_hash() {
        let request = PendingAuthorization {
            id_hash: "h".into(),
            csrf_hash: "c".into(),
            client_id: "web".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: false,
            response_type: "code".into(),
            scope: Scope::parse("openid").expect("scope"),
            state: Some("st".into()),
            code_challenge: Some("ch".into()),
            nonce: None,
            session_sid: None,
            prompt_consent: false,
            wechat: None,
            device: None,
            expires_at: 600,
        };
        let item = request_to_item(&request);
        assert_eq!(request_from_item(&item).expect("reads"), request);
        assert_eq!(item.attributes()["pk"], s("AUTHZ#h"));
        let expected = [
            "client_id",
            "code_challenge",
            "csrf_hash",
            "expires_at",
            "pk",
            "redirect_uri",
            "redirect_uri_given",
            "response_type",
            "scope",
            "sk",
            "state",
        ];
        assert_eq!(names(&item), expected);
        let mut old = item.into_attributes();
        old.remove("redirect_uri_given");
        assert!(request_from_item(&Item(old)).expect("an older item reads").redirect_uri_given);
        let consent_page = PendingAuthorization { session_sid: Some("sid1".into()), ..request };
        assert_eq!(request_from_item(&request_to_item(&consent_page)).expect("reads"), consent_page);
        let leg = WechatLeg { appid: "wxoa".into(), scope: WebScope::Base, browser_hash: "bh".into() };
        let with_wechat = PendingAuthorization { wechat: Some(leg), prompt_consent: true, ..consent_page };
        assert_eq!(request_from_item(&request_to_item(&with_wechat)).expect("reads"), with_wechat);
        let for_device = PendingAuthorization { device: Some("dh".into()), wechat: None, ..with_wechat };
        let item = request_to_item(&for_device);
        assert_eq!(item.attributes()["device_hash"], s("dh"));
        assert_eq!(request_from_item(&item).expect("reads"), for_device);
    }

    #[test]
    fn a_code_round_trips_before_and_after_redemption() {
        let code = AuthorizationCode {
            hash: "h".into(),
            client_id: "web".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: true,
            scope: Scope::parse("openid").expect("scope"),
            code_challenge: "ch".into(),
            subject: "u1".into(),
            auth_time: Some(1),
            nonce: Some("n".into()),
            sid: None,
            method: None,
            expires_at: 60,
            used_at: None,
            family_id: None,
            access_jti: None,
            access_exp: None,
        };
        let item = code_to_item(&code);
        assert_eq!(code_from_item(&item).expect("reads"), code);
        assert_eq!((&item.attributes()["pk"], &item.attributes()["sk"]), (&s("CODE#h"), &s("CODE")));
        let expected = [
            "auth_time",
            "client_id",
            "code_challenge",
            "expires_at",
            "nonce",
            "pk",
            "redirect_uri",
            "redirect_uri_given",
            "scope",
            "sk",
            "subject",
        ];
        assert_eq!(names(&item), expected);
        let redeemed = AuthorizationCode {
            used_at: Some(2),
            family_id: Some("f".into()),
            access_jti: Some("j".into()),
            access_exp: Some(900),
            ..code
        };
        assert_eq!(code_from_item(&code_to_item(&redeemed)).expect("reads"), redeemed);
        let in_session =
            AuthorizationCode { sid: Some("sid1".into()), method: Some(SignInMethod::Password), ..redeemed };
        let item = code_to_item(&in_session);
        assert_eq!(item.attributes()["amr"], s("pwd"));
        assert_eq!(code_from_item(&item).expect("reads"), in_session);
    }
}
