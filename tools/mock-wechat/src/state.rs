//! The mock's one shared state, [`Mock`] (served behind one mutex by
//! [`crate::routes::AppState`]), and what several WeChat APIs share:
//! registered apps (secret, kind, web domain, published pages), one-time
//! code tracking, call counters, `rid`s and the random generator.
//!
//! Each API's rules are an `impl Mock` block in that API's file, and the
//! state only that API reads lives in a type of that file (a field here).
//! Nothing here does I/O or reads a clock: every method that depends on time
//! takes `now_ms` (Unix time in milliseconds), so tests drive expiry
//! directly. Randomness (access tokens, `rid`s) comes from a seed given to
//! [`Mock::new`]. Keys always include the appid (or the code, for fixture
//! codes), so tests using distinct appids or names never interfere.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::WxError;
use crate::jscode2session::Logins;
use crate::sns_oauth2::WebLogins;
use crate::tokens::AccessTokens;

// The fuzz target (fuzz/fuzz_targets/mock_query.rs) imports the request from here.
pub use crate::jscode2session::Jscode2SessionRequest;

/// How long a login, phone or web sign-in code stays valid after it was
/// first seen (fixture codes: registered; web codes: issued): five minutes,
/// like WeChat's.
pub const CODE_TTL_MS: u64 = 5 * 60 * 1000;

/// All the mock's state.
#[derive(Debug)]
pub struct Mock {
    /// Registered apps, by appid.
    apps: HashMap<String, App>,
    calls: HashMap<String, Calls>,
    rng: Rng,
    /// `jscode2session`'s codes and the session keys it issued.
    pub(crate) logins: Logins,
    /// `getuserphonenumber`'s codes, by (appid, code).
    pub(crate) phone_codes: HashMap<(String, String), CodeUse>,
    /// Access tokens, issued by `stable_token`, taken by the other APIs.
    pub(crate) tokens: AccessTokens,
    /// Web sign-in: the codes the authorize pages issued, and the user
    /// access and refresh tokens `/sns/oauth2/*` issued for them.
    pub(crate) web: WebLogins,
    /// `getwxacodeunlimit`: the codes made, and the failures asked for.
    pub(crate) wxacodes: crate::wxacode::WxaCodes,
}

/// A registered app (fixtures file or `POST /mock/apps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The only secret the app's APIs accept (else 40125).
    pub secret: String,
    /// A web app (Official Account or website app) signs users in through
    /// [`crate::web_authorize`]; `None` for other apps (mini programs).
    pub kind: Option<AppKind>,
    /// The web app's 网页授权域名 / 授权回调域: a lowercase host that every
    /// `redirect_uri` must have (any port). `None`: any host.
    pub domain: Option<String>,
    /// A mini program's published pages, the first its main page
    /// ([`crate::wxacode`]); `None`: [`crate::wxacode::DEFAULT_PAGES`].
    pub pages: Option<Vec<String>>,
}

impl App {
    /// An app known by its secret only (a mini program, say).
    pub fn with_secret(secret: &str) -> Self {
        Self { secret: secret.to_owned(), kind: None, domain: None, pages: None }
    }
}

/// The kind of a web app, which decides its sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// 公众号: `/connect/oauth2/authorize`, scopes `snsapi_base` and `snsapi_userinfo`.
    OfficialAccount,
    /// 网站应用: `/connect/qrconnect`, scope `snsapi_login`.
    Website,
}

/// Calls received per WeChat API, for one appid (`GET /mock/calls`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Calls {
    pub jscode2session: u64,
    pub stable_token: u64,
    pub getuserphonenumber: u64,
    pub checksession: u64,
    /// Both sign-in pages (`/connect/oauth2/authorize`, `/connect/qrconnect`), GET and POST.
    pub web_authorize: u64,
    pub sns_oauth2_access_token: u64,
    pub sns_oauth2_refresh_token: u64,
    pub sns_userinfo: u64,
    pub sns_auth: u64,
    pub getwxacodeunlimit: u64,
}

/// The WeChat APIs the mock counts calls of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Jscode2Session,
    StableToken,
    GetUserPhoneNumber,
    CheckSession,
    WebAuthorize,
    SnsOauth2AccessToken,
    SnsOauth2RefreshToken,
    SnsUserinfo,
    SnsAuth,
    GetWxaCodeUnlimit,
}

