//! wxauth's settings from the environment, in one place, each with its default.
//!
//! Read once per cold start. A missing required variable, or one that does not parse, fails fast
//! and names the variable. Read elsewhere, and not settings of wxauth's: the log level and format
//! ([`crate::logging`]: `RUST_LOG`, `AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`), the Lambda
//! Runtime API's address (`AWS_LAMBDA_RUNTIME_API`, read by the runtime and by
//! [`crate::lambda`] to report a failed start), and the AWS SDK's own standard variables
//! (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials): there is no project-specific "local mode".

use std::time::Duration;

/// The deployment's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `WXAUTH_TABLE` (required): the DynamoDB table holding every item kind.
    pub table: String,
    /// `ISSUER` (required): the `iss` of every token and the base of the metadata's URLs.
    pub issuer: String,
    /// `AUDIENCE` (default: the issuer): `aud` of access tokens when the client names none.
    pub audience: String,
    /// `ACCESS_TOKEN_TTL` seconds (default 900).
    pub access_token_ttl: Duration,
    /// `REFRESH_TOKEN_TTL` seconds (default 30 days): the lifetime of a refresh token. Each
    /// rotation issues a new one, so a user who comes back within this time stays signed in.
    pub refresh_token_ttl: Duration,
    /// `REFRESH_REUSE_GRACE` seconds (default 0): how long a rotated refresh token may be presented
    /// again (a client retrying after a lost response) before it counts as reuse.
    pub refresh_reuse_grace: Duration,
    /// `WECHAT_API_BASE` (default `https://api.weixin.qq.com`).
    pub wechat_api_base: String,
    /// `WECHAT_OPEN_BASE` (default `https://open.weixin.qq.com`): where browsers are sent for
    /// WeChat's web authorization and QR sign-in pages.
    pub wechat_open_base: String,
    /// `SCAN_LOGIN_CLIENT` (a mini-program client's id) and `SCAN_LOGIN_PAGE` (its page that
    /// confirms, e.g. `pages/scan/scan`), with `SCAN_LOGIN_ENV_VERSION` (`release`, default;
    /// `trial` or `develop` before the page is published): desktop sign-in pages show that mini
    /// program's code. Unset: no scan sign-in.
    pub scan_login: Option<ScanLogin>,
    /// `WECHAT_TIMEOUT_MS` (default 3000): per WeChat HTTP call, connection included.
    pub wechat_timeout: Duration,
    /// `SESSION_KEY_TTL` seconds (default 3 days): how long a stored WeChat session key is used.
    pub session_key_ttl: Duration,
    /// `PREVIOUS_SESSION_KEY_TTL` seconds (default 300): how long the replaced session key stays
    /// usable after a newer `wx.login` (data encrypted under it may still be in flight).
    pub previous_session_key_ttl: Duration,
    /// `KMS_DATA_KEY_ID` (required): the symmetric KMS key encrypting session keys and app secrets.
    pub kms_data_key_id: String,
    /// `AUTHORIZATION_CODE_TTL` seconds (default 60): RFC 6749 §4.1.2 recommends at most 10 minutes.
    pub authorization_code_ttl: Duration,
    /// A browser session ends after this long unused (`SESSION_IDLE_TTL`, default a day).
    pub session_idle_ttl: Duration,
    /// ... and this long after its sign-in, used or not (`SESSION_MAX_TTL`, default 14 days).
    pub session_max_ttl: Duration,
    /// How long a user's consent to a client's scopes is remembered (`CONSENT_TTL`, 180 days).
    pub consent_ttl: Duration,
    /// `CLIENT_CACHE_TTL` seconds (default 60): how long a container trusts a client it read
    /// (`crate::store::client_cache`): a deleted client or a new secret takes effect within it.
    pub client_cache_ttl: Duration,
    /// `DATA_KEY_MAX_AGE` seconds (default 300) and `DATA_KEY_MAX_MESSAGES` (default 10000): how
    /// long and for how many secrets one data key seals (`crate::keys::data_key`).
    pub data_key_bounds: DataKeyBounds,
    /// `KEY_CACHE_TTL` seconds (default 300): how long a container trusts its copy of the
    /// signing-key registry, and the JWKS `max-age`.
    pub key_cache_ttl: Duration,
    /// `BACKCHANNEL_LOGOUT_QUEUE_URL`: the SQS queue where a session's end is queued for the
    /// relying parties to tell (Back-Channel Logout 1.0). Unset: nobody is told, and every
    /// session end logs that as an error (template.yaml always sets it).
    pub backchannel_logout_queue_url: Option<String>,
    /// `BACKCHANNEL_RETRY_DELAY` seconds (default 30): after a failed delivery the notice waits
    /// this long, doubled on every further failure (at most 15 minutes), until the queue's
    /// receive limit moves it to the dead-letter queue.
    pub backchannel_retry_delay: Duration,
    /// How long to wait on DynamoDB and KMS.
    pub aws_timeouts: AwsTimeouts,
    /// `DEADLINE_FALLBACK_MS` (default 5000, the shortest function timeout of template.yaml): a
    /// request's time when the Runtime API sends no absolute deadline (local emulators send a
    /// duration or 0; see `crate::deadline`).
    pub deadline_fallback: Duration,
}

