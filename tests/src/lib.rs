//! The integration-test harness: each test gets its own table and KMS keys on moto, its own
//! mini-program clients (with their own WeChat appids on the mock WeChat), and calls the
//! functions' handlers in-process. `scripts/test` starts moto and the mock WeChat and exports
//! `AWS_ENDPOINT_URL` and `WECHAT_API_BASE`.

pub mod faults;
pub mod lambda;
pub mod runtime_api;
pub mod template;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use lambda_http::{Body, Request};
use serde_json::Value;
use wxauth::App;
use wxauth::config::Config;
use wxauth::keys::algorithm::Algorithm;
use wxauth::keys::data_key::DataKey;
use wxauth::scope::Scope;
use wxauth::secret::random_id;
use wxauth::store::clients::ClientKind;
use wxauth_provision::{self as provision, KeyCustody, NewClient};

pub const WECHAT_GRANT: &str = "urn:wxauth:grant-type:wechat-code";
pub const ISSUER: &str = "https://auth.wxauth.test";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the integration tests through scripts/test"))
}

/// A test's own deployment: table, keys, app.
pub struct TestEnv {
    pub app: Arc<App>,
    pub kms: aws_sdk_kms::Client,
    pub mock_wechat: String,
    http: reqwest::Client,
}

/// An HTTP answer, parsed.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or_default()
    }

    pub fn str(&self, field: &str) -> &str {
        self.json[field].as_str().unwrap_or_else(|| panic!("no string `{field}` in {}", self.json))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A registered mini-program client.
pub struct MiniProgram {
    pub client_id: String,
    pub appid: String,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh deployment, with `adjust` applied to its configuration.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::with_signing(provision::DEFAULT_ALGORITHM, adjust).await
    }

    /// A fresh deployment whose first signing key is for `alg`, in the default custody.
    pub async fn with_signing(alg: Algorithm, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::with_key(alg, provision::DEFAULT_CUSTODY, adjust).await
    }

    /// A fresh deployment whose first signing key is for `alg`, held in `custody`.
    pub async fn with_key(alg: Algorithm, custody: KeyCustody, adjust: impl FnOnce(&mut Config)) -> Self {
        required_env("AWS_ENDPOINT_URL");
        let mock_wechat = required_env("WECHAT_API_BASE");
        // The stack's AWS timeouts (scripts/test lifts them: moto serves one request at a time).
        let aws_timeouts = wxauth::config::AwsTimeouts::from_env().expect("AWS timeouts");
        let sdk = wxauth::aws::sdk_config(aws_timeouts).await;
        let kms = aws_sdk_kms::Client::new(&sdk);
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("test-{}", random_id());
        wxauth::store::table::ensure_table(&ddb, &table).await.expect("table");
        let data_key = kms.create_key().send().await.expect("data key").key_metadata.expect("metadata").key_id;
        let mut config = Config::from_lookup(|name| match name {
            "WXAUTH_TABLE" => Some(table.clone()),
            "ISSUER" => Some(ISSUER.into()),
            "KMS_DATA_KEY_ID" => Some(data_key.clone()),
            "WECHAT_API_BASE" => Some(mock_wechat.clone()),
            _ => None,
        })
        .expect("config");
        config.aws_timeouts = aws_timeouts;
        adjust(&mut config);
        let app = App::new(config, &sdk).expect("app");
        let data_key = app.config.kms_data_key_id.clone();
        provision::ensure_signing_key(&kms, &app.store, &data_key, alg, custody, wxauth::clock::unix_now())
            .await
            .expect("signing key");
        Self { app: Arc::new(app), kms, mock_wechat, http: reqwest::Client::new() }
    }

    /// Registers a mini program with a fresh appid, its app secret known to the mock WeChat.
    pub async fn miniprogram(&self) -> MiniProgram {
        self.miniprogram_with_appid(&format!("wx{}", random_id())).await
    }

    pub async fn miniprogram_with_appid(&self, appid: &str) -> MiniProgram {
        let secret = format!("secret-{appid}");
        self.mock_post("/mock/apps", serde_json::json!({"appid": appid, "secret": secret})).await;
        let client_id = format!("mp-{}", random_id());
        self.create_client(NewClient {
            id: client_id.clone(),
            name: "test mini program".into(),
            kind: ClientKind::MiniProgram,
            grant_types: vec![],
            redirect_uris: vec![],
            scope: Scope::parse("openid profile phone").expect("scope"),
            audience: None,
            wechat: Some((appid.to_string(), secret)),
        })
        .await;
        MiniProgram { client_id, appid: appid.to_string() }
    }

    /// Registers `demo-web` as the samples in events/ name it (scripts/dev's: public, redirect URI
    /// `http://127.0.0.1:3000/demo/callback`).
    pub async fn create_demo_web(&self) {
        self.create_client(NewClient {
            id: "demo-web".into(),
            name: "Demo web app".into(),
            kind: ClientKind::Public,
            grant_types: vec![],
            redirect_uris: vec!["http://127.0.0.1:3000/demo/callback".into()],
            scope: Scope::parse("openid profile").expect("scope"),
            audience: None,
            wechat: None,
        })
        .await;
    }

    /// Registers a client; returns its secret when it has one.
    pub async fn create_client(&self, new: NewClient) -> Option<String> {
        let data_key = DataKey::new(self.kms.clone(), self.app.config.kms_data_key_id.clone());
        provision::create_client(&self.app.store, &data_key, new, wxauth::clock::unix_now()).await.expect("client").1
    }

    /// `POST /oauth/token` with a form body.
    pub async fn token(&self, params: &[(&str, &str)]) -> Reply {
        self.token_request(form_request("/oauth/token", params)).await
    }

    pub async fn token_request(&self, req: Request) -> Reply {
        reply(token::handle(&self.app, req).await)
    }

    /// Logs `code` in through `mp`; panics unless it succeeds.
    pub async fn login(&self, mp: &MiniProgram, code: &str) -> Reply {
        let reply = self.token(&[("grant_type", WECHAT_GRANT), ("client_id", &mp.client_id), ("code", code)]).await;
        assert_eq!(reply.status, 200, "login with {code}: {}", reply.json);
        reply
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Reply {
        self.token(&[("grant_type", "refresh_token"), ("client_id", client_id), ("refresh_token", refresh_token)]).await
    }

    /// A refresh asking for a narrower `scope`.
    pub async fn refresh_scoped(&self, client_id: &str, refresh_token: &str, scope: &str) -> Reply {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ])
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        let req = http::Request::builder().method("GET").uri(path).body(Body::Empty).expect("request");
        self.call(req).await
    }

    /// A call to a protected resource with `Authorization: Bearer <access_token>` and, for POST,
    /// a JSON body.
    pub async fn protected(&self, method: &str, path: &str, access_token: &str, body: Option<Value>) -> Reply {
        self.call(bearer_request(method, path, access_token, body)).await
    }

    /// Registers a client of `kind` with `grants`, redirect URIs and scope; returns its id and,
    /// for confidential clients, its secret.
    pub async fn client(
        &self,
        kind: ClientKind,
        grants: &[&str],
        redirect_uris: &[&str],
        scope: &str,
        audience: Option<&str>,
    ) -> (String, Option<String>) {
        let id = format!("{}-{}", kind.as_str(), random_id());
        let secret = self
            .create_client(NewClient {
                id: id.clone(),
                name: format!("Test {}", kind.as_str()),
                kind,
                grant_types: grants.iter().map(|g| g.to_string()).collect(),
                redirect_uris: redirect_uris.iter().map(|u| u.to_string()).collect(),
                scope: Scope::parse(scope).expect("scope"),
                audience: audience.map(str::to_string),
                wechat: None,
            })
            .await;
        (id, secret)
    }

    /// A user who signs in with a password; returns the user id.
    pub async fn password_user(&self, username: &str, password: &str) -> String {
        let hash = wxauth::password::hash_password(password).expect("hash");
        self.app.store.create_password_user(username, &hash, wxauth::clock::unix_now()).await.expect("user")
    }

    /// Any route, as the local server would dispatch it.
    pub async fn call(&self, req: Request) -> Reply {
        reply(self.dispatch(req).await)
    }

    /// Any route's raw response (for redirects and HTML).
    pub async fn dispatch(&self, req: Request) -> wxauth::http::Response {
        let path = req.uri().path().to_string();
        match path.as_str() {
            "/oauth/token" => token::handle(&self.app, req).await,
            "/oauth/authorize" => authorize::handle(&self.app, req).await,
            "/oauth/revoke" => revoke::handle(&self.app, req).await,
            "/oauth/introspect" => introspect::handle(&self.app, req).await,
            "/userinfo" => userinfo::handle(&self.app, req).await,
            "/wechat/decrypt" => wechat_decrypt::handle(&self.app, req).await,
            "/wechat/phone" => wechat_phone::handle(&self.app, req).await,
            "/wechat/session" => wechat_session::handle(&self.app, req).await,
            "/.well-known/jwks.json" => jwks::handle(&self.app, req).await,
            metadata::OAUTH_PATH | metadata::OPENID_PATH => metadata::handle(&self.app, req).await,
            other => panic!("no route {other}"),
        }
    }

    /// `grant_type=password` for `username`, as the confidential `client` (id, secret).
    pub async fn password_grant(&self, client: &(String, String), username: &str, password: &str) -> Reply {
        self.post_basic(
            "/oauth/token",
            &client.0,
            &client.1,
            &[("grant_type", "password"), ("username", username), ("password", password)],
        )
        .await
    }

    /// A form POST to `path` authenticated with HTTP Basic.
    pub async fn post_basic(&self, path: &str, id: &str, secret: &str, params: &[(&str, &str)]) -> Reply {
        self.call(with_basic(form_request(path, params), id, secret)).await
    }

    /// Calls counted by the mock WeChat for `appid`.
    pub async fn mock_calls(&self, appid: &str) -> Value {
        let url = format!("{}/mock/calls?appid={appid}", self.mock_wechat);
        self.http.get(url).send().await.expect("mock WeChat reachable").json().await.expect("json")
    }

    /// The access token's claims after verifying it against this deployment's JWKS document,
    /// the way a resource server would.
    pub async fn verify_with_jwks(&self, jwt: &str) -> (jsonwebtoken::Header, Value) {
        self.verify_against_jwks(jwt, ISSUER).await
    }

    /// An ID token's header and claims after verifying it against the JWKS, as a relying party
    /// `client_id` would (OpenID Connect Core §3.1.3.7: `aud` is the client).
    pub async fn verify_id_token(&self, jwt: &str, client_id: &str) -> (jsonwebtoken::Header, Value) {
        let (header, claims) = self.verify_against_jwks(jwt, client_id).await;
        assert_eq!(header.typ.as_deref(), Some("JWT"), "an ID token is no access token");
        assert_eq!(claims["azp"], client_id);
        (header, claims)
    }

    async fn verify_against_jwks(&self, jwt: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
        let jwks = self.get("/.well-known/jwks.json").await;
        let header = jsonwebtoken::decode_header(jwt).expect("JWT header");
        let kid = header.kid.clone().expect("kid");
        let jwk = jwks.json["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .expect("kid published");
        // As a resource server would: the algorithm is the JWK's, not the token's.
        let jwk: wxauth::keys::jwks::Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
        let key = jwk.decoding_key().expect("key");
        assert_eq!(header.alg, jwk.alg.jsonwebtoken(), "signed with its key's registered algorithm");
        let mut validation = jsonwebtoken::Validation::new(jwk.alg.jsonwebtoken());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("the JWT verifies against the JWKS");
        (data.header, data.claims)
    }

    /// A control call on the mock WeChat.
    pub async fn mock_post(&self, path: &str, body: Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.mock_wechat))
            .json(&body)
            .send()
            .await
            .expect("mock WeChat reachable");
        assert!(res.status().is_success(), "mock WeChat {path}: {}", res.status());
    }

    /// The raw item, as DynamoDB holds it.
    pub async fn raw_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.app
            .store
            .dynamodb()
            .get_item()
            .table_name(self.app.store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Moves an item's `expires_at` into the past, as if time had passed (the item stays, as it
    /// does in DynamoDB until TTL gets to it).
    pub async fn expire_item(&self, pk: &str, sk: &str) {
        self.app
            .store
            .dynamodb()
            .update_item()
            .table_name(self.app.store.table())
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .update_expression("SET expires_at = :past")
            .expression_attribute_values(
                ":past",
                aws_sdk_dynamodb::types::AttributeValue::N((wxauth::clock::unix_now() - 1).to_string()),
            )
            .send()
            .await
            .expect("UpdateItem");
    }
}

