//! `GET /oauth/wechat/callback?code=…&state=…`: WeChat sends the browser back here after its
//! web authorization or QR sign-in ([`wxauth::oauth::wechat_web::callback`]). Answers a redirect
//! to the client (with the new session's cookie), to WeChat once more (for the unionid), the
//! consent page for the new session, or a page that says what happened and links back to WeChat.

use wxauth::App;
use wxauth::clock::unix_now;
use wxauth::http::{self, Request, Response};
use wxauth::oauth::authorization::{Refusal, Unredirectable};
use wxauth::oauth::browser_session;
use wxauth::oauth::wechat_web::{self, CallbackEnd, WechatProblem};
use wxauth::pages::text::Text;
use wxauth::pages::{self, ErrorPage, Locale, Problem, ScanPanel, SignInForm, SignInPage, WechatOffer};
use wxauth::params::Params;

pub async fn handle(app: &App, req: &Request) -> Response {
    let accept_language = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let locale = Locale::negotiate(None, accept_language);
    if req.method() != http::Method::GET {
        let mut res = pages::error_response(405, locale, Problem::MethodNotAllowed);
        res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        return res;
    }
    let params = match Params::parse(req.uri().query().unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(e) => {
            return pages::error_response(400, locale, Unredirectable::Malformed(e.description.into_owned()).into());
        }
    };
    let binding = http::cookie(req.headers(), wechat_web::binding_cookie_name(&app.config.issuer));
    let session = http::cookie(req.headers(), browser_session::cookie_name(&app.config.issuer));
    let end = match wechat_web::callback(app, &params, binding, session, unix_now()).await {
        Ok(end) => end,
        Err(Refusal::Shown(why)) => return pages::error_response(400, locale, why.into()),
        Err(Refusal::Redirect(location)) => return http::found(&location),
        Err(Refusal::Backend(e)) => return pages::backend_error_response(e, locale),
    };
    match end {
        CallbackEnd::Client { location, session_cookie } => {
            let mut res = http::found(&location);
            http::add_cookie(&mut res, &browser_session::set_cookie(app, &session_cookie));
            res
        }
        CallbackEnd::StepUp(url) => http::found(&url),
        CallbackEnd::Consent { resumed, request_id, csrf_token, session_cookie, user_name } => {
            let form = SignInForm {
                client_name: &resumed.client.name,
                client_id: &resumed.client.id,
                scope: &resumed.pending.scope,
                action: crate::PATH,
                request_id: &request_id,
                csrf_token: &csrf_token,
                username: None,
                signed_in_as: Some(user_name.as_deref().unwrap_or(Text::of(locale).wechat_user)),
                wrong_password: false,
                wechat: WechatOffer::Nothing,
                scan: ScanPanel::Nothing,
            };
            let mut res = pages::html_response(200, &SignInPage::new(locale, &form));
            http::add_cookie(&mut res, &crate::csrf_cookie(app, &csrf_token));
            http::add_cookie(&mut res, &browser_session::set_cookie(app, &session_cookie));
            res
        }
        CallbackEnd::Failed { problem, retry } => {
            let status = match problem {
                WechatProblem::Declined | WechatProblem::CodeRejected => 400,
                WechatProblem::Snapshot => 403,
                WechatProblem::Quota => 429,
                WechatProblem::Unavailable => 503,
                WechatProblem::Misconfigured => 502,
            };
            let problem = Problem::Wechat(problem);
            let mut res = pages::html_response(status, &ErrorPage::wechat(locale, &problem, &retry));
            if matches!(status, 429 | 503) {
                let seconds = if status == 429 { 60 } else { 5 };
                res.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            }
            res
        }
    }
}