/// How long one DynamoDB or KMS call may take before it ends as a timeout (answered 503).
/// Without these the SDK waits only on connecting: a service that accepts the connection and
/// never answers would hold the request until Lambda kills it, with no answer of ours and no
/// logged cause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AwsTimeouts {
    /// `AWS_ATTEMPT_TIMEOUT_MS` (default 2000): one attempt, connecting included. A healthy
    /// call takes single-digit milliseconds.
    pub attempt: Duration,
    /// `AWS_CALL_TIMEOUT_MS` (default 4000): one call with its retries and their backoff: room
    /// for the SDK's three attempts against throttling, inside the shortest function timeout
    /// (5 s; requests as a whole are bounded by their invocation's deadline, `crate::deadline`).
    pub call: Duration,
}

/// How long and how much one data key may seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataKeyBounds {
    /// `DATA_KEY_MAX_AGE` seconds (default 300).
    pub max_age: Duration,
    /// `DATA_KEY_MAX_MESSAGES` (default 10,000).
    pub max_messages: u64,
}

impl Default for DataKeyBounds {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), max_messages: 10_000 }
    }
}

impl Default for AwsTimeouts {
    /// Production's: 2 s per attempt, 4 s per call.
    fn default() -> Self {
        Self { attempt: Duration::from_secs(2), call: Duration::from_secs(4) }
    }
}

impl AwsTimeouts {
    /// Reads the process environment (for tools that need no other configuration).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars(&|name: &str| std::env::var(name).ok()))
    }

    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let millis = |d: Duration| d.as_millis() as u64;
        Ok(Self {
            attempt: Duration::from_millis(vars.number("AWS_ATTEMPT_TIMEOUT_MS", millis(defaults.attempt))?),
            call: Duration::from_millis(vars.number("AWS_CALL_TIMEOUT_MS", millis(defaults.call))?),
        })
    }
}

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Config {
    /// The audiences no client may claim as its own: the default `aud` of every token (and
    /// the issuer, its default). A client registered as their resource server would see every
    /// user's tokens at introspection.
    pub fn is_shared_audience(&self, aud: &str) -> bool {
        aud == self.audience || aud == self.issuer
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let issuer = vars.url("ISSUER")?;
        Ok(Self {
            table: vars.required("WXAUTH_TABLE")?,
            audience: vars.optional("AUDIENCE").unwrap_or_else(|| issuer.clone()),
            issuer,
            access_token_ttl: vars.seconds("ACCESS_TOKEN_TTL", 900)?,
            refresh_token_ttl: vars.seconds("REFRESH_TOKEN_TTL", 30 * 86_400)?,
            refresh_reuse_grace: vars.seconds("REFRESH_REUSE_GRACE", 0)?,
            wechat_api_base: vars
                .optional("WECHAT_API_BASE")
                .unwrap_or_else(|| "https://api.weixin.qq.com".into())
                .trim_end_matches('/')
                .to_string(),
            wechat_open_base: vars
                .optional("WECHAT_OPEN_BASE")
                .unwrap_or_else(|| "https://open.weixin.qq.com".into())
                .trim_end_matches('/')
                .to_string(),
            scan_login: ScanLogin::from_vars(&vars)?,
            wechat_timeout: Duration::from_millis(vars.number("WECHAT_TIMEOUT_MS", 3000)?),
            session_key_ttl: vars.seconds("SESSION_KEY_TTL", 3 * 86_400)?,
            previous_session_key_ttl: vars.seconds("PREVIOUS_SESSION_KEY_TTL", 300)?,
            kms_data_key_id: vars.required("KMS_DATA_KEY_ID")?,
            authorization_code_ttl: vars.seconds("AUTHORIZATION_CODE_TTL", 60)?,
            session_idle_ttl: vars.seconds("SESSION_IDLE_TTL", 86_400)?,
            session_max_ttl: vars.seconds("SESSION_MAX_TTL", 14 * 86_400)?,
            consent_ttl: vars.seconds("CONSENT_TTL", 180 * 86_400)?,
            key_cache_ttl: vars.seconds("KEY_CACHE_TTL", 300)?,
            client_cache_ttl: vars.seconds("CLIENT_CACHE_TTL", 60)?,
            data_key_bounds: DataKeyBounds {
                max_age: vars.seconds("DATA_KEY_MAX_AGE", 300)?,
                max_messages: vars.number("DATA_KEY_MAX_MESSAGES", 10_000)?.max(1),
            },
            backchannel_logout_queue_url: vars.optional("BACKCHANNEL_LOGOUT_QUEUE_URL"),
            backchannel_retry_delay: vars.seconds("BACKCHANNEL_RETRY_DELAY", 30)?,
            aws_timeouts: AwsTimeouts::from_vars(&vars)?,
            deadline_fallback: Duration::from_millis(vars.number("DEADLINE_FALLBACK_MS", 5000)?),
        })
    }
}

