//! What a user access token ([`crate::sns_oauth2`]) can do:
//! `GET /sns/userinfo?access_token=&openid=&lang=` and
//! `GET /sns/auth?access_token=&openid=`.
//!
//! `/sns/userinfo` answers the signed-in user's profile, with WeChat's
//! post-2021 placeholders for sex and region:
//!
//! ```text
//! {"openid": "<openid>", "nickname": "<base>", "sex": 0, "province": "", "city": "", "country": "",
//!  "headimgurl": "https://thirdwx.qlogo.cn/mmopen/mock/<base>/132", "privilege": [], "unionid": "unionid-<base>"?}
//! ```
//!
//! (`unionid` for `.u` users; `lang` is ignored). `/sns/auth` answers
//! `{"errcode": 0, "errmsg": "ok"}` while the token is valid for `openid`.
//! Both resolve `access_token` first ([`Mock::resolve_user_token`]: 41001
//! missing, 40001 `invalid credential, access_token is invalid or not
//! latest`, 42001 `access_token expired`), then: `openid` missing or not the
//! token's → 40003 `invalid openid`; and for `/sns/userinfo`, a token of
//! scope `snsapi_base` → 48001 `api unauthorized`.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use crate::errors::WxError;
use crate::routes::{AppState, answer, query_params};
use crate::sns_oauth2::Grant;
use crate::state::{Api, Mock};
use crate::web_authorize::Scope;

pub const PATH: &str = "/sns/userinfo";
pub const AUTH_PATH: &str = "/sns/auth";

/// A successful `/sns/userinfo` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    pub openid: String,
    pub nickname: String,
    pub sex: u8,
    pub province: String,
    pub city: String,
    pub country: String,
    pub headimgurl: String,
    pub privilege: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// The token's grant, if it is valid and `openid` is its user's (else 40003).
fn check_openid(grant: Result<Grant, WxError>, openid: Option<&str>) -> Result<Grant, WxError> {
    let grant = grant?;
    if openid == Some(grant.openid().as_str()) { Ok(grant) } else { Err(WxError::INVALID_OPENID) }
}

impl Mock {
    /// `GET /sns/userinfo`.
    pub fn sns_userinfo(
        &mut self,
        access_token: Option<&str>,
        openid: Option<&str>,
        now_ms: u64,
    ) -> Result<UserInfo, WxError> {
        let grant = check_openid(self.resolve_user_token(access_token, Api::SnsUserinfo, now_ms), openid)?;
        if grant.scope == Scope::Base {
            return Err(WxError::API_UNAUTHORIZED);
        }
        let base = &grant.identity.base;
        Ok(UserInfo {
            openid: grant.openid(),
            nickname: base.clone(),
            sex: 0,
            province: String::new(),
            city: String::new(),
            country: String::new(),
            headimgurl: format!("https://thirdwx.qlogo.cn/mmopen/mock/{base}/132"),
            privilege: Vec::new(),
            unionid: grant.identity.unionid(),
        })
    }

    /// `GET /sns/auth`.
    pub fn sns_auth(&mut self, access_token: Option<&str>, openid: Option<&str>, now_ms: u64) -> Result<(), WxError> {
        check_openid(self.resolve_user_token(access_token, Api::SnsAuth, now_ms), openid).map(|_| ())
    }
}

pub(crate) async fn handle(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query);
    let param = |name: &str| params.get(name).map(String::as_str);
    answer(&state, |mock, now| mock.sns_userinfo(param("access_token"), param("openid"), now))
}

