//! Interoperability: the `openidconnect` crate (crates.io, 4.x), an OpenID Connect relying party
//! nobody here wrote, against wxauth as an OpenID Provider: discovery from
//! `/.well-known/openid-configuration`, authorization code + PKCE + nonce through the real
//! sign-in page, the ID token verified (signature against the discovered JWKS, `iss`, `aud`,
//! `nonce`, `at_hash`), userinfo, a refresh that brings a new ID token, and a second sign-in with
//! `prompt=none` through the browser session (the same `sub`, `auth_time` and `sid`).
//!
//! Twice: over HTTP against the local server that `scripts/test` starts (`WXAUTH_LOCAL_URL`,
//! RS256, the demo client `demo-web` and user `demo`), and in-process against a deployment of its
//! own whose key is then rotated from RS256 to ES256, where the library rediscovers the keys and
//! verifies ES256 ID tokens. [`Transport`] carries the library's requests (and the browser's)
//! either way; it never follows redirects.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::core::{
    CoreAuthPrompt, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::http::{HeaderValue, Request, Response, header};
use openidconnect::url::Url;
use openidconnect::{
    AccessTokenHash, AsyncHttpClient, AuthenticationFlow, AuthorizationCode, ClientId, CsrfToken,
    EmptyAdditionalClaims, HttpClientError, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, UserInfoClaims,
};
use wxauth::domain::client::ClientKind;
use wxauth::keys::algorithm::Algorithm;
use wxauth_tests::{TestEnv, form_action, hidden_field};

/// How the library's and the browser's requests reach wxauth.
enum Transport<'e> {
    Http(reqwest::Client),
    InProcess(&'e TestEnv),
}

impl Transport<'_> {
    fn http() -> Self {
        Transport::Http(
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("reqwest client"),
        )
    }

    async fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, String> {
        match self {
            Transport::Http(client) => {
                let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
                let response = client.execute(request).await.map_err(|e| e.to_string())?;
                let mut builder = Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
                builder.body(body).map_err(|e| e.to_string())
            }
            Transport::InProcess(env) => {
                let (parts, body) = request.into_parts();
                let response = env.dispatch(lambda_http::Request::from_parts(parts, body.into())).await;
                let (parts, body) = response.into_parts();
                Ok(Response::from_parts(parts, body.as_ref().to_vec()))
            }
        }
    }
}

impl<'c> AsyncHttpClient<'c> for Transport<'_> {
    type Error = HttpClientError<std::io::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move { self.send(request).await.map_err(HttpClientError::Other) })
    }
}

/// The relying party: a public client registered for `redirect_uri`.
struct RelyingParty {
    client_id: String,
    redirect_uri: String,
    username: String,
    password: String,
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

async fn discover(transport: &Transport<'_>, issuer: &str, rp: &RelyingParty) -> Client {
    let issuer = IssuerUrl::new(issuer.to_string()).expect("issuer URL");
    // The library fetches `{issuer}/.well-known/openid-configuration`, checks that its `issuer`
    // is the one asked for, then fetches the JWKS from its `jwks_uri`.
    let provider = CoreProviderMetadata::discover_async(issuer, transport).await.expect("OpenID Connect discovery");
    CoreClient::from_provider_metadata(provider, ClientId::new(rp.client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).expect("redirect URI"))
}

/// Plays the browser on `url`: the sign-in page, then the form posted with its CSRF cookie.
/// Returns the redirect's query and the browser-session cookie it set (`name=value`).
async fn sign_in(transport: &Transport<'_>, url: &Url, rp: &RelyingParty) -> (Vec<(String, String)>, String) {
    let get = Request::get(url.as_str()).body(Vec::new()).expect("request");
    let page = transport.send(get).await.expect("the sign-in page");
    let html = String::from_utf8_lossy(page.body()).to_string();
    assert_eq!(page.status(), 200, "GET {url}:\n{html}");
    let cookie = page
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a CSRF cookie")
        .to_string();
    let form = serde_urlencoded::to_string([
        ("request_id", hidden_field(&html, "request_id")),
        ("csrf_token", hidden_field(&html, "csrf_token")),
        ("username", rp.username.clone()),
        ("password", rp.password.clone()),
        ("decision", "approve".to_string()),
    ])
    .expect("form");
    let action = url.join(&form_action(&html)).expect("the form's action");
    let post = Request::post(action.as_str())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, HeaderValue::from_str(&cookie).expect("cookie"))
        .body(form.into_bytes())
        .expect("request");
    let res = transport.send(post).await.expect("the sign-in form");
    assert_eq!(res.status(), 302, "POST {action}: {}", String::from_utf8_lossy(res.body()));
    let session = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("wxauth_session="))
        .and_then(|v| v.split(';').next())
        .expect("a browser-session cookie")
        .to_string();
    (redirect_query(&res, rp), session)
}

