//! A browser as the in-process tests drive one: the session cookie it holds, the authorization
//! requests and sign-in forms it sends with it, and its logout.

use crate::server::Server;
use crate::sign_in::{
    SignInPage, approval, location_params, read_sign_in_page, session_cookie, sign_in_form_request,
    sign_in_page_request,
};

/// The session cookie's name on an https issuer (the tests' [`crate::ISSUER`]).
pub const SESSION_COOKIE: &str = "__Host-wxauth_session";

/// A browser: the session cookie it holds, if any.
#[derive(Clone, Default)]
pub struct Browser {
    pub session: Option<String>,
}

impl Browser {
    /// `GET /oauth/authorize?<query>` with the browser's session cookie.
    pub async fn authorize(&self, server: &Server, query: &[(&str, &str)]) -> wxauth::http::Response {
        let mut req = sign_in_page_request(query);
        if let Some(session) = &self.session {
            req.headers_mut().insert("cookie", format!("{SESSION_COOKIE}={session}").parse().expect("cookie"));
        }
        server.dispatch(req).await
    }

    /// Posts `page`'s form with `fields`, with the page's CSRF cookie and the session cookie,
    /// and keeps the session cookie the answer sets.
    pub async fn submit(
        &mut self,
        server: &Server,
        page: &SignInPage,
        fields: &[(&str, &str)],
    ) -> wxauth::http::Response {
        let mut req = sign_in_form_request(page, fields, true);
        if let Some(session) = &self.session {
            let both = format!("{}; {SESSION_COOKIE}={session}", page.cookie);
            req.headers_mut().insert("cookie", both.parse().expect("cookie"));
        }
        let res = server.dispatch(req).await;
        if let Some(value) = set_session_cookie(&res) {
            self.session = Some(value);
        }
        res
    }

    /// Signs `username` in on the page of `query` and returns the code of the redirect.
    pub async fn sign_in(&mut self, server: &Server, query: &[(&str, &str)], username: &str, password: &str) -> String {
        let page = read_sign_in_page(self.authorize(server, query).await).expect("the sign-in page");
        assert!(page.html.contains("type=\"password\""), "a sign-in page: {}", page.html);
        let res = self.submit(server, &page, &approval(username, password)).await;
        location_params(&res).get("code").expect("a code").clone()
    }

    /// Allows the consent page of `query` (a client new to the signed-in user); the code.
    pub async fn consent(&mut self, server: &Server, query: &[(&str, &str)]) -> String {
        let page = read_sign_in_page(self.authorize(server, query).await).expect("the consent page");
        assert!(!page.html.contains("type=\"password\""), "a consent page: {}", page.html);
        let res = self.submit(server, &page, &[("decision", "approve")]).await;
        location_params(&res).get("code").expect("a code").clone()
    }

    /// The code of a request answered without a page.
    pub async fn silent_code(&self, server: &Server, query: &[(&str, &str)]) -> String {
        let res = self.authorize(server, query).await;
        let params = location_params(&res);
        params.get("code").unwrap_or_else(|| panic!("a code, not {params:?}")).clone()
    }
}

/// The value of the session cookie a response sets, if it sets one.
pub fn set_session_cookie(res: &wxauth::http::Response) -> Option<String> {
    session_cookie(res).and_then(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")).map(str::to_string))
}

/// `GET /oauth/end_session?<query>` with the browser's session cookie.
pub async fn end_session(server: &Server, browser: &Browser, query: &[(&str, &str)]) -> wxauth::http::Response {
    let uri = format!("/oauth/end_session?{}", serde_urlencoded::to_string(query).expect("query"));
    let mut req = crate::raw_request("GET", &uri, None, lambda_http::Body::Empty);
    if let Some(session) = &browser.session {
        req.headers_mut().insert("cookie", format!("{SESSION_COOKIE}={session}").parse().expect("cookie"));
    }
    server.dispatch(req).await
}