impl Mock {
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            apps: HashMap::new(),
            calls: HashMap::new(),
            rng: Rng { seed, counter: 0 },
            logins: Logins::default(),
            phone_codes: HashMap::new(),
            tokens: AccessTokens::default(),
            web: WebLogins::default(),
            wxacodes: crate::wxacode::WxaCodes::default(),
        }
    }

    /// Registers (or replaces) an app by its secret alone: a different secret
    /// is then refused with 40125. Unregistered appids accept any secret.
    pub fn register_app(&mut self, appid: &str, secret: &str) {
        self.add_app(appid, App::with_secret(secret));
    }

    /// Registers (or replaces) an app: its secret, and for a web app its kind
    /// and domain.
    pub fn add_app(&mut self, appid: &str, app: App) {
        self.apps.insert(appid.to_owned(), app);
    }

    /// The registered app `appid`.
    pub(crate) fn app(&self, appid: &str) -> Option<&App> {
        self.apps.get(appid)
    }

    /// 40125 if `appid` is registered with another secret.
    pub(crate) fn check_secret(&self, appid: &str, secret: &str) -> Result<(), WxError> {
        match self.apps.get(appid) {
            Some(registered) if registered.secret != secret => Err(WxError::INVALID_APPSECRET),
            _ => Ok(()),
        }
    }

    /// Calls received per API for `appid`.
    pub fn calls(&self, appid: &str) -> Calls {
        self.calls.get(appid).copied().unwrap_or_default()
    }

    /// Counts one call of `api` for `appid`.
    pub(crate) fn count(&mut self, appid: &str, api: Api) {
        let calls = self.calls.entry(appid.to_owned()).or_default();
        let counter = match api {
            Api::Jscode2Session => &mut calls.jscode2session,
            Api::StableToken => &mut calls.stable_token,
            Api::GetUserPhoneNumber => &mut calls.getuserphonenumber,
            Api::CheckSession => &mut calls.checksession,
            Api::WebAuthorize => &mut calls.web_authorize,
            Api::SnsOauth2AccessToken => &mut calls.sns_oauth2_access_token,
            Api::SnsOauth2RefreshToken => &mut calls.sns_oauth2_refresh_token,
            Api::SnsUserinfo => &mut calls.sns_userinfo,
            Api::SnsAuth => &mut calls.sns_auth,
            Api::GetWxaCodeUnlimit => &mut calls.getwxacodeunlimit,
        };
        *counter += 1;
    }

    /// A WeChat-like request id: `<unix seconds hex>-<8 hex>-<8 hex>`.
    pub fn rid(&mut self, now_ms: u64) -> String {
        let b = self.rng.next_block();
        let secs = (now_ms / 1000) & 0xffff_ffff;
        format!(
            "{secs:08x}-{:08x}-{:08x}",
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]])
        )
    }

    /// 32 bytes from the seeded generator.
    pub(crate) fn random_block(&mut self) -> [u8; 32] {
        self.rng.next_block()
    }
}

/// A fresh random seed for [`Mock::new`] (falls back to the time and process
/// id if the OS generator fails: the mock needs unpredictability, not secrecy).
pub fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut h = Sha256::new();
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        seed = h.finalize().into();
    }
    seed
}

/// A parameter WeChat counts as given: present and not empty.
pub(crate) fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Use of one one-time code by one appid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeUse {
    first_seen_ms: u64,
    /// `busy-<name>` answered its one -1.
    pub(crate) busy_answered: bool,
    pub(crate) used: bool,
}

impl CodeUse {
    pub(crate) fn new(now_ms: u64) -> Self {
        Self { first_seen_ms: now_ms, busy_answered: false, used: false }
    }

    /// Checks the code is neither used nor expired (used wins); an expired
    /// code answers 40029 `invalid code`, as `jscode2session` does.
    pub(crate) fn check(&self, now_ms: u64) -> Result<(), WxError> {
        if self.used {
            Err(WxError::CODE_BEEN_USED)
        } else if self.expired(now_ms) {
            Err(WxError::INVALID_CODE)
        } else {
            Ok(())
        }
    }

    /// [`CODE_TTL_MS`] or more since the code was first seen (or issued).
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.first_seen_ms.saturating_add(CODE_TTL_MS)
    }
}

/// Deterministic generator: sha256(seed ‖ counter).
#[derive(Debug)]
struct Rng {
    seed: [u8; 32],
    counter: u64,
}

impl Rng {
    fn next_block(&mut self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.counter.to_le_bytes());
        self.counter += 1;
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, login, mock, token};
    use crate::tokens::ACCESS_TOKEN_TTL_MS;

    #[test]
    fn calls_are_counted_per_appid() {
        let mut m = mock();
        let _ = m.jscode2session(&login("wxa", "ok-h"), T0);
        let _ = m.jscode2session(&login("wxa", "nope"), T0);
        let _ = m.jscode2session(&Jscode2SessionRequest::default(), T0);
        let t = token(&mut m, "wxa", T0);
        let _ = m.resolve_token(Some(&t), Api::GetUserPhoneNumber, T0);
        let _ = m.resolve_token(Some(&t), Api::CheckSession, T0);
        let _ = m.resolve_token(Some(&t), Api::CheckSession, T0 + ACCESS_TOKEN_TTL_MS);
        let _ = m.resolve_token(Some("bogus"), Api::CheckSession, T0);
        assert_eq!(
            m.calls("wxa"),
            Calls { jscode2session: 2, stable_token: 1, getuserphonenumber: 1, checksession: 2, ..Calls::default() }
        );
        assert_eq!(m.calls("wxb"), Calls::default());
    }

    #[test]
    fn rid_looks_like_wechats() {
        let mut m = mock();
        let a = m.rid(T0);
        let b = m.rid(T0);
        assert_ne!(a, b);
        assert_eq!(a.len(), 26);
        assert!(a.starts_with(&format!("{:08x}-", T0 / 1000)));
        assert!(a.split('-').all(|part| part.len() == 8 && part.bytes().all(|c| c.is_ascii_hexdigit())));
    }
}
