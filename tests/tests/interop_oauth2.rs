//! Interoperability: the `oauth2` crate (crates.io, 5.x), a client library nobody here wrote,
//! against the local server over real HTTP. `scripts/test` starts the server, exports
//! `WXAUTH_LOCAL_URL`, and creates the demo clients and user (`create_demo_clients` in
//! `scripts/stack.sh`): `demo-web` (public, code + refresh, redirect `$ISSUER/demo/callback`),
//! `demo-service` (confidential, client credentials, secret in `DEMO_SERVICE_SECRET`) and the user `demo`. Every endpoint comes from the RFC 8414 metadata.
//!
//! oauth2's own `reqwest` feature is built on reqwest 0.12 and the workspace is on 0.13, so the
//! library runs without it and [`Http`] adapts our reqwest to oauth2's `AsyncHttpClient`.
//!
//! One thing the library refuses against the local stack, by design: RFC 7009 §2, "Clients MUST
//! verify that the URL is an HTTPS URL", and the local issuer is plain `http://127.0.0.1:…`
//! (production issuers are https; RFC 8414 §2 requires it of the issuer). `revoke_token` answers
//! `ConfigurationError::InsecureUrl` for the document's revocation endpoint; the discovery test
//! asserts that, and the revocation test shows the library the same endpoint as `https://` while
//! [`Http`] plays the TLS-terminating proxy in front of the local server.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse, BasicTokenType};
use oauth2::url::{Position, Url, form_urlencoded};
use oauth2::{
    AccessToken, AsyncHttpClient, AuthUrl, AuthorizationCode, ClientId, ClientSecret, ConfigurationError, CsrfToken,
    EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse, IntrospectionUrl, PkceCodeChallenge,
    RedirectUrl, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenIntrospectionResponse,
    TokenResponse, TokenUrl,
};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde::Deserialize;
use wxauth_tests::{form_action, hidden_field};

const DEMO_WEB: &str = "demo-web";
const DEMO_SERVICE: &str = "demo-service";
const USERNAME: &str = "demo";
const PASSWORD: &str = "demo-password";
const CSRF_COOKIE: &str = "wxauth_csrf";

fn base() -> String {
    std::env::var("WXAUTH_LOCAL_URL").expect(
        "WXAUTH_LOCAL_URL is not set: run the interop tests through scripts/test, which starts the local server",
    )
}

fn service_secret() -> ClientSecret {
    ClientSecret::new(std::env::var("DEMO_SERVICE_SECRET").expect(
        "DEMO_SERVICE_SECRET is not set: run the interop tests through scripts/test (create_demo_clients exports it)",
    ))
}

/// The fields of the RFC 8414 document this test uses.
#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    userinfo_endpoint: String,
    #[serde(default)]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl Metadata {
    /// `demo-web`'s registered redirect URI (`create_demo_clients`).
    fn demo_redirect(&self) -> String {
        format!("{}/demo/callback", self.issuer)
    }
}

async fn discover() -> Metadata {
    let url = format!("{}/.well-known/oauth-authorization-server", base());
    let res = reqwest::Client::new().get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(res.status(), 200, "GET {url}");
    let metadata: Metadata = res.json().await.expect("the metadata document is JSON");
    // RFC 8414 §3.3: the issuer must be the one the document was fetched for.
    assert_eq!(metadata.issuer, base(), "issuer");
    metadata
}

/// A client with every endpoint the test uses, exactly as the document names them.
type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

fn client_from(metadata: &Metadata, client_id: &str) -> Client {
    BasicClient::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(AuthUrl::new(metadata.authorization_endpoint.clone()).expect("authorization_endpoint"))
        .set_token_uri(TokenUrl::new(metadata.token_endpoint.clone()).expect("token_endpoint"))
        .set_revocation_url(RevocationUrl::new(metadata.revocation_endpoint.clone()).expect("revocation_endpoint"))
        .set_introspection_url(
            IntrospectionUrl::new(metadata.introspection_endpoint.clone()).expect("introspection_endpoint"),
        )
}

/// `demo-web`: public, so no secret; oauth2 then sends `client_id` in the body.
fn demo_web(metadata: &Metadata) -> Client {
    client_from(metadata, DEMO_WEB).set_redirect_uri(RedirectUrl::new(metadata.demo_redirect()).expect("redirect URI"))
}