/// The query of a redirect back to the relying party.
fn redirect_query(res: &Response<Vec<u8>>, rp: &RelyingParty) -> Vec<(String, String)> {
    let location = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).expect("Location");
    let location = Url::parse(location).expect("Location is a URL");
    assert!(location.as_str().starts_with(&rp.redirect_uri), "back to the registered redirect URI: {location}");
    location.query_pairs().into_owned().collect()
}

/// Plays the browser that signed in already on `url` (`prompt=none`): no page, a redirect.
async fn sign_in_silently(
    transport: &Transport<'_>,
    url: &Url,
    session: &str,
    rp: &RelyingParty,
) -> Vec<(String, String)> {
    let get = Request::get(url.as_str())
        .header(header::COOKIE, HeaderValue::from_str(session).expect("cookie"))
        .body(Vec::new())
        .expect("request");
    let res = transport.send(get).await.expect("the authorization request");
    assert_eq!(res.status(), 302, "GET {url}: {}", String::from_utf8_lossy(res.body()));
    redirect_query(&res, rp)
}

/// Code + PKCE + nonce with scope `profile`, as the library builds it.
fn authorization_request(client: &Client, prompt: Option<CoreAuthPrompt>) -> (Url, CsrfToken, Nonce, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_string()))
        .set_pkce_challenge(challenge);
    if let Some(prompt) = prompt {
        request = request.add_prompt(prompt);
    }
    let (url, state, nonce) = request.url();
    (url, state, nonce, verifier)
}

/// Code + PKCE + nonce, the ID token verified as the library verifies it, userinfo, and a
/// refresh with a new ID token. Returns the algorithm the ID tokens were signed with.
async fn sign_in_with_openid_connect(transport: &Transport<'_>, issuer: &str, rp: &RelyingParty) -> String {
    let client = discover(transport, issuer, rp).await;
    let (url, state, nonce, verifier) = authorization_request(&client, None);
    let (back, session) = sign_in(transport, &url, rp).await;
    let param = |name: &str| back.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(issuer), "RFC 9207");
    let code = param("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("the discovered token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(transport)
        .await
        .expect("the code redeems");
    let id_token = tokens.id_token().expect("an ID token, since the scope has openid");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("the ID token verifies (signature, iss, aud, nonce)");
    assert_eq!(claims.issuer().as_str(), issuer);
    assert!(claims.auth_time().is_some(), "auth_time");
    let alg = id_token.signing_alg().expect("signed").clone();
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        &alg,
        id_token.signing_key(&id_verifier).expect("its key is in the JWKS"),
    )
    .expect("at_hash");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash), "at_hash covers the access token");

    let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .expect("the discovered userinfo endpoint")
        .request_async(transport)
        .await
        .expect("userinfo answers for the ID token's subject");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some(rp.username.as_str()), "scope profile");

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .expect("the token endpoint")
        .request_async(transport)
        .await
        .expect("the refresh token rotates");
    let new_id = refreshed.id_token().expect("OpenID Connect §12.2: a new ID token on refresh");
    // No nonce on refresh: the library's nonce check is for authentication responses.
    let no_nonce = |nonce: Option<&Nonce>| if nonce.is_none() { Ok(()) } else { Err("a nonce on refresh".to_string()) };
    let new_claims = new_id.claims(&id_verifier, no_nonce).expect("the refreshed ID token verifies");
    assert_eq!(new_claims.subject(), claims.subject());
    assert_eq!(new_claims.auth_time(), claims.auth_time(), "the original sign-in");

    // The same browser again with prompt=none: no page; the library verifies the new ID token
    // (its own nonce too), and it tells the same sign-in: sub, auth_time and the session's sid.
    let (url, state, nonce, verifier) = authorization_request(&client, Some(CoreAuthPrompt::None));
    let back = sign_in_silently(transport, &url, &session, rp).await;
    let param = |name: &str| back.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    let silent = client
        .exchange_code(AuthorizationCode::new(param("code").expect("a code, silently")))
        .expect("the token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(transport)
        .await
        .expect("the code redeems");
    let silent_id = silent.id_token().expect("an ID token");
    let silent_claims = silent_id.claims(&id_verifier, &nonce).expect("the silent sign-in's ID token verifies");
    assert_eq!(silent_claims.subject(), claims.subject());
    assert_eq!(silent_claims.auth_time(), claims.auth_time(), "the session's sign-in, not a new one");
    // `sid` is no claim the library knows: read it from the tokens it verified.
    let sid = |token: serde_json::Value| {
        let jwt = token.as_str().expect("a compact JWT").to_string();
        jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&jwt).expect("jwt").claims["sid"].clone()
    };
    let (first_sid, silent_sid) = (sid(serde_json::json!(id_token)), sid(serde_json::json!(silent_id)));
    assert!(first_sid.is_string(), "the ID token names its session");
    assert_eq!(silent_sid, first_sid, "one session, one sid");
    serde_json::to_value(&alg).expect("alg").as_str().expect("alg").to_string()
}

