//! Sign in with WeChat on the web: which WeChat sign-in a sign-in page offers ([`choose`]),
//! WeChat's authorization URL ([`wechat_url`]), and its callback ([`callback`]).
//!
//! WeChat's `state` is the pending request's id (letters and digits): the callback finds the
//! request by its hash, and counts only in the browser the page was shown in, which holds the
//! binding cookie whose hash the request stored (`SameSite=Lax`: WeChat's redirect is a
//! cross-site navigation). The callback claims the request for its code before asking WeChat
//! (two callbacks never both exchange), then:
//! - the openid is linked to a user (or, with `snsapi_userinfo`/`snsapi_login`, is linked now by
//!   its unionid, or a user is created: [`crate::store::users`]): a new browser session starts;
//!   the request is answered at once when the user saw our page (the QR link) or consented to
//!   this client before, else the consent page is shown for the new session;
//! - `snsapi_base` gave an openid nobody is linked to: once more to WeChat with
//!   `snsapi_userinfo`, for the unionid (the same state: the claim is released for its code);
//! - WeChat refused the code or the user: the claim is released, and the page says what
//!   happened and links back to WeChat with the same state.
//!
//! WeChat may call the callback twice with one code; the second call answers the same sign-in
//! ([`super::wechat_replay`]): no second exchange, no second user, no error page. Identity comes
//! only from WeChat's answer to the code, never from the query.

use std::time::Duration;

use crate::App;
use crate::domain::authorization::{PendingAuthorization, WechatLeg, WechatProgress};
use crate::domain::browser_session::SignInMethod;
use crate::domain::user::{Openid, WechatIdentity};
use crate::domain::wechat_web::{BrowserKind, WebAppKind, WebScope, WechatWebApp};
use crate::error::Error;
use crate::oauth::authorization::{self, Refusal, Resumed, Unredirectable};
use crate::oauth::{browser_session, wechat_replay};
use crate::params::Params;
use crate::secret::{constant_time_eq, hash, random_id, random_token};
use crate::store::Written;
use crate::store::users::openid_key;
use crate::wechat::api::{WechatError, plausible_code};
use crate::wechat::{errcode, web};

/// The callback's path under the issuer.
pub const CALLBACK_PATH: &str = "/oauth/wechat/callback";
/// How long the binding cookie lives: as long as a pending request.
const BINDING_TTL_SECONDS: i64 = authorization::PENDING_TTL_SECONDS;
/// How long a repeated callback waits for the first one to finish.
const FIRST_CALLBACK_WAIT: Duration = Duration::from_secs(3);

/// What the sign-in page offers for WeChat.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    /// Nothing: no fitting app, or a browser WeChat sign-in does not work in (WeCom).
    Nothing,
    /// Inside WeChat with an Official Account: straight to WeChat's silent authorization.
    OfficialAccount(WechatWebApp),
    /// A desktop browser with a website app: a link to WeChat's QR page.
    Website(WechatWebApp),
    /// Another phone browser: a hint to open the page in WeChat.
    OpenInWechat,
}

/// The WeChat sign-in that fits `browser`, given the registered web apps.
pub async fn choose(app: &App, browser: BrowserKind) -> Result<Choice, Error> {
    if browser == BrowserKind::WeCom {
        return Ok(Choice::Nothing);
    }
    let apps = app.store.wechat_web_apps().await?;
    let of_kind = |kind: WebAppKind| apps.iter().find(|a| a.kind == kind).cloned();
    Ok(match browser {
        BrowserKind::Wechat => of_kind(WebAppKind::OfficialAccount).map_or(Choice::Nothing, Choice::OfficialAccount),
        BrowserKind::Desktop => of_kind(WebAppKind::Website).map_or(Choice::Nothing, Choice::Website),
        _ if apps.is_empty() => Choice::Nothing,
        _ => Choice::OpenInWechat,
    })
}

