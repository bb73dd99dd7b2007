//! The mock's pure logic: registered apps, login and phone codes, access
//! tokens, the latest session key per user, and call counters.
//!
//! Nothing here does I/O or reads a clock: every method that depends on time
//! takes `now_ms` (Unix time in milliseconds), so tests drive expiry directly.
//! Randomness (access tokens, `rid`s) comes from a seed given to [`Mock::new`].

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How long a login or phone code stays valid after it was first seen (or,
/// for fixture codes, registered): five minutes, like WeChat's.
pub const CODE_TTL_MS: u64 = 5 * 60 * 1000;
/// Lifetime of an access token, in seconds (WeChat's `expires_in`).
pub const ACCESS_TOKEN_TTL_S: u64 = 7200;
const ACCESS_TOKEN_TTL_MS: u64 = ACCESS_TOKEN_TTL_S * 1000;
/// The prefix hashed with a code's name to derive its session key.
pub const SESSION_KEY_CONTEXT: &str = "mock-wechat session key:";

/// A WeChat error, by its `errcode`; [`WxError::errmsg`] gives WeChat's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WxError(pub i64);

impl WxError {
    pub const SYSTEM_ERROR: Self = Self(-1);
    pub const INVALID_CREDENTIAL: Self = Self(40001);
    pub const INVALID_GRANT_TYPE: Self = Self(40002);
    pub const INVALID_CODE: Self = Self(40029);
    pub const INVALID_APPSECRET: Self = Self(40125);
    pub const CODE_BEEN_USED: Self = Self(40163);
    pub const ACCESS_TOKEN_MISSING: Self = Self(41001);
    pub const APPID_MISSING: Self = Self(41002);
    pub const APPSECRET_MISSING: Self = Self(41004);
    pub const MISSING_CODE: Self = Self(41008);
    pub const ACCESS_TOKEN_EXPIRED: Self = Self(42001);
    pub const DATA_FORMAT_ERROR: Self = Self(47001);
    pub const INVALID_SIGNATURE: Self = Self(87009);

    /// WeChat's `errmsg` for this code (without the `, rid: …` suffix), or
    /// `"mock error"` for codes the mock has no text for.
    pub fn errmsg(self) -> &'static str {
        match self.0 {
            -1 => "system error",
            40001 => "invalid credential, access_token is invalid or not latest",
            40002 => "invalid grant_type",
            40029 => "invalid code",
            40125 => "invalid appsecret",
            40163 => "code been used",
            40226 => "high risk user",
            41001 => "access_token missing",
            41002 => "appid missing",
            41004 => "appsecret missing",
            41008 => "missing code",
            42001 => "access_token expired",
            45011 => "api minute-quota reach limit  mustslower  retry next minute",
            47001 => "data format error",
            87009 => "invalid signature",
            _ => "mock error",
        }
    }
}

/// A successful `jscode2session` answer (serializes to WeChat's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub openid: String,
    pub session_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// A code registered by the fixtures file or `POST /mock/codes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixtureCode {
    /// Valid once, for `appid` only, within [`CODE_TTL_MS`] of registration.
    Session { appid: String, session: Session },
    /// Answers this errcode every time, for any appid.
    Error(i64),
}

/// A successful `stable_token` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_in: u64,
}

/// `phone_info` of a successful `getuserphonenumber` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneInfo {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
    pub watermark: Watermark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watermark {
    pub timestamp: u64,
    pub appid: String,
}

/// Calls received per WeChat API, for one appid.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Calls {
    pub jscode2session: u64,
    pub stable_token: u64,
    pub getuserphonenumber: u64,
    pub checksession: u64,
}

/// The WeChat APIs the mock counts calls of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Jscode2Session,
    StableToken,
    GetUserPhoneNumber,
    CheckSession,
}

/// Query parameters of `GET /sns/jscode2session`.
#[derive(Debug, Default, Clone)]
pub struct Jscode2SessionRequest {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub js_code: Option<String>,
    pub grant_type: Option<String>,
}

/// Body of `POST /cgi-bin/stable_token`.
#[derive(Debug, Default, Clone)]
pub struct StableTokenRequest {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub force_refresh: bool,
}

/// `base64(sha256("mock-wechat session key:" + name)[..16])`: the session key
/// the code `ok-<name>` yields (24 characters, standard base64 with padding).
pub fn session_key_for(name: &str) -> String {
    let digest = Sha256::digest(format!("{SESSION_KEY_CONTEXT}{name}").as_bytes());
    STANDARD.encode(&digest[..16])
}

