//! `GET /MP_verify_<token>.txt`: the file WeChat fetches from the issuer's root before it accepts
//! the host as an Official Account's web-authorization domain (网页授权域名), as registered with
//! the app (`wxauth-admin wechat-app add --verify-file`). The route is `GET /{file}`: every
//! other name at the root is a 404 without a read.

use wxauth::App;
use wxauth::domain::wechat_web::VerifyFile;
use wxauth::error::OAuthError;
use wxauth::http::{self, Request, Response};

pub async fn handle(app: &App, req: &Request) -> Response {
    let result = async {
        http::allow(req, "GET")?;
        let name = req.uri().path().trim_start_matches('/');
        let not_found = || OAuthError::new(404, "not_found", "no such file").into();
        // Only WeChat's file names cost a read.
        if VerifyFile::parse(name, "x").is_none() {
            return Err(not_found());
        }
        let apps = app.store.wechat_web_apps().await?;
        match apps.into_iter().filter_map(|a| a.verify_file).find(|f| f.name == name) {
            Some(file) => Ok::<_, wxauth::error::Error>(http::plain_text(file.content)),
            None => Err(not_found()),
        }
    };
    http::respond(result.await)
}