/// `demo-service` with its secret (oauth2's default: `client_secret_basic`).
fn demo_service(metadata: &Metadata) -> Client {
    client_from(metadata, DEMO_SERVICE).set_client_secret(service_secret())
}

/// The document's revocation endpoint as `https`, for the library's RFC 7009 §2 check; [`Http`]
/// takes it back to the local server's plain http (see the module documentation).
fn behind_tls(client: Client, metadata: &Metadata) -> Client {
    let mut url = Url::parse(&metadata.revocation_endpoint).expect("revocation_endpoint");
    url.set_scheme("https").expect("http and https are interchangeable schemes");
    client.set_revocation_url(RevocationUrl::from_url(url))
}

/// A request as the library sent it.
#[derive(Clone, Debug)]
struct Sent {
    url: String,
    authorization: Option<String>,
    form: HashMap<String, String>,
}

/// oauth2's HTTP client: the workspace's reqwest 0.13 behind oauth2's `AsyncHttpClient`. It
/// never follows redirects (oauth2's own advice, against SSRF), remembers what the library sent,
/// and sends requests for `https://` + the local server's authority to the local server over
/// plain http, as a TLS-terminating proxy would.
struct Http {
    client: reqwest::Client,
    local: Url,
    sent: Mutex<Vec<Sent>>,
}

impl Http {
    fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("reqwest client"),
            local: Url::parse(&base()).expect("WXAUTH_LOCAL_URL is a URL"),
            sent: Mutex::new(Vec::new()),
        }
    }

    fn last_sent(&self) -> Sent {
        self.sent.lock().expect("request log").last().cloned().expect("the library sent a request")
    }

    fn terminate_tls(&self, url: &mut Url) {
        if url.scheme() == "https"
            && self.local.scheme() == "http"
            && url.host_str() == self.local.host_str()
            && url.port() == self.local.port()
        {
            url.set_scheme("http").expect("https and http are interchangeable schemes");
        }
    }
}

type HttpError = HttpClientError<reqwest::Error>;

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            self.sent.lock().expect("request log").push(Sent {
                url: parts.uri.to_string(),
                authorization: parts
                    .headers
                    .get(oauth2::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                form: form_urlencoded::parse(&body).into_owned().collect(),
            });
            let mut url = Url::parse(&parts.uri.to_string()).map_err(|e| HttpClientError::Other(e.to_string()))?;
            self.terminate_tls(&mut url);
            parts.uri = url
                .as_str()
                .parse()
                .map_err(|e: oauth2::http::uri::InvalidUri| HttpClientError::Other(e.to_string()))?;
            let request =
                reqwest::Request::try_from(oauth2::http::Request::from_parts(parts, body)).map_err(Box::new)?;
            let response = self.client.execute(request).await.map_err(Box::new)?;
            let mut builder = oauth2::http::Response::builder().status(response.status()).version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// Plays the browser on `authorize_url`: opens the sign-in page, signs `demo` in and approves,
/// with the CSRF cookie carried by hand and no redirect followed. Returns the redirect's query.
async fn sign_in(metadata: &Metadata, authorize_url: &Url) -> HashMap<String, String> {
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client");
    let page = browser.get(authorize_url.as_str()).send().await.expect("the sign-in page is reachable");
    let status = page.status();
    let cookie = page
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|pair| pair.trim().to_string());
    let html = page.text().await.expect("the sign-in page's body");
    assert_eq!(status, 200, "GET {authorize_url}:\n{html}");
    let cookie = cookie.expect("the sign-in page sets a cookie");
    assert!(cookie.starts_with(&format!("{CSRF_COOKIE}=")), "the CSRF cookie: {cookie}");
    let action = authorize_url.join(&form_action(&html)).expect("the form's action is a URL reference");
    let form = [
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("username", USERNAME.to_string()),
        ("password", PASSWORD.to_string()),
        ("decision", "approve".to_string()),
    ];
    let res =
        browser.post(action.as_str()).header(COOKIE, cookie).form(&form).send().await.expect("the sign-in form posts");
    let status = res.status();
    let location = res.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, 302, "POST {action}:\n{body}");
    let location = Url::parse(&location.expect("the answer redirects (Location)")).expect("Location is a URL");
    assert_eq!(&location[..Position::AfterPath], metadata.demo_redirect(), "back to the registered redirect URI");
    location.query_pairs().into_owned().collect()
}