/// WeChat's user login-state signature: lowercase hex of
/// HMAC-SHA256(key = the session key's base64 text, message).
/// `checksession` signs the empty message.
pub fn session_signature(session_key: &str, message: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(session_key.as_bytes()).ok()?;
    mac.update(message);
    Some(mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect())
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

/// What a login code means by its name alone.
#[derive(Debug, PartialEq, Eq)]
enum LoginConvention<'a> {
    /// `ok-<name>[.u]` or `busy-<name>[.u]`.
    Login { name: &'a str, base: &'a str, unionid: bool, busy: bool },
    /// `err-<errcode>`.
    Error(i64),
}

fn parse_errcode(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().filter(|n| *n != 0)
}

fn parse_login_code(code: &str) -> Option<LoginConvention<'_>> {
    if let Some(n) = code.strip_prefix("err-") {
        return parse_errcode(n).map(LoginConvention::Error);
    }
    let (rest, busy) =
        if let Some(rest) = code.strip_prefix("ok-") { (rest, false) } else { (code.strip_prefix("busy-")?, true) };
    let (name, unionid) = match rest.strip_suffix(".u") {
        Some(name) => (name, true),
        None => (rest, false),
    };
    let base = name.split_once('~').map_or(name, |(base, _)| base);
    (!base.is_empty()).then_some(LoginConvention::Login { name, base, unionid, busy })
}

/// What a phone code means: `Ok(digits)` for `phone-<digits>`, `Err(n)` for
/// `err-<n>`, `None` for anything else.
fn parse_phone_code(code: &str) -> Option<Result<&str, i64>> {
    if let Some(n) = code.strip_prefix("err-") {
        return parse_errcode(n).map(Err);
    }
    let digits = code.strip_prefix("phone-")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Ok(digits))
}

fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Use of one code by one appid.
#[derive(Debug, Clone, Copy)]
struct CodeUse {
    first_seen_ms: u64,
    busy_answered: bool,
    used: bool,
}

impl CodeUse {
    fn new(now_ms: u64) -> Self {
        Self { first_seen_ms: now_ms, busy_answered: false, used: false }
    }

    /// Checks the code is neither used nor expired (used wins).
    fn check(&self, now_ms: u64) -> Result<(), WxError> {
        if self.used {
            Err(WxError::CODE_BEEN_USED)
        } else if now_ms >= self.first_seen_ms.saturating_add(CODE_TTL_MS) {
            Err(WxError::INVALID_CODE)
        } else {
            Ok(())
        }
    }
}

#[derive(Debug)]
struct FixtureEntry {
    code: FixtureCode,
    usage: CodeUse,
}

