//! The optional fixtures file (`MOCK_WECHAT_FIXTURES`), and the code and app
//! descriptions shared with `POST /mock/codes` and `POST /mock/apps`.
//!
//! ```json
//! {
//!   "codes": {
//!     "fixed-code-1": {"appid": "wx…", "openid": "o…", "session_key": "…", "unionid": "u…"},
//!     "blocked-code": {"errcode": 40226}
//!   },
//!   "apps": {
//!     "wx-mini…": "secret",
//!     "wx-shop…": {"secret": "…", "pages": ["pages/home/home", "pages/scan/scan"]},
//!     "wx-oa…": {"secret": "…", "kind": "official-account", "domain": "auth.example.com"},
//!     "wx-web…": {"secret": "…", "kind": "website", "domain": "127.0.0.1"}
//!   }
//! }
//! ```
//!
//! An app is its secret alone, or an object: `secret`, and for a web app
//! `kind` (`official-account` or `website`) and optionally `domain`, a bare
//! host (no scheme, port or path; compared case-insensitively) that every
//! `redirect_uri` of its sign-in page must have. A web app without a domain
//! accepts any host; a domain without a kind is refused. A mini program may
//! list its published `pages` (the first is its main page), which
//! `getwxacodeunlimit` checks ([`crate::wxacode`]); without the list, its
//! pages are [`crate::wxacode::DEFAULT_PAGES`]. A page is a path without a
//! leading `/` or a `?`, at most 128 bytes, and the list is not empty.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::jscode2session::{FixtureCode, Session};
use crate::state::{App, AppKind, Mock};
use crate::wxacode::is_page;

/// One code: either `appid` + `openid` + `session_key` (+ `unionid`), or
/// `errcode` alone.
#[derive(Debug, Default, Deserialize)]
pub struct CodeSpec {
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub session_key: Option<String>,
    pub unionid: Option<String>,
    pub errcode: Option<i64>,
}

impl CodeSpec {
    /// Checks the description is one of the two shapes.
    pub fn into_fixture(self) -> Result<FixtureCode, String> {
        let CodeSpec { appid, openid, session_key, unionid, errcode } = self;
        let non_empty = |v: Option<String>| v.filter(|v| !v.is_empty());
        match (errcode, non_empty(appid), non_empty(openid), non_empty(session_key)) {
            (Some(0), ..) => Err("errcode must not be 0".into()),
            (Some(errcode), None, None, None) if unionid.is_none() => Ok(FixtureCode::Error(errcode)),
            (Some(_), ..) => Err("give either errcode alone or appid, openid and session_key".into()),
            (None, Some(appid), Some(openid), Some(session_key)) => {
                let unionid = non_empty(unionid);
                Ok(FixtureCode::Session { appid, session: Session { openid, session_key, unionid } })
            }
            (None, ..) => Err("appid, openid and session_key are required (or errcode alone)".into()),
        }
    }
}

/// One app: its secret, for a web app its kind and domain, for a mini
/// program its published pages.
#[derive(Debug, Default, Deserialize)]
pub struct AppSpec {
    pub secret: String,
    pub kind: Option<AppKind>,
    pub domain: Option<String>,
    pub pages: Option<Vec<String>>,
}

impl AppSpec {
    /// Checks the secret is given, the domain is a bare host of a web app and
    /// the pages are pages.
    pub fn into_app(self) -> Result<App, String> {
        let AppSpec { secret, kind, domain, pages } = self;
        if secret.is_empty() {
            return Err("secret must not be empty".into());
        }
        let domain = match domain {
            None => None,
            Some(_) if kind.is_none() => return Err("domain needs kind (official-account or website)".into()),
            Some(domain) if is_host(&domain) => Some(domain.to_ascii_lowercase()),
            Some(_) => {
                return Err("domain must be a host (letters, digits, '.' and '-'; no scheme, port or path)".into());
            }
        };
        if let Some(pages) = &pages {
            if pages.is_empty() {
                return Err("pages must not be empty (the first is the main page)".into());
            }
            if let Some(page) = pages.iter().find(|page| !is_page(page)) {
                return Err(format!("page {page:?} must be a path without a leading '/' or a '?' (at most 128 bytes)"));
            }
        }
        Ok(App { secret, kind, domain, pages })
    }
}