/// The browser's binding cookie: its value (kept when the browser has one of ours, so that pages
/// open in two tabs both stay bound) and the leg of a request for `web_app` bound to it.
pub fn bind(browser_cookie: Option<&str>, web_app: &WechatWebApp) -> (String, WechatLeg) {
    let value = binding_value(browser_cookie);
    let leg =
        WechatLeg { appid: web_app.appid().to_string(), scope: web_app.kind.first_scope(), browser_hash: hash(&value) };
    (value, leg)
}

/// The binding cookie's value for a page: the browser's own when it has one of ours, else a new
/// one. It binds the scan sign-in's ticket to the browser as well.
pub fn binding_value(browser_cookie: Option<&str>) -> String {
    browser_cookie.filter(|v| plausible_binding(v)).map_or_else(random_token, str::to_string)
}

fn plausible_binding(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The binding cookie's name for `issuer`.
pub fn binding_cookie_name(issuer: &str) -> &'static str {
    if issuer.starts_with("https://") { "__Host-wxauth_wechat" } else { "wxauth_wechat" }
}

/// The `Set-Cookie` value of binding cookie `value`.
pub fn binding_cookie(app: &App, value: &str) -> String {
    let issuer = &app.config.issuer;
    let secure = browser_session::secure_attribute(issuer);
    format!(
        "{}={value}; Path=/; Max-Age={BINDING_TTL_SECONDS}; HttpOnly; SameSite=Lax{secure}",
        binding_cookie_name(issuer)
    )
}

/// WeChat's authorization URL for `leg` with `state`, in WeChat's parameter order and with its
/// `#wechat_redirect` (both required: WeChat matches the link strictly).
pub fn wechat_url(app: &App, leg: &WechatLeg, state: &str) -> String {
    let path = match leg.scope.kind() {
        WebAppKind::OfficialAccount => "/connect/oauth2/authorize",
        WebAppKind::Website => "/connect/qrconnect",
    };
    let redirect_uri = format!("{}{CALLBACK_PATH}", app.config.issuer);
    let query = serde_urlencoded::to_string([
        ("appid", leg.appid.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", leg.scope.as_str()),
        ("state", state),
    ])
    .unwrap_or_default();
    format!("{}{path}?{query}#wechat_redirect", app.config.wechat_open_base)
}

/// What went wrong on WeChat's side, as the page tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatProblem {
    /// The user declined at WeChat (the callback came without a code).
    Declined,
    /// WeChat refused the code (invalid, used, expired): sign in again.
    CodeRejected,
    /// A snapshot-mode user (快照页): they must tap 使用完整服务 first.
    Snapshot,
    /// WeChat busy or unreachable (503).
    Unavailable,
    /// WeChat's per-minute quota (429).
    Quota,
    /// WeChat refused our app (its secret, its appid): the operator must look (502).
    Misconfigured,
}

/// How a callback ends.
pub enum CallbackEnd {
    /// Signed in and answered: to the client, with the new session's cookie value.
    Client { location: String, session_cookie: String },
    /// Signed in, not yet consented: the consent page for the new session (the form's
    /// `request_id` and `csrf_token`, and the user's name if they have one).
    Consent {
        resumed: Box<Resumed>,
        request_id: String,
        csrf_token: String,
        session_cookie: String,
        user_name: Option<String>,
    },
    /// The openid is new: once more to WeChat, for the unionid.
    StepUp(String),
    /// WeChat said no: the page, and WeChat's URL to try again.
    Failed { problem: WechatProblem, retry: String },
}