/// A POST with a form-urlencoded body.
/// A request with `Authorization: Bearer <access_token>` and, when given, a JSON body.
pub fn bearer_request(method: &str, path: &str, access_token: &str, body: Option<Value>) -> Request {
    let mut builder =
        http::Request::builder().method(method).uri(path).header("authorization", format!("Bearer {access_token}"));
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::Text(json.to_string())
        }
        None => Body::Empty,
    };
    builder.body(body).expect("request")
}

/// `req` authenticated with HTTP Basic as client `id`.
pub fn with_basic(mut req: Request, id: &str, secret: &str) -> Request {
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{secret}"));
    req.headers_mut().insert("authorization", format!("Basic {basic}").parse().expect("header"));
    req
}

pub fn form_request(path: &str, params: &[(&str, &str)]) -> Request {
    let body = serde_urlencoded::to_string(params).expect("form");
    raw_request("POST", path, Some("application/x-www-form-urlencoded"), Body::Text(body))
}

pub fn raw_request(method: &str, path: &str, content_type: Option<&str>, body: Body) -> Request {
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder.body(body).expect("request")
}

/// A handler's response, parsed.
pub fn reply(res: wxauth::http::Response) -> Reply {
    let json = serde_json::from_slice(res.body().as_ref()).unwrap_or(Value::Null);
    Reply { status: res.status().as_u16(), headers: res.headers().clone(), json }
}