fn is_host(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// An app in the fixtures file: its secret alone, or an [`AppSpec`].
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AppEntry {
    Secret(String),
    Spec(AppSpec),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixturesFile {
    #[serde(default)]
    codes: BTreeMap<String, CodeSpec>,
    #[serde(default)]
    apps: BTreeMap<String, AppEntry>,
}

/// A validated fixtures file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fixtures {
    pub codes: Vec<(String, FixtureCode)>,
    pub apps: Vec<(String, App)>,
}

impl Fixtures {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: FixturesFile = serde_json::from_str(text).context("fixtures are not the expected JSON")?;
        let codes = file
            .codes
            .into_iter()
            .map(|(code, spec)| {
                anyhow::ensure!(!code.is_empty(), "empty code in fixtures");
                let fixture = spec.into_fixture().map_err(|e| anyhow::anyhow!("fixture code {code:?}: {e}"))?;
                Ok((code, fixture))
            })
            .collect::<anyhow::Result<_>>()?;
        let apps = file
            .apps
            .into_iter()
            .map(|(appid, entry)| {
                anyhow::ensure!(!appid.is_empty(), "empty appid in fixtures");
                let spec = match entry {
                    AppEntry::Secret(secret) => AppSpec { secret, ..AppSpec::default() },
                    AppEntry::Spec(spec) => spec,
                };
                let app = spec.into_app().map_err(|e| anyhow::anyhow!("fixture app {appid:?}: {e}"))?;
                Ok((appid, app))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { codes, apps })
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read fixtures {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Registers the apps and codes; codes expire five minutes after `now_ms`.
    pub fn apply(self, mock: &mut Mock, now_ms: u64) {
        for (appid, app) in self.apps {
            mock.add_app(&appid, app);
        }
        for (code, fixture) in self.codes {
            mock.add_code(&code, fixture, now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_code_shapes_and_apps() {
        let text = r#"{
            "codes": {
                "c1": {"appid": "wxa", "openid": "o1", "session_key": "k1", "unionid": "u1"},
                "c2": {"appid": "wxa", "openid": "o2", "session_key": "k2"},
                "c3": {"errcode": 40226}
            },
            "apps": {"wxa": "secret"}
        }"#;
        let fixtures = Fixtures::parse(text).map_err(|e| e.to_string());
        let session = |openid: &str, key: &str, unionid: Option<&str>| FixtureCode::Session {
            appid: "wxa".into(),
            session: Session { openid: openid.into(), session_key: key.into(), unionid: unionid.map(Into::into) },
        };
        assert_eq!(
            fixtures,
            Ok(Fixtures {
                codes: vec![
                    ("c1".into(), session("o1", "k1", Some("u1"))),
                    ("c2".into(), session("o2", "k2", None)),
                    ("c3".into(), FixtureCode::Error(40226)),
                ],
                apps: vec![("wxa".into(), App::with_secret("secret"))],
            })
        );
        assert_eq!(Fixtures::parse("{}").map_err(|e| e.to_string()), Ok(Fixtures::default()));
    }

    #[test]
    fn parses_web_apps() {
        let text = r#"{"apps": {
            "wxoa": {"secret": "s1", "kind": "official-account", "domain": "Auth.Example.com"},
            "wxweb": {"secret": "s2", "kind": "website"},
            "wxmp": {"secret": "s3"}
        }}"#;
        let app = |secret: &str, kind, domain: Option<&str>| App {
            secret: secret.into(),
            kind,
            domain: domain.map(Into::into),
            pages: None,
        };
        assert_eq!(
            Fixtures::parse(text).map(|f| f.apps).map_err(|e| e.to_string()),
            Ok(vec![
                ("wxmp".into(), app("s3", None, None)),
                ("wxoa".into(), app("s1", Some(AppKind::OfficialAccount), Some("auth.example.com"))),
                ("wxweb".into(), app("s2", Some(AppKind::Website), None)),
            ])
        );
    }

    #[test]
    fn parses_published_pages() {
        let text = r#"{"apps": {"wxmp": {"secret": "s", "pages": ["pages/home/home", "pages/scan/scan"]}}}"#;
        let pages = Fixtures::parse(text).map(|f| f.apps.into_iter().map(|(_, app)| app.pages).collect::<Vec<_>>());
        assert_eq!(
            pages.map_err(|e| e.to_string()),
            Ok(vec![Some(vec!["pages/home/home".to_owned(), "pages/scan/scan".to_owned()])])
        );
    }

    #[test]
    fn rejects_malformed_fixtures() {
        for text in [
            "not json",
            r#"{"codes": {"c": {"appid": "wxa"}}}"#,
            r#"{"codes": {"c": {"errcode": 0}}}"#,
            r#"{"codes": {"c": {"errcode": 1, "appid": "wxa"}}}"#,
            r#"{"codes": {"": {"errcode": 1}}}"#,
            r#"{"apps": {"wxa": 1}}"#,
            r#"{"apps": {"wxa": ""}}"#,
            r#"{"apps": {"": "s"}}"#,
            r#"{"apps": {"wxa": {"kind": "website"}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "kind": "mini-program"}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "domain": "a.example"}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "kind": "website", "domain": "127.0.0.1:3000"}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "kind": "website", "domain": "https://a.example"}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "kind": "website", "domain": ""}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "pages": []}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "pages": ["/pages/a/a"]}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "pages": ["pages/a/a?x=1"]}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "pages": [""]}}}"#,
            r#"{"apps": {"wxa": {"secret": "s", "pages": "pages/a/a"}}}"#,
            r#"{"app": {}}"#,
        ] {
            assert!(Fixtures::parse(text).is_err(), "{text}");
        }
    }
}