/// The whole code flow as `demo-web`: oauth2 builds the authorization URL with PKCE (S256) and a
/// random state, the browser signs in, oauth2 redeems the code with the verifier.
async fn code_flow(metadata: &Metadata, web: &Client, http: &Http) -> BasicTokenResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = web
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".to_string()))
        .set_pkce_challenge(challenge)
        .url();
    let params = sign_in(metadata, &authorize_url).await;
    assert_eq!(params.get("error"), None, "the redirect carries an error: {params:?}");
    assert_eq!(params.get("state").map(String::as_str), Some(state.secret().as_str()), "state comes back unchanged");
    // RFC 9207 §2.4: the client compares iss with the issuer it expects.
    assert_eq!(params.get("iss"), Some(&metadata.issuer), "iss is the issuer");
    let code = params.get("code").expect("the redirect carries a code").clone();
    web.exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("oauth2 could not redeem the code: {e:?}"))
}

/// Client credentials as `service`, asking for `scopes`.
async fn service_token(service: &Client, http: &Http, scopes: &[&str]) -> BasicTokenResponse {
    scopes
        .iter()
        .fold(service.exchange_client_credentials(), |request, s| request.add_scope(Scope::new(s.to_string())))
        .request_async(http)
        .await
        .unwrap_or_else(|e| panic!("client credentials as demo-service: {e:?}"))
}

fn scopes(response: &BasicTokenResponse) -> Vec<String> {
    response.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn discovery_gives_oauth2_every_endpoint() {
    let metadata = discover().await;
    assert!(
        metadata.code_challenge_methods_supported.iter().any(|m| m == "S256"),
        "code_challenge_methods_supported: {:?}",
        metadata.code_challenge_methods_supported
    );
    assert!(metadata.authorization_response_iss_parameter_supported, "authorization_response_iss_parameter_supported");
    let client = client_from(&metadata, DEMO_WEB);
    assert_eq!(client.auth_uri().as_str(), metadata.authorization_endpoint);
    assert_eq!(client.token_uri().as_str(), metadata.token_endpoint);
    assert_eq!(client.revocation_url().as_str(), metadata.revocation_endpoint);
    assert_eq!(client.introspection_url().as_str(), metadata.introspection_endpoint);
    // The library's RFC 7009 §2 check: it will not revoke over plain http, which is all the local
    // stack speaks (the module documentation explains how the revocation test goes on).
    if metadata.revocation_endpoint.starts_with("http://") {
        let refused =
            client.revoke_token(StandardRevocableToken::AccessToken(AccessToken::new("any".to_string()))).err();
        assert!(
            matches!(refused, Some(ConfigurationError::InsecureUrl("revocation"))),
            "oauth2 refuses a plain-http revocation endpoint: {refused:?}"
        );
    }
}

#[tokio::test]
async fn authorization_code_with_pkce_then_a_rotating_refresh() {
    let metadata = discover().await;
    let http = Http::new();
    let web = demo_web(&metadata);
    let tokens = code_flow(&metadata, &web, &http).await;
    let sent = http.last_sent();
    assert_eq!(sent.url, metadata.token_endpoint);
    assert_eq!(sent.form.get("client_id").map(String::as_str), Some(DEMO_WEB), "a public client names itself");
    assert_eq!(sent.authorization, None, "a public client sends no credentials");
    assert_eq!(*tokens.token_type(), BasicTokenType::Bearer);
    assert_eq!(scopes(&tokens), ["openid"]);
    assert!(tokens.expires_in().is_some_and(|d| d.as_secs() > 0), "expires_in");
    let refresh = tokens.refresh_token().expect("the code flow issues a refresh token");

    let refreshed = web
        .exchange_refresh_token(refresh)
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("oauth2 could not refresh: {e:?}"));
    assert_eq!(*refreshed.token_type(), BasicTokenType::Bearer);
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret(), "a new access token");
    let rotated = refreshed.refresh_token().expect("a refresh answers with a new refresh token");
    assert_ne!(rotated.secret(), refresh.secret(), "the refresh token rotates");
    assert_eq!(scopes(&refreshed), ["openid"]);
}

