//! The user's phone number: `POST /wxa/business/getuserphonenumber?access_token=`.
//!
//! WeChat exchanges the code a `getPhoneNumber` button hands the mini
//! program for the user's number. Body `{"code": "..."}`. WeChat's documented
//! errors: -1 `system error`, 40029 `invalid code`, 45011 (rate limit),
//! 40001 (access token invalid).
//!
//! The mock first resolves `access_token` ([`crate::tokens`]: 41001, 40001,
//! 42001), then: body not a JSON object, or `code` not a string → 47001;
//! no code → 41008 `missing code`. `phone-<digits>` answers, once per
//! (appid, code) (then 40163), within 5 minutes of first sight:
//!
//! ```text
//! {"errcode":0,"errmsg":"ok","phone_info":{"phoneNumber":"<digits>","purePhoneNumber":"<digits>",
//!  "countryCode":"86","watermark":{"timestamp":<unix seconds>,"appid":"<the token's appid>"}}}
//! ```
//!
//! (`phoneNumber` carries an area code only for non-Chinese numbers, which
//! the mock does not produce). `busy-phone-<digits>` answers -1 `system
//! error` once, then as `phone-<digits>`; `err-<n>` answers that error every
//! time; anything else → 40029 `invalid code`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use crate::errors::WxError;
use crate::routes::{AppState, answer, json_object, query_params, string_field};
use crate::state::{Api, CodeUse, Mock, present};

pub const PATH: &str = "/wxa/business/getuserphonenumber";

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

/// What a phone code means: `Ok((digits, busy once))` for `phone-<digits>`
/// and `busy-phone-<digits>`, `Err` for `err-<n>`, `None` for anything else.
fn parse_phone_code(code: &str) -> Option<Result<(&str, bool), WxError>> {
    if let Some(err) = WxError::named_by_code(code) {
        return Some(Err(err));
    }
    let (code, busy) = code.strip_prefix("busy-").map_or((code, false), |rest| (rest, true));
    let digits = code.strip_prefix("phone-")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Ok((digits, busy)))
}

impl Mock {
    /// `getuserphonenumber` for a resolved appid.
    pub fn phone_number(&mut self, appid: &str, code: Option<&str>, now_ms: u64) -> Result<PhoneInfo, WxError> {
        let code = present(code).ok_or(WxError::MISSING_CODE)?;
        let digits = match parse_phone_code(code) {
            None => return Err(WxError::INVALID_CODE),
            Some(Err(err)) => return Err(err),
            Some(Ok(parsed)) => parsed,
        };
        let (digits, busy) = digits;
        let usage = self.phone_codes.entry((appid.to_owned(), code.to_owned())).or_insert_with(|| CodeUse::new(now_ms));
        usage.check(now_ms)?;
        if busy && !usage.busy_answered {
            usage.busy_answered = true;
            return Err(WxError::SYSTEM_ERROR);
        }
        usage.used = true;
        Ok(PhoneInfo {
            phone_number: digits.to_owned(),
            pure_phone_number: digits.to_owned(),
            country_code: "86".to_owned(),
            watermark: Watermark { timestamp: now_ms / 1000, appid: appid.to_owned() },
        })
    }
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let params = query_params(query);
    answer(&state, |mock, now| {
        let token = params.get("access_token").map(String::as_str);
        let appid = mock.resolve_token(token, Api::GetUserPhoneNumber, now)?;
        let code = string_field(&json_object(&body)?, "code")?;
        let phone_info = mock.phone_number(&appid, code.as_deref(), now)?;
        Ok(json!({"errcode": 0, "errmsg": "ok", "phone_info": phone_info}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{T0, mock};

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
    fn a_busy_phone_code_answers_minus_one_once_then_the_number() {
        let mut m = mock();
        assert_eq!(m.phone_number("wxa", Some("busy-phone-13900000000"), T0), Err(WxError::SYSTEM_ERROR));
        assert_eq!(
            m.phone_number("wxa", Some("busy-phone-13900000000"), T0).map(|i| i.phone_number),
            Ok("13900000000".into())
        );
        assert_eq!(m.phone_number("wxa", Some("busy-phone-13900000000"), T0), Err(WxError::CODE_BEEN_USED));
        assert_eq!(m.phone_number("wxa", Some("busy-phone-"), T0), Err(WxError::INVALID_CODE));
    }
}
