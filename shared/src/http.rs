//! HTTP parsing and responses for `shared`: reading form and JSON bodies, client credentials and
//! bearer tokens from headers, and building responses. Handlers turn a [`Request`] into a
//! [`Response`] with these. Of the incoming request, only the glue sees HTTP: this module,
//! [`crate::deadline`] (which answers a [`Request`] before the invocation's deadline) and
//! [`crate::lambda`]. The rules ([`crate::oauth`]) and everything below them get parsed values
//! and answer with values or an [`OAuthError`], which carries the status code it is answered
//! with; the one HTTP below them is outgoing: the WeChat client ([`crate::wechat::api`]) and the
//! AWS SDK.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use serde::Serialize;

use crate::error::{Error, OAuthError};
use crate::oauth::client_auth::Credentials;
use crate::params::{Params, form_urlencoded_pairs};

pub use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
pub use lambda_http::{Body, Request};
pub type Response = lambda_http::Response<Body>;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
/// Bodies above this are refused before parsing: no OAuth request needs more.
const MAX_BODY: usize = 64 * 1024;

fn body_bytes(req: &Request) -> Result<&[u8], OAuthError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY {
        return Err(OAuthError::invalid_request("the body is too large").with_status(413));
    }
    Ok(bytes)
}

fn has_media_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

/// `405` with the `Allow` header RFC 9110 §15.5.6 asks for.
pub fn method_not_allowed(allowed: &'static str) -> OAuthError {
    OAuthError::invalid_request(format!("use {allowed}")).with_status(405).with_allow(allowed)
}

/// Refuses a method that `allowed` (the `Allow` header's value, e.g. `"GET, HEAD"`) does not list.
pub fn allow(req: &Request, allowed: &'static str) -> Result<(), OAuthError> {
    if allowed.split(", ").any(|method| method == req.method().as_str()) {
        Ok(())
    } else {
        Err(method_not_allowed(allowed))
    }
}

/// The form body of a POST, refusing any other method or content type.
pub fn form(req: &Request) -> Result<Params, OAuthError> {
    allow(req, "POST")?;
    if !has_media_type(req.headers(), FORM) {
        return Err(OAuthError::invalid_request(format!("the body must be {FORM}")));
    }
    Params::parse(body_bytes(req)?)
}

/// The JSON body of a POST, as `T`.
pub fn json<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, OAuthError> {
    allow(req, "POST")?;
    if !has_media_type(req.headers(), JSON) {
        return Err(OAuthError::invalid_request(format!("the body must be {JSON}")));
    }
    serde_json::from_slice(body_bytes(req)?)
        .map_err(|e| OAuthError::invalid_request(format!("the JSON body does not fit: {}", e.classify_text())))
}

trait ClassifyText {
    fn classify_text(&self) -> &'static str;
}

impl ClassifyText for serde_json::Error {
    /// serde's messages can quote the input; say only what kind of problem it is.
    fn classify_text(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "missing or mistyped field",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and secret are each
/// form-urlencoded before being joined with `:`). `None` when the header is absent.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials").with_www_authenticate("Basic");
    let value = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = strip_scheme(value, "Basic") else {
        return Ok(None);
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        form_urlencoded_pairs(format!("v={s}").as_bytes())
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
            .ok_or_else(bad)
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// The client credentials of a request (RFC 6749 §2.3): its Basic header and its form.
pub fn client_credentials(req: &Request, params: &Params) -> Result<Credentials, OAuthError> {
    Credentials::new(basic_credentials(req.headers())?, params)
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), if that is the scheme used.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    strip_scheme(value, "Bearer").map(str::trim).filter(|t| !t.is_empty())
}

/// `302 Found` to `location`, not to be cached.
pub fn found(location: &str) -> Response {
    let mut res = no_store(Response::new(Body::Empty));
    *res.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, value);
    }
    res
}

/// Adds a `Set-Cookie` header (beside any others).
pub fn add_cookie(res: &mut Response, set_cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(set_cookie) {
        res.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// The address the request came from, as API Gateway saw it (`requestContext.http.sourceIp`):
/// never a header the caller could have set.
pub fn source_ip(req: &Request) -> Option<&str> {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        _ => None,
    }
}

/// `req` as API Gateway passes it on from `ip`: for the local server, which stands in for API
/// Gateway, and for tests.
pub fn with_source_ip(req: Request, ip: &str) -> Request {
    use lambda_http::RequestExt as _;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(ip.to_string());
    req.with_request_context(RequestContext::ApiGatewayV2(context))
}

/// The value of cookie `name` among the request's `Cookie` headers (RFC 6265 §5.4), if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The credentials after `scheme` in an Authorization value (empty when there are none), if
/// that is the scheme. Schemes are case-insensitive (RFC 9110 §11.1) and may be followed by any
/// whitespace, or by nothing at all: `Basic` alone is a (malformed) attempt at Basic too.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let value = value.trim_start();
    let end = value.find(|c: char| c.is_ascii_whitespace()).unwrap_or(value.len());
    value[..end].eq_ignore_ascii_case(scheme).then(|| value[end..].trim())
}