/// Long enough for anything the tests wait on.
pub const PATIENCE: Duration = Duration::from_secs(30);

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
pub async fn open_sign_in(env: &TestEnv, query: &[(&str, &str)]) -> Result<SignInPage, wxauth::http::Response> {
    read_sign_in_page(env.dispatch(sign_in_page_request(query)).await)
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
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in the page")) + marker.len();
        html[start..].split('"').next().expect("value").to_string()
    };
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a CSRF cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_string();
    Ok(SignInPage { status: 200, request_id: field("request_id"), csrf_token: field("csrf_token"), cookie, html })
}

/// Posts the sign-in form of `page` with `fields`, as the browser would (cookie included).
pub async fn submit_sign_in(
    env: &TestEnv,
    page: &SignInPage,
    fields: &[(&str, &str)],
    with_cookie: bool,
) -> wxauth::http::Response {
    env.dispatch(sign_in_form_request(page, fields, with_cookie)).await
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

/// The query (or fragment) parameters of a redirect's `Location`.
pub fn location_params(res: &wxauth::http::Response) -> std::collections::HashMap<String, String> {
    assert_eq!(res.status(), 302, "expected a redirect: {}", String::from_utf8_lossy(res.body().as_ref()));
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).expect("Location");
    let params = location.split_once(['?', '#']).map(|(_, p)| p).unwrap_or_default();
    serde_urlencoded::from_str(params).expect("params")
}

/// RFC 7636 Appendix B's verifier and challenge.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The mock WeChat's documented session key for a code `ok-<name>`.
pub fn mock_session_key(name: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("mock-wechat session key:{name}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..16])
}

/// The IV of [`encrypted_profile`]'s data.
pub const PROFILE_IV: &str = "r7BXXKkLb8qrSNn05n0qiA==";

/// What a mini program would receive from `wx.getUserProfile`, encrypted under `key`, as the
/// JSON body of `POST /wechat/decrypt`.
pub fn encrypted_profile(key: &str, appid: &str, nickname: &str) -> Value {
    let plain = serde_json::json!({"nickName": nickname, "watermark": {"appid": appid, "timestamp": 1_700_000_000}});
    let data = wxauth::wechat::crypto::encrypt(key, plain.to_string().as_bytes(), PROFILE_IV).expect("encrypt");
    serde_json::json!({"encrypted_data": data, "iv": PROFILE_IV})
}