#[derive(Debug)]
struct TokenRecord {
    appid: String,
    expires_ms: u64,
    revoked: bool,
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

/// All the mock's state. Keys always include the appid (or the code, for
/// fixture codes), so tests using distinct appids or names never interfere.
#[derive(Debug)]
pub struct Mock {
    apps: HashMap<String, String>,
    fixtures: HashMap<String, FixtureEntry>,
    /// Convention login codes, by (appid, code).
    login_codes: HashMap<(String, String), CodeUse>,
    /// Phone codes, by (appid, code).
    phone_codes: HashMap<(String, String), CodeUse>,
    /// Latest session key issued, by (appid, openid).
    session_keys: HashMap<(String, String), String>,
    /// Current access token, by appid.
    current_tokens: HashMap<String, String>,
    /// Every access token ever issued.
    tokens: HashMap<String, TokenRecord>,
    calls: HashMap<String, Calls>,
    rng: Rng,
}

impl Mock {
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            apps: HashMap::new(),
            fixtures: HashMap::new(),
            login_codes: HashMap::new(),
            phone_codes: HashMap::new(),
            session_keys: HashMap::new(),
            current_tokens: HashMap::new(),
            tokens: HashMap::new(),
            calls: HashMap::new(),
            rng: Rng { seed, counter: 0 },
        }
    }

    /// Registers (or replaces) an app's secret: a different secret is then
    /// refused with 40125. Unregistered appids accept any secret.
    pub fn register_app(&mut self, appid: &str, secret: &str) {
        self.apps.insert(appid.to_owned(), secret.to_owned());
    }

    /// Registers (or replaces, as new and unused) a fixture login code.
    pub fn add_code(&mut self, code: &str, fixture: FixtureCode, now_ms: u64) {
        let entry = FixtureEntry { code: fixture, usage: CodeUse::new(now_ms) };
        self.fixtures.insert(code.to_owned(), entry);
    }

    /// Calls received per API for `appid`.
    pub fn calls(&self, appid: &str) -> Calls {
        self.calls.get(appid).copied().unwrap_or_default()
    }

    /// The latest session key issued to `openid` of `appid`.
    pub fn latest_session_key(&self, appid: &str, openid: &str) -> Option<&str> {
        let key = (appid.to_owned(), openid.to_owned());
        self.session_keys.get(&key).map(String::as_str)
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

    fn count(&mut self, appid: &str, api: Api) {
        let calls = self.calls.entry(appid.to_owned()).or_default();
        let counter = match api {
            Api::Jscode2Session => &mut calls.jscode2session,
            Api::StableToken => &mut calls.stable_token,
            Api::GetUserPhoneNumber => &mut calls.getuserphonenumber,
            Api::CheckSession => &mut calls.checksession,
        };
        *counter += 1;
    }

    fn check_secret(&self, appid: &str, secret: &str) -> Result<(), WxError> {
        match self.apps.get(appid) {
            Some(registered) if registered != secret => Err(WxError::INVALID_APPSECRET),
            _ => Ok(()),
        }
    }

    fn remember(&mut self, appid: &str, session: &Session) {
        let key = (appid.to_owned(), session.openid.clone());
        self.session_keys.insert(key, session.session_key.clone());
    }

    /// `GET /sns/jscode2session`. Counts the call when an appid is given.
    pub fn jscode2session(&mut self, req: &Jscode2SessionRequest, now_ms: u64) -> Result<Session, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::Jscode2Session);
        let secret = present(req.secret.as_deref()).ok_or(WxError::APPSECRET_MISSING)?;
        let code = present(req.js_code.as_deref()).ok_or(WxError::MISSING_CODE)?;
        if req.grant_type.as_deref() != Some("authorization_code") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        self.check_secret(appid, secret)?;

        if let Some(entry) = self.fixtures.get_mut(code) {
            let session = match &entry.code {
                FixtureCode::Error(errcode) => return Err(WxError(*errcode)),
                FixtureCode::Session { appid: owner, .. } if owner != appid => {
                    return Err(WxError::INVALID_CODE);
                }
                FixtureCode::Session { session, .. } => session.clone(),
            };
            entry.usage.check(now_ms)?;
            entry.usage.used = true;
            self.remember(appid, &session);
            return Ok(session);
        }

        let (name, base, unionid, busy) = match parse_login_code(code) {
            None => return Err(WxError::INVALID_CODE),
            Some(LoginConvention::Error(errcode)) => return Err(WxError(errcode)),
            Some(LoginConvention::Login { name, base, unionid, busy }) => (name, base, unionid, busy),
        };
        let usage = self.login_codes.entry((appid.to_owned(), code.to_owned())).or_insert_with(|| CodeUse::new(now_ms));
        usage.check(now_ms)?;
        if busy && !usage.busy_answered {
            usage.busy_answered = true;
            return Err(WxError::SYSTEM_ERROR);
        }
        usage.used = true;
        let session = Session {
            openid: format!("openid-{base}"),
            session_key: session_key_for(name),
            unionid: unionid.then(|| format!("unionid-{base}")),
        };
        self.remember(appid, &session);
        Ok(session)
    }

    /// `POST /cgi-bin/stable_token`. Counts the call when an appid is given.
    pub fn stable_token(&mut self, req: &StableTokenRequest, now_ms: u64) -> Result<AccessToken, WxError> {
        let appid = present(req.appid.as_deref()).ok_or(WxError::APPID_MISSING)?;
        self.count(appid, Api::StableToken);
        let secret = present(req.secret.as_deref()).ok_or(WxError::APPSECRET_MISSING)?;
        if req.grant_type.as_deref() != Some("client_credential") {
            return Err(WxError::INVALID_GRANT_TYPE);
        }
        self.check_secret(appid, secret)?;

        if let Some(old) = self.current_tokens.get(appid)
            && let Some(record) = self.tokens.get_mut(old)
            && !record.revoked
            && now_ms < record.expires_ms
        {
            if !req.force_refresh {
                let expires_in = (record.expires_ms - now_ms).div_ceil(1000);
                return Ok(AccessToken { access_token: old.clone(), expires_in });
            }
            record.revoked = true;
        }

        let mut bytes = self.rng.next_block().to_vec();
        bytes.extend_from_slice(&self.rng.next_block());
        let token = format!("mock_{}", URL_SAFE_NO_PAD.encode(bytes));
        let record = TokenRecord {
            appid: appid.to_owned(),
            expires_ms: now_ms.saturating_add(ACCESS_TOKEN_TTL_MS),
            revoked: false,
        };
        self.tokens.insert(token.clone(), record);
        self.current_tokens.insert(appid.to_owned(), token.clone());
        Ok(AccessToken { access_token: token, expires_in: ACCESS_TOKEN_TTL_S })
    }

    /// Resolves an `access_token` query parameter to its appid, counting the
    /// call for that appid whenever the token is known (even if unusable).
    pub fn resolve_token(&mut self, token: Option<&str>, api: Api, now_ms: u64) -> Result<String, WxError> {
        let token = present(token).ok_or(WxError::ACCESS_TOKEN_MISSING)?;
        let record = self.tokens.get(token).ok_or(WxError::INVALID_CREDENTIAL)?;
        let (appid, revoked, expired) = (record.appid.clone(), record.revoked, now_ms >= record.expires_ms);
        self.count(&appid, api);
        if revoked {
            Err(WxError::INVALID_CREDENTIAL)
        } else if expired {
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        } else {
            Ok(appid)
        }
    }

    /// `getuserphonenumber` for a resolved appid.
    pub fn phone_number(&mut self, appid: &str, code: Option<&str>, now_ms: u64) -> Result<PhoneInfo, WxError> {
        let code = present(code).ok_or(WxError::MISSING_CODE)?;
        let digits = match parse_phone_code(code) {
            None => return Err(WxError::INVALID_CODE),
            Some(Err(errcode)) => return Err(WxError(errcode)),
            Some(Ok(digits)) => digits,
        };
        let usage = self.phone_codes.entry((appid.to_owned(), code.to_owned())).or_insert_with(|| CodeUse::new(now_ms));
        usage.check(now_ms)?;
        usage.used = true;
        Ok(PhoneInfo {
            phone_number: digits.to_owned(),
            pure_phone_number: digits.to_owned(),
            country_code: "86".to_owned(),
            watermark: Watermark { timestamp: now_ms / 1000, appid: appid.to_owned() },
        })
    }

    /// `checksession` for a resolved appid: the signature must be
    /// [`session_signature`] of the empty message under the latest session
    /// key issued to `openid` of `appid` (hex compared case-insensitively).
    pub fn check_session(
        &self,
        appid: &str,
        openid: Option<&str>,
        signature: Option<&str>,
        sig_method: Option<&str>,
    ) -> Result<(), WxError> {
        if sig_method != Some("hmac_sha256") {
            return Err(WxError::INVALID_SIGNATURE);
        }
        let openid = present(openid).ok_or(WxError::INVALID_SIGNATURE)?;
        let signature = present(signature).ok_or(WxError::INVALID_SIGNATURE)?;
        let expected = self.latest_session_key(appid, openid).and_then(|key| session_signature(key, b""));
        match expected {
            Some(expected) if expected.eq_ignore_ascii_case(signature) => Ok(()),
            _ => Err(WxError::INVALID_SIGNATURE),
        }
    }

    /// Makes `appid`'s current access token expired (42001); the next
    /// `stable_token` issues a new one. False if it has none.
    pub fn expire_token(&mut self, appid: &str, now_ms: u64) -> bool {
        let record = self.current_tokens.get(appid).and_then(|token| self.tokens.get_mut(token));
        match record {
            Some(record) => {
                record.expires_ms = record.expires_ms.min(now_ms);
                true
            }
            None => false,
        }
    }

    /// Makes `appid`'s current access token invalid (40001), as if another
    /// party had force-refreshed it; the next `stable_token` issues a new one.
    /// False if it has none.
    pub fn invalidate_token(&mut self, appid: &str) -> bool {
        let record = self.current_tokens.remove(appid).and_then(|token| self.tokens.get_mut(&token));
        match record {
            Some(record) => {
                record.revoked = true;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    fn mock() -> Mock {
        Mock::new([7; 32])
    }

    fn login(appid: &str, code: &str) -> Jscode2SessionRequest {
        Jscode2SessionRequest {
            appid: Some(appid.into()),
            secret: Some("any-secret".into()),
            js_code: Some(code.into()),
            grant_type: Some("authorization_code".into()),
        }
    }

    fn token_req(appid: &str, secret: &str, force_refresh: bool) -> StableTokenRequest {
        StableTokenRequest {
            grant_type: Some("client_credential".into()),
            appid: Some(appid.into()),
            secret: Some(secret.into()),
            force_refresh,
        }
    }

    fn token(m: &mut Mock, appid: &str, now: u64) -> String {
        m.stable_token(&token_req(appid, "s", false), now).map(|t| t.access_token).unwrap_or_default()
    }

    fn fixture_session(appid: &str, openid: &str, key: &str, unionid: Option<&str>) -> FixtureCode {
        let session = Session { openid: openid.into(), session_key: key.into(), unionid: unionid.map(Into::into) };
        FixtureCode::Session { appid: appid.into(), session }
    }

    #[test]
    fn session_key_is_documented_derivation() {
        // python3: base64.b64encode(sha256(b"mock-wechat session key:alice").digest()[:16])
        assert_eq!(session_key_for("alice"), "lZkgn5mSWbRrTaDccau6Mw==");
        assert_eq!(session_key_for("alice~2"), "PijbO+afwXMz5uvw7jsOng==");
        assert_eq!(session_key_for("x").len(), 24);
    }

    #[test]
    fn signature_matches_known_vector() {
        // python3: hmac.new(b'o4Wz8/7+ECEOhZ6XBTOo7A==', b'', hashlib.sha256).hexdigest()
        assert_eq!(
            session_signature("o4Wz8/7+ECEOhZ6XBTOo7A==", b"").as_deref(),
            Some("1c6ee4afbc1babd781b86fc6b59dcdc55fccf459a7214509c3dd532f2bd4f35c")
        );
        // WeChat's documented example (POST body signed).
        assert_eq!(
            session_signature("o0q0otL8aEzpcZL/FT9WsQ==", br#"{"foo":"bar"}"#).as_deref(),
            Some("654571f79995b2ce1e149e53c0a33dc39c0a74090db514261454e8dbe432aa0b")
        );
    }

    #[test]
    fn ok_code_is_valid_once() {
        let mut m = mock();
        let s = m.jscode2session(&login("wxa", "ok-alice"), T0);
        assert_eq!(
            s,
            Ok(Session { openid: "openid-alice".into(), session_key: session_key_for("alice"), unionid: None })
        );
        assert_eq!(m.jscode2session(&login("wxa", "ok-alice"), T0 + 1), Err(WxError::CODE_BEEN_USED));
        assert_eq!(WxError::CODE_BEEN_USED.errmsg(), "code been used");
    }

    #[test]
    fn codes_are_scoped_per_appid() {
        let mut m = mock();
        assert!(m.jscode2session(&login("wxa", "ok-alice"), T0).is_ok());
        assert!(m.jscode2session(&login("wxb", "ok-alice"), T0).is_ok());
    }

    #[test]
    fn dot_u_adds_unionid() {
        let mut m = mock();
        let s = m.jscode2session(&login("wxa", "ok-bob.u"), T0);
        assert_eq!(
            s,
            Ok(Session {
                openid: "openid-bob".into(),
                session_key: session_key_for("bob"),
                unionid: Some("unionid-bob".into())
            })
        );
    }

    #[test]
    fn nonce_keeps_openid_but_changes_session_key() {
        let mut m = mock();
        let first = m.jscode2session(&login("wxa", "ok-alice"), T0).map(|s| (s.openid, s.session_key));
        let second = m.jscode2session(&login("wxa", "ok-alice~2.u"), T0).map(|s| (s.openid, s.session_key, s.unionid));
        assert_eq!(first, Ok(("openid-alice".into(), session_key_for("alice"))));
        assert_eq!(second, Ok(("openid-alice".into(), session_key_for("alice~2"), Some("unionid-alice".into()))));
        assert_ne!(session_key_for("alice"), session_key_for("alice~2"));
        assert_eq!(m.latest_session_key("wxa", "openid-alice"), Some(session_key_for("alice~2").as_str()));
    }

    #[test]
    fn err_codes_answer_every_time() {
        let mut m = mock();
        for (code, errcode, errmsg) in [
            ("err-40029", 40029, "invalid code"),
            ("err-45011", 45011, "api minute-quota reach limit  mustslower  retry next minute"),
            ("err-40226", 40226, "high risk user"),
            ("err--1", -1, "system error"),
            ("err-12345", 12345, "mock error"),
        ] {
            for _ in 0..2 {
                let e = m.jscode2session(&login("wxa", code), T0);
                assert_eq!(e, Err(WxError(errcode)));
                assert_eq!(WxError(errcode).errmsg(), errmsg);
            }
        }
    }

    #[test]
    fn other_codes_are_invalid() {
        let mut m = mock();
        for code in ["nope", "ok-", "ok-.u", "ok-~2", "busy-", "err-", "err-0", "err-x", "OK-alice"] {
            assert_eq!(m.jscode2session(&login("wxa", code), T0), Err(WxError::INVALID_CODE), "{code}");
        }
    }

    #[test]
    fn busy_answers_system_error_once_then_ok_once() {
        let mut m = mock();
        assert_eq!(m.jscode2session(&login("wxa", "busy-carol"), T0), Err(WxError::SYSTEM_ERROR));
        let s = m.jscode2session(&login("wxa", "busy-carol"), T0 + 1);
        assert_eq!(s.map(|s| (s.openid, s.session_key)), Ok(("openid-carol".into(), session_key_for("carol"))));
        assert_eq!(m.jscode2session(&login("wxa", "busy-carol"), T0 + 2), Err(WxError::CODE_BEEN_USED));
    }

    #[test]
    fn codes_expire_five_minutes_after_first_seen() {
        let mut m = mock();
        assert_eq!(m.jscode2session(&login("wxa", "busy-dan"), T0), Err(WxError::SYSTEM_ERROR));
        assert_eq!(m.jscode2session(&login("wxa", "busy-dan"), T0 + CODE_TTL_MS), Err(WxError::INVALID_CODE));
        assert_eq!(m.jscode2session(&login("wxa", "busy-erin"), T0), Err(WxError::SYSTEM_ERROR));
        assert!(m.jscode2session(&login("wxa", "busy-erin"), T0 + CODE_TTL_MS - 1).is_ok());
    }

    #[test]
    fn missing_parameters_and_grant_type() {
        let mut m = mock();
        let full = login("wxa", "ok-x");
        let cases = [
            (Jscode2SessionRequest { appid: None, ..full.clone() }, 41002, "appid missing"),
            (Jscode2SessionRequest { appid: Some(String::new()), ..full.clone() }, 41002, "appid missing"),
            (Jscode2SessionRequest { secret: None, ..full.clone() }, 41004, "appsecret missing"),
            (Jscode2SessionRequest { js_code: None, ..full.clone() }, 41008, "missing code"),
            (Jscode2SessionRequest { grant_type: None, ..full.clone() }, 40002, "invalid grant_type"),
            (
                Jscode2SessionRequest { grant_type: Some("client_credential".into()), ..full.clone() },
                40002,
                "invalid grant_type",
            ),
        ];
        for (req, errcode, errmsg) in cases {
            assert_eq!(m.jscode2session(&req, T0), Err(WxError(errcode)));
            assert_eq!(WxError(errcode).errmsg(), errmsg);
        }
        // None of these consumed the code.
        assert!(m.jscode2session(&full, T0).is_ok());
    }

    #[test]
    fn registered_secret_is_enforced() {
        let mut m = mock();
        m.register_app("wxreg", "right");
        let mut req = login("wxreg", "ok-frank");
        assert_eq!(m.jscode2session(&req, T0), Err(WxError::INVALID_APPSECRET));
        assert_eq!(WxError::INVALID_APPSECRET.errmsg(), "invalid appsecret");
        req.secret = Some("right".into());
        assert!(m.jscode2session(&req, T0).is_ok());
        // Unregistered apps take any secret.
        assert!(m.jscode2session(&login("wxother", "ok-frank"), T0).is_ok());
    }

    #[test]
    fn fixture_codes() {
        let mut m = mock();
        m.add_code("fx-1", fixture_session("wxa", "o-fixed", "k==", Some("u-fixed")), T0);
        m.add_code("fx-err", FixtureCode::Error(40226), T0);
        m.add_code("ok-zed", fixture_session("wxa", "o-zed", "kz==", None), T0);

        // Wrong appid: invalid, and not consumed.
        assert_eq!(m.jscode2session(&login("wxb", "fx-1"), T0), Err(WxError::INVALID_CODE));
        let s = m.jscode2session(&login("wxa", "fx-1"), T0);
        assert_eq!(
            s,
            Ok(Session { openid: "o-fixed".into(), session_key: "k==".into(), unionid: Some("u-fixed".into()) })
        );
        assert_eq!(m.jscode2session(&login("wxa", "fx-1"), T0), Err(WxError::CODE_BEEN_USED));
        assert_eq!(m.latest_session_key("wxa", "o-fixed"), Some("k=="));

        // Error fixtures answer every time, for any appid.
        assert_eq!(m.jscode2session(&login("wxa", "fx-err"), T0), Err(WxError(40226)));
        assert_eq!(m.jscode2session(&login("wxb", "fx-err"), T0), Err(WxError(40226)));

        // Fixtures take precedence over the naming conventions.
        assert_eq!(m.jscode2session(&login("wxa", "ok-zed"), T0).map(|s| s.openid), Ok("o-zed".into()));
    }

    #[test]
    fn fixture_codes_expire_five_minutes_after_registration() {
        let mut m = mock();
        m.add_code("fx-a", fixture_session("wxa", "o", "k", None), T0);
        m.add_code("fx-b", fixture_session("wxa", "o", "k", None), T0);
        assert!(m.jscode2session(&login("wxa", "fx-a"), T0 + CODE_TTL_MS - 1).is_ok());
        assert_eq!(m.jscode2session(&login("wxa", "fx-b"), T0 + CODE_TTL_MS), Err(WxError::INVALID_CODE));
        // Re-registering makes a fresh code.
        m.add_code("fx-b", fixture_session("wxa", "o", "k", None), T0 + CODE_TTL_MS);
        assert!(m.jscode2session(&login("wxa", "fx-b"), T0 + CODE_TTL_MS).is_ok());
    }

    #[test]
    fn stable_token_is_stable_and_counts_down() {
        let mut m = mock();
        let first = m.stable_token(&token_req("wxa", "s", false), T0);
        let Ok(first) = first else { panic!("{first:?}") };
        assert_eq!(first.expires_in, 7200);
        assert!(first.access_token.len() > 64);
        let later = m.stable_token(&token_req("wxa", "s", false), T0 + 100_500);
        assert_eq!(later, Ok(AccessToken { access_token: first.access_token.clone(), expires_in: 7100 }));
        // Other apps get their own token.
        assert_ne!(token(&mut m, "wxb", T0), first.access_token);
        // After it expires, a new one is issued; the old one answers 42001.
        let expiry = T0 + ACCESS_TOKEN_TTL_MS;
        let renewed = m.stable_token(&token_req("wxa", "s", false), expiry);
        assert!(renewed.as_ref().is_ok_and(|t| t.access_token != first.access_token && t.expires_in == 7200));
        let old = m.resolve_token(Some(&first.access_token), Api::GetUserPhoneNumber, expiry);
        assert_eq!(old, Err(WxError::ACCESS_TOKEN_EXPIRED));
    }

    #[test]
    fn force_refresh_issues_a_new_token_and_revokes_the_old() {
        let mut m = mock();
        let old = token(&mut m, "wxa", T0);
        let new = m.stable_token(&token_req("wxa", "s", true), T0 + 1000).map(|t| (t.access_token, t.expires_in));
        let Ok((new, 7200)) = new else { panic!("{new:?}") };
        assert_ne!(new, old);
        assert_eq!(m.resolve_token(Some(&old), Api::CheckSession, T0 + 2000), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.resolve_token(Some(&new), Api::CheckSession, T0 + 2000), Ok("wxa".into()));
        assert_eq!(token(&mut m, "wxa", T0 + 3000), new);
    }

    #[test]
    fn stable_token_errors() {
        let mut m = mock();
        m.register_app("wxreg", "right");
        let full = token_req("wxreg", "right", false);
        let cases = [
            (StableTokenRequest { appid: None, ..full.clone() }, WxError::APPID_MISSING),
            (StableTokenRequest { secret: None, ..full.clone() }, WxError::APPSECRET_MISSING),
            (StableTokenRequest { grant_type: None, ..full.clone() }, WxError::INVALID_GRANT_TYPE),
            (
                StableTokenRequest { grant_type: Some("authorization_code".into()), ..full.clone() },
                WxError::INVALID_GRANT_TYPE,
            ),
            (StableTokenRequest { secret: Some("wrong".into()), ..full.clone() }, WxError::INVALID_APPSECRET),
        ];
        for (req, err) in cases {
            assert_eq!(m.stable_token(&req, T0), Err(err));
        }
        assert!(m.stable_token(&full, T0).is_ok());
    }

    #[test]
    fn token_resolution_errors() {
        let mut m = mock();
        assert_eq!(m.resolve_token(None, Api::CheckSession, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.resolve_token(Some(""), Api::CheckSession, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.resolve_token(Some("bogus"), Api::CheckSession, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(WxError::INVALID_CREDENTIAL.errmsg(), "invalid credential, access_token is invalid or not latest");
        assert_eq!(WxError::ACCESS_TOKEN_EXPIRED.errmsg(), "access_token expired");

        let t = token(&mut m, "wxa", T0);
        assert_eq!(m.resolve_token(Some(&t), Api::CheckSession, T0 + ACCESS_TOKEN_TTL_MS - 1), Ok("wxa".into()));
        assert_eq!(
            m.resolve_token(Some(&t), Api::CheckSession, T0 + ACCESS_TOKEN_TTL_MS),
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        );
    }

    #[test]
    fn control_expire_and_invalidate() {
        let mut m = mock();
        assert!(!m.expire_token("wxa", T0));
        assert!(!m.invalidate_token("wxa"));

        let t1 = token(&mut m, "wxa", T0);
        assert!(m.expire_token("wxa", T0 + 10));
        assert_eq!(m.resolve_token(Some(&t1), Api::GetUserPhoneNumber, T0 + 10), Err(WxError::ACCESS_TOKEN_EXPIRED));
        let t2 = token(&mut m, "wxa", T0 + 20);
        assert_ne!(t1, t2);

        assert!(m.invalidate_token("wxa"));
        assert_eq!(m.resolve_token(Some(&t2), Api::GetUserPhoneNumber, T0 + 30), Err(WxError::INVALID_CREDENTIAL));
        let t3 = token(&mut m, "wxa", T0 + 40);
        assert!(t3 != t2 && t3 != t1);
        assert_eq!(m.resolve_token(Some(&t3), Api::GetUserPhoneNumber, T0 + 40), Ok("wxa".into()));
    }

    #[test]
    fn phone_codes() {
        let mut m = mock();
        let info = m.phone_number("wxa", Some("phone-13800138000"), T0 + 999);
        assert_eq!(
            info,
            Ok(PhoneInfo {
                phone_number: "13800138000".into(),
                pure_phone_number: "13800138000".into(),
                country_code: "86".into(),
                watermark: Watermark { timestamp: T0 / 1000, appid: "wxa".into() },
            })
        );
        assert_eq!(m.phone_number("wxa", Some("phone-13800138000"), T0), Err(WxError::CODE_BEEN_USED));
        assert!(m.phone_number("wxb", Some("phone-13800138000"), T0).is_ok());
        for errcode in [-1, 40029, 45011, 40001] {
            for _ in 0..2 {
                assert_eq!(m.phone_number("wxa", Some(&format!("err-{errcode}")), T0), Err(WxError(errcode)));
            }
        }
        for code in ["ok-alice", "phone-", "phone-12a", "err-0", "x"] {
            assert_eq!(m.phone_number("wxa", Some(code), T0), Err(WxError::INVALID_CODE), "{code}");
        }
        assert_eq!(m.phone_number("wxa", None, T0), Err(WxError::MISSING_CODE));
    }

    #[test]
    fn check_session_uses_latest_session_key() {
        let mut m = mock();
        let sig = |name: &str| session_signature(&session_key_for(name), b"").unwrap_or_default();
        let check = |m: &Mock, appid: &str, openid: &str, signature: &str| {
            m.check_session(appid, Some(openid), Some(signature), Some("hmac_sha256"))
        };

        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert!(m.jscode2session(&login("wxa", "ok-gus"), T0).is_ok());
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Ok(()));
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus").to_uppercase()), Ok(()));
        assert_eq!(check(&m, "wxa", "openid-gus", "00"), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(check(&m, "wxb", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(
            m.check_session("wxa", Some("openid-gus"), Some(&sig("gus")), Some("md5")),
            Err(WxError::INVALID_SIGNATURE)
        );
        assert_eq!(
            m.check_session("wxa", Some("openid-gus"), None, Some("hmac_sha256")),
            Err(WxError::INVALID_SIGNATURE)
        );

        // A new login replaces the session key: the old signature fails.
        assert!(m.jscode2session(&login("wxa", "ok-gus~2"), T0).is_ok());
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus")), Err(WxError::INVALID_SIGNATURE));
        assert_eq!(check(&m, "wxa", "openid-gus", &sig("gus~2")), Ok(()));

        // Known vector through a fixture session key.
        m.add_code("fx", fixture_session("wxa", "o-vec", "o4Wz8/7+ECEOhZ6XBTOo7A==", None), T0);
        assert!(m.jscode2session(&login("wxa", "fx"), T0).is_ok());
        let known = "1c6ee4afbc1babd781b86fc6b59dcdc55fccf459a7214509c3dd532f2bd4f35c";
        assert_eq!(check(&m, "wxa", "o-vec", known), Ok(()));
    }

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
            Calls { jscode2session: 2, stable_token: 1, getuserphonenumber: 1, checksession: 2 }
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