#[tokio::test]
async fn client_credentials_with_client_secret_basic() {
    let metadata = discover().await;
    let http = Http::new();
    let service = demo_service(&metadata);
    let token = service_token(&service, &http, &["reports:read"]).await;
    let sent = http.last_sent();
    assert!(sent.authorization.as_deref().is_some_and(|a| a.starts_with("Basic ")), "client_secret_basic");
    assert!(!sent.form.contains_key("client_secret"), "the secret is not also in the body");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(scopes(&token), ["reports:read"]);
    assert!(token.refresh_token().is_none(), "client credentials issue no refresh token (RFC 6749 §4.4.3)");
}

#[tokio::test]
async fn introspection_as_demo_service() {
    let metadata = discover().await;
    let http = Http::new();
    let service = demo_service(&metadata);
    let token = service_token(&service, &http, &["reports:read", "reports:write"]).await;

    let info = service
        .introspect(token.access_token())
        .request_async(&http)
        .await
        .unwrap_or_else(|e| panic!("introspection: {e:?}"));
    assert_eq!(http.last_sent().url, metadata.introspection_endpoint);
    assert!(info.active(), "the fresh token is active: {info:?}");
    let granted: Vec<String> = info.scopes().expect("scope").iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, ["reports:read", "reports:write"]);
    assert_eq!(info.client_id().map(|c| c.as_str()), Some(DEMO_SERVICE));
    assert_eq!(info.token_type(), Some(&BasicTokenType::Bearer));
    assert_eq!(info.sub(), Some(DEMO_SERVICE), "client credentials: the subject is the client");
    assert_eq!(info.iss(), Some(metadata.issuer.as_str()));
    assert_eq!(
        info.aud(),
        Some(&vec![metadata.issuer.clone()]),
        "aud is the deployment's default audience, the issuer"
    );
    let (exp, iat) = (info.exp().expect("exp"), info.iat().expect("iat"));
    assert!(exp > iat, "exp {exp} after iat {iat}");

    let garbage = AccessToken::new("not-a-token-at-all".to_string());
    let info = service.introspect(&garbage).request_async(&http).await.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!info.active(), "garbage is inactive: {info:?}");
    assert!(
        info.scopes().is_none() && info.client_id().is_none() && info.sub().is_none(),
        "and nothing else: {info:?}"
    );
}

#[tokio::test]
async fn revocation_of_demo_webs_tokens() {
    let metadata = discover().await;
    let http = Http::new();
    let web = behind_tls(demo_web(&metadata), &metadata);
    let tokens = code_flow(&metadata, &web, &http).await;
    let access = tokens.access_token().clone();
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    // Before: userinfo accepts the token, so the 401 at the end is the revocation's doing. (No
    // other client may introspect demo-web's tokens: they carry the deployment's default
    // audience, which no client is the resource server of.)
    assert_eq!(userinfo_status(&metadata, &access).await, 200, "demo-web's access token works before revocation");

    for (token, hint) in [
        (StandardRevocableToken::AccessToken(access.clone()), "access_token"),
        (StandardRevocableToken::RefreshToken(refresh.clone()), "refresh_token"),
    ] {
        web.revoke_token(token)
            .expect("an https revocation endpoint")
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("revoking the {hint}: {e:?}"));
        let sent = http.last_sent();
        assert_eq!(sent.url, web.revocation_url().as_str());
        assert_eq!(sent.authorization, None, "a public client sends no credentials");
        assert_eq!(sent.form.get("client_id").map(String::as_str), Some(DEMO_WEB), "client_id in the body");
        assert_eq!(sent.form.get("token_type_hint").map(String::as_str), Some(hint));
    }

    match web.exchange_refresh_token(&refresh).request_async(&http).await {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidGrant, "{e:?}")
        }
        other => panic!("a revoked refresh token must not refresh: {other:?}"),
    }
    assert_eq!(userinfo_status(&metadata, &access).await, 401, "the revoked access token is refused");
}

/// The status userinfo answers for `access`.
async fn userinfo_status(metadata: &Metadata, access: &AccessToken) -> u16 {
    let res = reqwest::Client::new()
        .get(&metadata.userinfo_endpoint)
        .bearer_auth(access.secret())
        .send()
        .await
        .expect("userinfo is reachable");
    res.status().as_u16()
}