/// Sign-in by scanning a mini program's code: which mini program, and its confirmation page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLogin {
    pub client_id: String,
    /// The page WeChat opens with the ticket as `scene`: a path without a leading `/`.
    pub page: String,
    /// `release`, `trial` or `develop`: which version of the mini program the code opens.
    pub env_version: String,
}

impl ScanLogin {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Option<Self>, ConfigError> {
        let (client, page) = (vars.optional("SCAN_LOGIN_CLIENT"), vars.optional("SCAN_LOGIN_PAGE"));
        let env_version = vars.optional("SCAN_LOGIN_ENV_VERSION").unwrap_or_else(|| "release".into());
        if !["release", "trial", "develop"].contains(&env_version.as_str()) {
            return Err(ConfigError::Invalid {
                name: "SCAN_LOGIN_ENV_VERSION",
                reason: "release, trial or develop".into(),
            });
        }
        match (client, page) {
            (None, None) => Ok(None),
            (Some(client_id), Some(page)) if !page.starts_with('/') => Ok(Some(Self { client_id, page, env_version })),
            (Some(_), Some(_)) => {
                Err(ConfigError::Invalid { name: "SCAN_LOGIN_PAGE", reason: "a page path without a leading /".into() })
            }
            (Some(_), None) => Err(ConfigError::Missing("SCAN_LOGIN_PAGE")),
            (None, Some(_)) => Err(ConfigError::Missing("SCAN_LOGIN_CLIENT")),
        }
    }
}

struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    fn url(&self, name: &'static str) -> Result<String, ConfigError> {
        let value = self.required(name)?;
        if !(value.starts_with("https://") || value.starts_with("http://")) {
            return Err(ConfigError::Invalid { name, reason: "must be an http(s) URL".into() });
        }
        Ok(value.trim_end_matches('/').to_string())
    }

    fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::Invalid { name, reason: format!("expected a whole number, got {v:?}") }),
        }
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const REQUIRED: [(&str, &str); 3] =
        [("WXAUTH_TABLE", "wxauth"), ("ISSUER", "https://auth.example.com/"), ("KMS_DATA_KEY_ID", "alias/wxauth-data")];

    #[test]
    fn defaults_apply_when_only_required_variables_are_set() {
        let c = config(&REQUIRED).expect("valid");
        assert_eq!(c.issuer, "https://auth.example.com");
        assert_eq!(c.audience, "https://auth.example.com");
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(c.refresh_reuse_grace, Duration::ZERO);
        assert_eq!(c.wechat_api_base, "https://api.weixin.qq.com");
        assert_eq!(c.wechat_open_base, "https://open.weixin.qq.com");
        assert_eq!(c.wechat_timeout, Duration::from_millis(3000));
        let aws = AwsTimeouts { attempt: Duration::from_secs(2), call: Duration::from_secs(4) };
        assert_eq!(c.aws_timeouts, aws);
        assert_eq!(c.deadline_fallback, Duration::from_secs(5));
        assert_eq!(c.client_cache_ttl, Duration::from_secs(60));
        let bounds = DataKeyBounds { max_age: Duration::from_secs(300), max_messages: 10_000 };
        assert_eq!(c.data_key_bounds, bounds);
    }

    #[test]
    fn scan_login_needs_its_client_and_page_together() {
        assert_eq!(config(&REQUIRED).expect("valid").scan_login, None);
        let with =
            |extra: &[(&'static str, &'static str)]| config(&REQUIRED.iter().chain(extra).copied().collect::<Vec<_>>());
        let both = with(&[("SCAN_LOGIN_CLIENT", "mp"), ("SCAN_LOGIN_PAGE", "pages/scan/scan")]).expect("valid");
        let expected =
            ScanLogin { client_id: "mp".into(), page: "pages/scan/scan".into(), env_version: "release".into() };
        assert_eq!(both.scan_login, Some(expected));
        assert_eq!(with(&[("SCAN_LOGIN_CLIENT", "mp")]), Err(ConfigError::Missing("SCAN_LOGIN_PAGE")));
        assert_eq!(with(&[("SCAN_LOGIN_PAGE", "pages/scan/scan")]), Err(ConfigError::Missing("SCAN_LOGIN_CLIENT")));
        assert!(with(&[("SCAN_LOGIN_CLIENT", "mp"), ("SCAN_LOGIN_PAGE", "/pages/scan/scan")]).is_err());
        let trial = [("SCAN_LOGIN_CLIENT", "mp"), ("SCAN_LOGIN_PAGE", "p/s"), ("SCAN_LOGIN_ENV_VERSION", "trial")];
        assert_eq!(with(&trial).expect("valid").scan_login.expect("on").env_version, "trial");
        let bad = [("SCAN_LOGIN_CLIENT", "mp"), ("SCAN_LOGIN_PAGE", "p/s"), ("SCAN_LOGIN_ENV_VERSION", "beta")];
        assert!(with(&bad).is_err());
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        for (missing, _) in REQUIRED {
            let vars: Vec<_> = REQUIRED.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(config(&vars), Err(ConfigError::Missing(missing)));
        }
    }

    #[test]
    fn an_empty_variable_counts_as_missing() {
        let mut vars = REQUIRED.to_vec();
        vars[0].1 = "  ";
        assert_eq!(config(&vars), Err(ConfigError::Missing("WXAUTH_TABLE")));
    }

    #[test]
    fn overrides_are_parsed() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            ("ACCESS_TOKEN_TTL", "60"),
            ("AUDIENCE", "https://api.example.com"),
            ("WECHAT_API_BASE", "http://127.0.0.1:3100/"),
            ("REFRESH_REUSE_GRACE", "5"),
            ("AWS_ATTEMPT_TIMEOUT_MS", "30000"),
            ("AWS_CALL_TIMEOUT_MS", "60000"),
        ]);
        let c = config(&vars).expect("valid");
        assert_eq!(c.access_token_ttl, Duration::from_secs(60));
        assert_eq!(c.audience, "https://api.example.com");
        assert_eq!(c.wechat_api_base, "http://127.0.0.1:3100");
        assert_eq!(c.refresh_reuse_grace, Duration::from_secs(5));
        assert_eq!(c.aws_timeouts, AwsTimeouts { attempt: Duration::from_secs(30), call: Duration::from_secs(60) });
    }

    #[test]
    fn a_malformed_number_is_rejected_with_its_name() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("ACCESS_TOKEN_TTL", "15m"));
        assert!(matches!(config(&vars), Err(ConfigError::Invalid { name: "ACCESS_TOKEN_TTL", .. })));
    }

    #[test]
    fn an_issuer_that_is_not_a_url_is_rejected() {
        let mut vars = REQUIRED.to_vec();
        vars[1].1 = "auth.example.com";
        assert!(matches!(config(&vars), Err(ConfigError::Invalid { name: "ISSUER", .. })));
    }
}