#[tokio::test]
async fn an_openid_connect_library_signs_in_through_the_local_server() {
    let issuer = std::env::var("WXAUTH_LOCAL_URL").expect("WXAUTH_LOCAL_URL is not set: run through scripts/test");
    let rp = RelyingParty {
        client_id: "demo-web".into(),
        redirect_uri: format!("{issuer}/demo/callback"),
        username: "demo".into(),
        password: "demo-password".into(),
    };
    let alg = sign_in_with_openid_connect(&Transport::http(), &issuer, &rp).await;
    assert_eq!(alg, "RS256", "the local stack's key is the default algorithm's");
}

#[tokio::test]
async fn an_openid_connect_library_follows_a_rotation_from_rs256_to_es256() {
    let env = TestEnv::with_signing(Algorithm::RS256, |c| c.key_cache_ttl = Duration::ZERO).await;
    let redirect_uri = "https://rp.example/callback";
    let (client_id, _) = env.client(ClientKind::Public, &[], &[redirect_uri], "openid profile", None).await;
    env.password_user("rita", "rita's long password").await;
    let rp = RelyingParty {
        client_id,
        redirect_uri: redirect_uri.into(),
        username: "rita".into(),
        password: "rita's long password".into(),
    };
    let transport = Transport::InProcess(&env);
    assert_eq!(sign_in_with_openid_connect(&transport, wxauth_tests::ISSUER, &rp).await, "RS256");

    // The rotation publishes the ES256 key ahead; once its time has come it signs.
    let now = wxauth::clock::unix_now();
    let es256 = wxauth_provision::rotate_signing_key(
        &env.kms,
        &env.app.store,
        &env.app.config.kms_data_key_id,
        wxauth_provision::Rotation { alg: Some(Algorithm::ES256), ..wxauth_provision::Rotation::default() },
        now,
        1,
        900,
    )
    .await
    .expect("rotate");
    while wxauth::clock::unix_now() < es256.active_from {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sign_in_with_openid_connect(&transport, wxauth_tests::ISSUER, &rp).await, "ES256");
    let discovered = CoreProviderMetadata::discover_async(
        IssuerUrl::new(wxauth_tests::ISSUER.to_string()).expect("issuer"),
        &transport,
    )
    .await
    .expect("discovery");
    let algs = discovered.id_token_signing_alg_values_supported();
    assert!(algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256), "RS256 is always offered");
    assert!(algs.contains(&CoreJwsSigningAlgorithm::EcdsaP256Sha256));
}