/// A JSON response with `status`.
pub fn json_response(status: u16, body: &impl Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = Response::new(Body::Binary(body));
    *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A short plain-text document (`text/plain; charset=utf-8`), e.g. a domain-verification file.
pub fn plain_text(body: String) -> Response {
    let mut res = Response::new(Body::Text(body));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    res
}

/// Responses carrying tokens or errors must not be cached (RFC 6749 §5.1).
pub fn no_store(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// A public, cacheable JSON document (metadata, JWKS).
pub fn cacheable_json(body: &impl Serialize, max_age_seconds: u64) -> Response {
    let mut res = json_response(200, body);
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age_seconds}")) {
        res.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    res
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// The RFC 6749 §5.2 error body, with its headers.
pub fn error_response(e: &OAuthError) -> Response {
    crate::metrics::count(crate::metrics::Metric::OAuthErrors, &[("Error", e.error)]);
    let mut res = no_store(json_response(e.status, &ErrorBody { error: e.error, error_description: &e.description }));
    let headers = res.headers_mut();
    if let Some(value) = e.www_authenticate.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, value);
    }
    if let Some(seconds) = e.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(allow) = e.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    res
}

/// Ends a handler: successes pass through, errors become their RFC 6749 response. Faults that
/// are not the client's are logged here, once, with their cause chain.
pub fn respond(result: Result<Response, Error>) -> Response {
    match result {
        Ok(res) => res,
        Err(e) => {
            match &e {
                Error::OAuth(_) => {}
                Error::Unavailable(cause) => {
                    tracing::warn!(error = format!("{cause:#}"), "backend unavailable")
                }
                Error::BadGateway(cause) => {
                    tracing::error!(error = format!("{cause:#}"), "bad upstream answer")
                }
                Error::Internal(cause) => {
                    tracing::error!(error = format!("{cause:#}"), "internal error")
                }
            }
            error_response(&e.to_oauth())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut builder = http::Request::builder().method(method).uri("/oauth/token");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.into())).expect("request")
    }

    #[test]
    fn the_source_ip_is_api_gateways_never_a_header() {
        let forwarded = http::Request::builder().header("x-forwarded-for", "198.51.100.1").body(Body::Empty);
        let forwarded = forwarded.expect("request");
        assert_eq!(source_ip(&forwarded), None);
        let passed_on = with_source_ip(forwarded, "203.0.113.7");
        assert_eq!(source_ip(&passed_on), Some("203.0.113.7"));
    }

    #[test]
    fn form_refuses_other_content_types_and_methods() {
        assert_eq!(form(&request("POST", Some("application/json"), "{}")).expect_err("json").status, 400);
        assert_eq!(form(&request("POST", None, "a=b")).expect_err("none").status, 400);
        assert_eq!(form(&request("GET", Some(FORM), "a=b")).expect_err("get").status, 405);
        let ok = form(&request("POST", Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), "a=b"));
        assert_eq!(ok.expect("form").get("a"), Some("b"));
    }

    #[test]
    fn allow_accepts_only_the_listed_methods_and_names_them() {
        assert!(allow(&request("HEAD", None, ""), "GET, HEAD").is_ok());
        assert!(allow(&request("POST", None, ""), "GET, POST").is_ok());
        let refused = allow(&request("DELETE", None, ""), "GET, HEAD").expect_err("delete");
        assert_eq!((refused.status, refused.allow), (405, Some("GET, HEAD")));
        // Not a prefix match: `GET` does not let `GE` through.
        assert!(allow(&request("GE", None, ""), "GET").is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20client:p%3Ass+word");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("basic {encoded}")).expect("header"));
        let (id, secret) = basic_credentials(&headers).expect("ok").expect("some");
        assert_eq!((id.as_str(), secret.as_str()), ("my client", "p:ss word"));
    }

    #[test]
    fn malformed_basic_credentials_ask_for_basic_again() {
        // `Basic` with nothing after it (HTTP trims trailing whitespace), or a tab before the
        // credentials, is an attempt at Basic as much as garbage after it is (RFC 6749 §5.2).
        for value in ["Basic !!!", "Basic", "basic", "Basic   ", "Basic\t", "Basic\t!!"] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
            let e = basic_credentials(&headers).expect_err(value);
            assert_eq!((e.status, e.www_authenticate.as_deref()), (401, Some("Basic")), "{value:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basicx abc"));
        assert_eq!(basic_credentials(&headers).expect("not Basic"), None);
    }

    #[test]
    fn a_tab_may_separate_the_scheme_from_its_credentials() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic\t{}", STANDARD.encode("id:secret"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&value).expect("header"));
        let (id, secret) = basic_credentials(&headers).expect("ok").expect("some");
        assert_eq!((id.as_str(), secret.as_str()), ("id", "secret"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer\tabc.def"));
        assert_eq!(bearer_token(&headers), Some("abc.def"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_token(&headers), None, "no token");
    }

    #[test]
    fn bearer_token_is_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc.def"));
        assert_eq!(bearer_token(&headers), Some("abc.def"));
    }

    #[test]
    fn error_responses_carry_the_rfc_body_and_no_store() {
        let res = error_response(&OAuthError::invalid_grant("expired").with_retry_after(3));
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(res.headers()[header::RETRY_AFTER], "3");
        let body: serde_json::Value = serde_json::from_slice(res.body().as_ref()).expect("json");
        assert_eq!(body, serde_json::json!({"error": "invalid_grant", "error_description": "expired"}));
    }

    #[test]
    fn a_cookie_is_found_among_others_by_its_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; wxauth_csrf=xyz; b=2"));
        assert_eq!(cookie(&headers, "wxauth_csrf"), Some("xyz"));
        headers.insert(header::COOKIE, HeaderValue::from_static("wxauth_csrfx=evil"));
        assert_eq!(cookie(&headers, "wxauth_csrf"), None);
        headers.append(header::COOKIE, HeaderValue::from_static("wxauth_csrf=second"));
        assert_eq!(cookie(&headers, "wxauth_csrf"), Some("second"));
    }
}