/// Handles WeChat's redirect back with `code` and `state`, in the browser holding `binding` (and,
/// if it has one, the browser-session cookie `session`).
pub async fn callback(
    app: &App,
    params: &Params,
    binding: Option<&str>,
    session: Option<&str>,
    now: i64,
) -> Result<CallbackEnd, Refusal> {
    let state = params.get("state").unwrap_or_default();
    if !(1..=128).contains(&state.len()) || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Refusal::Shown(Unredirectable::Expired));
    }
    let id_hash = hash(state);
    let Some(progress) = app.store.wechat_progress(&id_hash, now).await? else {
        return Err(Refusal::Shown(Unredirectable::Expired));
    };
    let leg = progress.pending.wechat.clone().ok_or(Refusal::Shown(Unredirectable::Expired))?;
    let Some(binding) = binding.filter(|b| constant_time_eq(&hash(b), &leg.browser_hash)) else {
        return Err(Refusal::Shown(Unredirectable::OtherBrowser));
    };
    let retry = wechat_url(app, &leg, state);
    let code = match params.get("code").filter(|c| !c.is_empty()) {
        None => return Ok(CallbackEnd::Failed { problem: WechatProblem::Declined, retry }),
        Some(code) if !plausible_code(code) => {
            return Ok(CallbackEnd::Failed { problem: WechatProblem::CodeRejected, retry });
        }
        Some(code) => code,
    };
    let code_hash = hash(code);
    if progress.stepped_up_by.as_deref() == Some(code_hash.as_str()) {
        // WeChat repeating the callback of the code that stepped up: the same answer.
        return Ok(CallbackEnd::StepUp(wechat_url(app, &leg, state)));
    }
    let mark = random_id();
    let claimed = !progress.consumed
        && progress.claimed_code.is_none()
        && app.store.claim_for_wechat_code(&id_hash, &code_hash, &mark, now).await? == Written::Yes;
    if !claimed {
        return repeated(app, state, &id_hash, &code_hash, binding, session, now).await;
    }
    let claim = Claim { id_hash: &id_hash, mark: &mark, code_hash: &code_hash };
    let ended = finish(app, progress.pending, leg, state, code, &claim, binding, retry, now).await;
    if ended.is_err() {
        // Whatever failed, the request takes the next code (WeChat's retry link) instead of
        // waiting out its ten minutes; the error it answers says more than a failed release.
        let _ = app.store.release_wechat_claim(&id_hash, &mark, None).await;
    }
    ended
}

/// The request's claim for one WeChat code: the request, the claim's mark, the code.
struct Claim<'a> {
    id_hash: &'a str,
    mark: &'a str,
    code_hash: &'a str,
}