pub(crate) async fn handle_auth(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params = query_params(query);
    let param = |name: &str| params.get(name).map(String::as_str);
    answer(&state, |mock, now| {
        mock.sns_auth(param("access_token"), param("openid"), now)?;
        Ok(json!({"errcode": 0, "errmsg": "ok"}))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use super::*;
    use crate::sns_oauth2::USER_TOKEN_TTL_MS;
    use axum::http::header::LOCATION;

    use crate::testing::{
        OA, T0, WEB, app, assert_error, code_in, header_of, parse, send, send_with, sign_in, web_mock, wechat,
    };

    #[test]
    fn userinfo_fields() {
        let mut m = web_mock();
        let token = sign_in(&mut m, WEB, "snsapi_login", "kim~3.u", T0);
        assert_eq!(
            m.sns_userinfo(Some(&token.access_token), Some("openid-kim-wxweb"), T0),
            Ok(UserInfo {
                openid: "openid-kim-wxweb".into(),
                nickname: "kim".into(),
                sex: 0,
                province: String::new(),
                city: String::new(),
                country: String::new(),
                headimgurl: "https://thirdwx.qlogo.cn/mmopen/mock/kim/132".into(),
                privilege: Vec::new(),
                unionid: Some("unionid-kim".into()),
            })
        );
        let plain = sign_in(&mut m, OA, "snsapi_userinfo", "lee", T0);
        let info = m.sns_userinfo(Some(&plain.access_token), Some("openid-lee-wxoa"), T0);
        assert_eq!(info.map(|i| (i.nickname, i.unionid)), Ok(("lee".into(), None)));
        let snap = sign_in(&mut m, OA, "snsapi_userinfo", "lee.snap", T0);
        let info = m.sns_userinfo(Some(&snap.access_token), Some("openid-snap-lee-wxoa"), T0);
        assert_eq!(info.map(|i| i.openid), Ok("openid-snap-lee-wxoa".into()));
    }

    #[test]
    fn userinfo_and_auth_errors() {
        let mut m = web_mock();
        let userinfo = sign_in(&mut m, OA, "snsapi_userinfo", "max.u", T0);
        let base = sign_in(&mut m, OA, "snsapi_base", "max.u", T0);
        let openid = Some("openid-max-wxoa");
        let t = |token: &crate::sns_oauth2::UserAccessToken| token.access_token.clone();

        assert_eq!(m.sns_userinfo(None, openid, T0), Err(WxError::ACCESS_TOKEN_MISSING));
        assert_eq!(m.sns_userinfo(Some("bogus"), openid, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.sns_userinfo(Some(&userinfo.refresh_token), openid, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.sns_userinfo(Some(&t(&userinfo)), Some("openid-max-wxweb"), T0), Err(WxError::INVALID_OPENID));
        assert_eq!(m.sns_userinfo(Some(&t(&userinfo)), None, T0), Err(WxError::INVALID_OPENID));
        assert_eq!(m.sns_userinfo(Some(&t(&base)), openid, T0), Err(WxError::API_UNAUTHORIZED));
        assert_eq!(
            m.sns_userinfo(Some(&t(&userinfo)), openid, T0 + USER_TOKEN_TTL_MS),
            Err(WxError::ACCESS_TOKEN_EXPIRED)
        );
        assert!(m.sns_userinfo(Some(&t(&userinfo)), openid, T0 + USER_TOKEN_TTL_MS - 1).is_ok());
        assert_eq!(WxError::INVALID_OPENID.errmsg(), "invalid openid");
        assert_eq!(WxError::API_UNAUTHORIZED.errmsg(), "api unauthorized");

        // /sns/auth takes tokens of any scope.
        assert_eq!(m.sns_auth(Some(&t(&base)), openid, T0), Ok(()));
        assert_eq!(m.sns_auth(Some(&t(&userinfo)), openid, T0), Ok(()));
        assert_eq!(m.sns_auth(Some(&t(&base)), Some("openid-x"), T0), Err(WxError::INVALID_OPENID));
        assert_eq!(m.sns_auth(Some("bogus"), openid, T0), Err(WxError::INVALID_CREDENTIAL));
        assert_eq!(m.sns_auth(Some(&t(&base)), openid, T0 + USER_TOKEN_TTL_MS), Err(WxError::ACCESS_TOKEN_EXPIRED));

        // Known tokens count for their app, even when refused.
        assert_eq!((m.calls(OA).sns_userinfo, m.calls(OA).sns_auth), (5, 4));
    }

    #[tokio::test]
    async fn userinfo_and_auth_speak_wechat() {
        let (app, time) = app();
        let register = r#"{"appid": "wxu", "secret": "sec", "kind": "official-account", "domain": "127.0.0.1"}"#;
        let (status, ..) = send(&app, "POST", "/mock/apps", register).await;
        assert_eq!(status, axum::http::StatusCode::OK);
        let page =
            "/connect/oauth2/authorize?appid=wxu&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&response_type=code&state=";
        let mut tokens = Vec::new();
        for scope in ["snsapi_userinfo", "snsapi_base"] {
            let (_, headers, _) = send_with(&app, "POST", &format!("{page}&scope={scope}"), &[], "user=nia.u").await;
            let code = code_in(&header_of(&headers, LOCATION)).unwrap_or_default();
            let exchange =
                format!("/sns/oauth2/access_token?appid=wxu&secret=sec&code={code}&grant_type=authorization_code");
            tokens
                .push(wechat(&app, "GET", &exchange, "").await["access_token"].as_str().unwrap_or_default().to_owned());
        }
        let (userinfo, base) = (&tokens[0], &tokens[1]);

        let info =
            wechat(&app, "GET", &format!("{PATH}?access_token={userinfo}&openid=openid-nia-wxu&lang=en"), "").await;
        assert_eq!(
            info,
            json!({
                "openid": "openid-nia-wxu", "nickname": "nia", "sex": 0, "province": "", "city": "", "country": "",
                "headimgurl": "https://thirdwx.qlogo.cn/mmopen/mock/nia/132", "privilege": [], "unionid": "unionid-nia"
            })
        );
        let base_info = format!("{PATH}?access_token={base}&openid=openid-nia-wxu");
        assert_error(&wechat(&app, "GET", &base_info, "").await, 48001, "api unauthorized");
        let wrong = format!("{PATH}?access_token={userinfo}&openid=openid-x");
        assert_error(&wechat(&app, "GET", &wrong, "").await, 40003, "invalid openid");
        let invalid = "invalid credential, access_token is invalid or not latest";
        assert_error(&wechat(&app, "GET", &format!("{PATH}?access_token=x&openid=o"), "").await, 40001, invalid);

        let auth = format!("{AUTH_PATH}?access_token={base}&openid=openid-nia-wxu");
        assert_eq!(wechat(&app, "GET", &auth, "").await, json!({"errcode": 0, "errmsg": "ok"}));
        let auth_wrong = format!("{AUTH_PATH}?access_token={base}&openid=openid-x");
        assert_error(&wechat(&app, "GET", &auth_wrong, "").await, 40003, "invalid openid");
        assert_error(&wechat(&app, "GET", &format!("{AUTH_PATH}?access_token=x&openid=o"), "").await, 40001, invalid);
        time.fetch_add(USER_TOKEN_TTL_MS, Ordering::SeqCst);
        assert_error(&wechat(&app, "GET", &auth, "").await, 42001, "access_token expired");

        let (_, _, calls) = send(&app, "GET", "/mock/calls?appid=wxu", "").await;
        assert_eq!(
            parse(&calls),
            json!({
                "jscode2session": 0, "stable_token": 0, "getuserphonenumber": 0, "checksession": 0,
                "web_authorize": 2, "sns_oauth2_access_token": 2, "sns_oauth2_refresh_token": 0,
                "sns_userinfo": 3, "sns_auth": 3, "getwxacodeunlimit": 0
            })
        );
    }
}
