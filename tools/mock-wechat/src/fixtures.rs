//! The optional fixtures file (`MOCK_WECHAT_FIXTURES`), and the code
//! description shared with `POST /mock/codes`.
//!
//! ```json
//! {
//!   "codes": {
//!     "fixed-code-1": {"appid": "wx…", "openid": "o…", "session_key": "…", "unionid": "u…"},
//!     "blocked-code": {"errcode": 40226}
//!   },
//!   "apps": {"wx…": "secret"}
//! }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::jscode2session::{FixtureCode, Session};
use crate::state::Mock;

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixturesFile {
    #[serde(default)]
    codes: BTreeMap<String, CodeSpec>,
    #[serde(default)]
    apps: BTreeMap<String, String>,
}

/// A validated fixtures file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fixtures {
    pub codes: Vec<(String, FixtureCode)>,
    pub apps: Vec<(String, String)>,
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
        Ok(Self { codes, apps: file.apps.into_iter().collect() })
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read fixtures {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Registers the apps and codes; codes expire five minutes after `now_ms`.
    pub fn apply(self, mock: &mut Mock, now_ms: u64) {
        for (appid, secret) in self.apps {
            mock.register_app(&appid, &secret);
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
                apps: vec![("wxa".into(), "secret".into())],
            })
        );
        assert_eq!(Fixtures::parse("{}").map_err(|e| e.to_string()), Ok(Fixtures::default()));
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
            r#"{"app": {}}"#,
        ] {
            assert!(Fixtures::parse(text).is_err(), "{text}");
        }
    }
}