/// The callback once `claim` is held: WeChat asked, the user found, the session started, the
/// request answered or turned into a consent page.
#[allow(clippy::too_many_arguments)]
async fn finish(
    app: &App,
    pending: PendingAuthorization,
    leg: WechatLeg,
    state: &str,
    code: &str,
    claim: &Claim<'_>,
    binding: &str,
    retry: String,
    now: i64,
) -> Result<CallbackEnd, Refusal> {
    let user_id = match sign_in(app, &leg, code, now).await? {
        SignedIn::User(user_id) => user_id,
        SignedIn::StepUp => {
            let step_up = Some((WebScope::Userinfo, claim.code_hash));
            app.store.release_wechat_claim(claim.id_hash, claim.mark, step_up).await?;
            let leg = WechatLeg { scope: WebScope::Userinfo, ..leg };
            return Ok(CallbackEnd::StepUp(wechat_url(app, &leg, state)));
        }
        SignedIn::Refused(problem) => {
            app.store.release_wechat_claim(claim.id_hash, claim.mark, None).await?;
            return Ok(CallbackEnd::Failed { problem, retry });
        }
    };
    let resumed = authorization::recheck(app, pending, now).await?;
    // A new session, with a new cookie value, as every sign-in starts.
    let (session_cookie, session) = browser_session::start(app, &user_id, SignInMethod::Wechat, now).await?;
    let replay = wechat_replay::seal(binding, claim.id_hash, &session_cookie)?;
    // The QR link was chosen on our page, which named the client and the scopes: that is the
    // consent, as a password sign-in on it is. Inside WeChat our page was never shown: a
    // remembered consent counts, unless the request said prompt=consent.
    let consented = leg.scope.kind() == WebAppKind::Website
        || !resumed.pending.prompt_consent
            && app
                .store
                .consent(&user_id, &resumed.client.id, now)
                .await?
                .is_some_and(|c| c.covers(&resumed.pending.scope));
    if consented {
        // The replay and the request's consumption in one write: a repeated callback sees both.
        if app.store.record_wechat_sign_in(claim.id_hash, claim.mark, &replay, None).await? == Written::LostRace {
            return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
        }
        let location = authorization::grant(app, &resumed, &session, now).await?;
        return Ok(CallbackEnd::Client { location, session_cookie });
    }
    let csrf_token = random_token();
    let csrf_hash = hash(&csrf_token);
    let consent_for = Some((csrf_hash.as_str(), session.sid.as_str()));
    if app.store.record_wechat_sign_in(claim.id_hash, claim.mark, &replay, consent_for).await? == Written::LostRace {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let mut resumed = resumed;
    resumed.pending.session_sid = Some(session.sid.clone());
    let user_name = user_name(app, &user_id).await?;
    let request_id = state.to_string();
    Ok(CallbackEnd::Consent { resumed: Box::new(resumed), request_id, csrf_token, session_cookie, user_name })
}

/// How the consent page names a user: their username, else their WeChat nickname.
pub async fn user_name(app: &App, user_id: &str) -> Result<Option<String>, Error> {
    Ok(app.store.user(user_id).await?.and_then(|u| u.username.or(u.nickname)))
}

/// A callback for a request claimed already: WeChat repeating the first callback's code (then the
/// same answer, once the first finished), or anything else (refused). The first sign-in is
/// answered again only while it stands: the request ended in it (not in a decision on the
/// consent page since), and the browser holds no other session.
async fn repeated(
    app: &App,
    state: &str,
    id_hash: &str,
    code_hash: &str,
    binding: &str,
    current_session: Option<&str>,
    now: i64,
) -> Result<CallbackEnd, Refusal> {
    let started = std::time::Instant::now();
    let progress = loop {
        let Some(progress) = app.store.wechat_progress(id_hash, now).await? else {
            return Err(Refusal::Shown(Unredirectable::Expired));
        };
        let leg = progress.pending.wechat.clone().ok_or(Refusal::Shown(Unredirectable::Expired))?;
        if progress.stepped_up_by.as_deref() == Some(code_hash) {
            return Ok(CallbackEnd::StepUp(wechat_url(app, &leg, state)));
        }
        if progress.claimed_code.as_deref() != Some(code_hash) {
            if !progress.consumed && progress.claimed_code.is_none() {
                // The first callback of this code failed and let go: as it answered.
                let retry = wechat_url(app, &leg, state);
                return Ok(CallbackEnd::Failed { problem: WechatProblem::CodeRejected, retry });
            }
            return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
        }
        if progress.replay.is_some() {
            break progress;
        }
        if started.elapsed() > FIRST_CALLBACK_WAIT {
            return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if progress.consumed && !progress.answered_by_callback {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let WechatProgress { pending, consumed, replay, .. } = progress;
    let session_cookie = replay
        .and_then(|sealed| wechat_replay::open(binding, id_hash, &sealed))
        .ok_or(Refusal::Shown(Unredirectable::AlreadyAnswered))?;
    if current_session.is_some_and(|current| current != session_cookie) {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let Some(session) = browser_session::current(app, Some(&session_cookie), now).await? else {
        return Err(Refusal::Shown(Unredirectable::SessionEnded));
    };
    if consumed {
        // The first answer went to a response the browser dropped: the client gets a code of its
        // own from this one (each code single use; the sign-in, its session and user, are one).
        let resumed = authorization::recheck(app, pending, now).await?;
        let location = authorization::issue(app, &resumed.client, &resumed.pending, &session, now).await?;
        return Ok(CallbackEnd::Client { location, session_cookie });
    }
    if pending.session_sid.as_deref() != Some(session.sid.as_str()) {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let csrf_token = random_token();
    if app.store.renew_consent_csrf(id_hash, &hash(&csrf_token), now).await? == Written::LostRace {
        return Err(Refusal::Shown(Unredirectable::AlreadyAnswered));
    }
    let resumed = authorization::recheck(app, pending, now).await?;
    let user_name = user_name(app, &session.user_id).await?;
    let request_id = state.to_string();
    Ok(CallbackEnd::Consent { resumed: Box::new(resumed), request_id, csrf_token, session_cookie, user_name })
}

/// What WeChat's answer to a code means for the sign-in.
enum SignedIn {
    User(String),
    StepUp,
    Refused(WechatProblem),
}

/// Exchanges `code` with WeChat and finds (or links, or creates) the user behind it.
async fn sign_in(app: &App, leg: &WechatLeg, code: &str, now: i64) -> Result<SignedIn, Error> {
    let Some(web_app) = app.store.wechat_web_app(&leg.appid).await?.filter(|a| a.kind == leg.scope.kind()) else {
        return Ok(SignedIn::Refused(WechatProblem::Misconfigured));
    };
    let secret = app.app_secrets.secret(&app.data_key, &web_app.credentials).await?;
    let grant = match web::access_token(&app.wechat, &leg.appid, &secret, code).await {
        Ok(grant) => grant,
        Err(e) => return refused(e),
    };
    if grant.snapshot {
        return Ok(SignedIn::Refused(WechatProblem::Snapshot));
    }
    let openid = Openid { appid: &leg.appid, openid: &grant.openid };
    let linked = app.store.mapping_of(openid_key(openid)).await?;
    let identity =
        |unionid: Option<String>| WechatIdentity { appid: leg.appid.clone(), openid: grant.openid.clone(), unionid };
    if let Some(mapping) = linked {
        // A unionid seen for the first time for this openid is recorded (never merged over another user's).
        if grant.unionid.is_some() && mapping.unionid.is_none() {
            app.store.wechat_user(&identity(grant.unionid.clone()), now).await?;
        }
        return Ok(SignedIn::User(mapping.user_id));
    }
    if !leg.scope.reads_profile() {
        return Ok(SignedIn::StepUp);
    }
    let profile = match web::userinfo(&app.wechat, &grant).await {
        Ok(profile) => profile,
        Err(e) => return refused(e),
    };
    let unionid = grant.unionid.clone().or(profile.unionid.clone());
    let user_id = app.store.wechat_user(&identity(unionid), now).await?;
    if profile.nickname.is_some() || profile.picture.is_some() {
        app.store.set_user_profile(&user_id, profile.nickname.as_deref(), profile.picture.as_deref()).await?;
    }
    Ok(SignedIn::User(user_id))
}

/// A failed WeChat call, as the page tells it (a fault the caller answers as 503 is a page too).
fn refused(e: WechatError) -> Result<SignedIn, Error> {
    let problem = match &e {
        WechatError::Api {
            errcode: errcode::INVALID_CODE | errcode::CODE_BEEN_USED | errcode::CODE_EXPIRED, ..
        } => WechatProblem::CodeRejected,
        WechatError::Api { errcode: errcode::MINUTE_QUOTA_REACHED, .. } => WechatProblem::Quota,
        WechatError::Unreachable(_) | WechatError::Api { errcode: errcode::SYSTEM_BUSY, .. } => {
            tracing::warn!(error = %e, "WeChat's web authorization is unavailable");
            WechatProblem::Unavailable
        }
        _ => {
            tracing::error!(error = %e, "WeChat refused the web sign-in of a registered app");
            WechatProblem::Misconfigured
        }
    };
    Ok(SignedIn::Refused(problem))
}
