//! The browser's side of the authorization endpoint (the sign-in page, its form, the redirect),
//! and the web client's side of the code flow (its authorization request, the code exchange).

use std::collections::HashMap;

use lambda_http::{Body, Request};

use crate::{ISSUER, Reply, Server, form_request, raw_request};

/// The redirect URI of the tests' web clients.
pub const REDIRECT_URI: &str = "https://app.example/callback";

/// RFC 7636 Appendix B's verifier and challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An authorization request of the code flow: `client_id` to [`REDIRECT_URI`] with `scope`,
/// `state` and the PKCE challenge of [`PKCE_VERIFIER`], in this order.
pub fn code_request<'a>(client_id: &'a str, scope: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", state),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// The browser's side of the sign-in page: what a GET showed and set.
#[derive(Debug)]
pub struct SignInPage {
    pub status: u16,
    pub html: String,
    pub request_id: String,
    pub csrf_token: String,
    pub cookie: String,
}

/// Opens `/oauth/authorize?<query>` and reads the form's hidden fields and the CSRF cookie.
pub async fn open_sign_in(server: &Server, query: &[(&str, &str)]) -> Result<SignInPage, wxauth::http::Response> {
    read_sign_in_page(server.dispatch(sign_in_page_request(query)).await)
}

/// `GET /oauth/authorize?<query>`.
pub fn sign_in_page_request(query: &[(&str, &str)]) -> Request {
    let uri = format!("/oauth/authorize?{}", serde_urlencoded::to_string(query).expect("query"));
    raw_request("GET", &uri, None, Body::Empty)
}

/// The form's hidden fields and the CSRF cookie of a sign-in page; any other answer as it is.
#[allow(clippy::result_large_err)] // a test's error case: the response, to assert on
pub fn read_sign_in_page(res: wxauth::http::Response) -> Result<SignInPage, wxauth::http::Response> {
    if res.status() != 200 {
        return Err(res);
    }
    let html = String::from_utf8(res.body().as_ref().to_vec()).expect("utf8");
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a CSRF cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_string();
    Ok(SignInPage {
        status: 200,
        request_id: hidden_field(&html, "request_id"),
        csrf_token: hidden_field(&html, "csrf_token"),
        cookie,
        html,
    })
}

/// Posts the sign-in form of `page` with `fields`, as the browser would (cookie included).
pub async fn submit_sign_in(
    server: &Server,
    page: &SignInPage,
    fields: &[(&str, &str)],
    with_cookie: bool,
) -> wxauth::http::Response {
    server.dispatch(sign_in_form_request(page, fields, with_cookie)).await
}

/// The sign-in form's fields of `username` signing in with `password` and approving.
pub fn approval<'a>(username: &'a str, password: &'a str) -> [(&'a str, &'a str); 3] {
    [("username", username), ("password", password), ("decision", "approve")]
}

/// `username` signs in with `password` on `page` and approves, with the browser's cookie.
pub async fn approve(server: &Server, page: &SignInPage, username: &str, password: &str) -> wxauth::http::Response {
    submit_sign_in(server, page, &approval(username, password), true).await
}

/// `POST /oauth/authorize` of `page`'s form with `fields`, with or without the CSRF cookie.
pub fn sign_in_form_request(page: &SignInPage, fields: &[(&str, &str)], with_cookie: bool) -> Request {
    let mut params = vec![("request_id", page.request_id.as_str()), ("csrf_token", page.csrf_token.as_str())];
    params.extend_from_slice(fields);
    let mut req = form_request("/oauth/authorize", &params);
    if with_cookie {
        req.headers_mut().insert("cookie", page.cookie.parse().expect("cookie"));
    }
    req
}

/// Signs `username` in through the page of the authorization request `query` and returns the
/// code; the redirect carries the request's `state` and our `iss` (RFC 9207).
pub async fn code_for(server: &Server, query: &[(&str, &str)], username: &str, password: &str) -> String {
    let page = open_sign_in(server, query).await.expect("the sign-in page");
    let params = location_params(&approve(server, &page, username, password).await);
    let state = query.iter().find(|(k, _)| *k == "state").map(|(_, v)| *v);
    assert_eq!(params.get("state").map(String::as_str), state);
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    params.get("code").expect("a code").clone()
}

/// The code exchange at the token endpoint: `code` for the public client `client_id`, with
/// [`REDIRECT_URI`] and `verifier`.
pub async fn exchange(server: &Server, client_id: &str, code: &str, verifier: &str) -> Reply {
    server
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .await
}

/// The value of the sign-in page's hidden field `name` (`name="…" value="…"`), HTML-unescaped.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start =
        html.find(&marker).unwrap_or_else(|| panic!("the sign-in page has no field {name}:\n{html}")) + marker.len();
    let end = html[start..].find('"').expect("the value attribute ends") + start;
    unescape(&html[start..end])
}

/// The sign-in page's form `action`, HTML-unescaped.
pub fn form_action(html: &str) -> String {
    let form = html.find("<form").unwrap_or_else(|| panic!("the sign-in page has no form:\n{html}"));
    let marker = "action=\"";
    let start = html[form..].find(marker).expect("the form has an action") + form + marker.len();
    let end = html[start..].find('"').expect("the action attribute ends") + start;
    unescape(&html[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The browser-session cookie a response sets, as a `Cookie` header carries it (`name=value`).
pub fn session_cookie(res: &wxauth::http::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-wxauth_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// The query (or fragment) parameters of a redirect's `Location`.
pub fn location_params(res: &wxauth::http::Response) -> HashMap<String, String> {
    assert_eq!(res.status(), 302, "expected a redirect: {}", String::from_utf8_lossy(res.body().as_ref()));
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location");
    let params = location.split_once(['?', '#']).map(|(_, p)| p).unwrap_or_default();
    serde_urlencoded::from_str(params).expect("params")
}
