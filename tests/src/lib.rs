//! The integration-test harness: each test gets its own table and KMS keys on moto, its own
//! mini-program clients (with their own WeChat appids on the mock WeChat), and calls the
//! functions' handlers in-process. `scripts/test` starts moto and the mock WeChat and exports
//! `AWS_ENDPOINT_URL` and `WECHAT_API_BASE`.
//!
//! Here: [`TestEnv`] (a deployment and its clients and users), the requests and replies.
//! Beside it: [`server`] (the routes served in-process, through `wxauth-local`'s route table),
//! [`sign_in`] (the browser's and the web client's side of the code flow), [`device`] (the
//! device flow's two sides), [`template`] (the one
//! reader of template.yaml), [`iam`] (its IAM policies held against recorded AWS requests),
//! [`faults`] (the fault-injecting proxy in front of moto), [`lambda`] and [`runtime_api`] (the
//! release binaries under a Runtime API).

pub mod browser;
pub mod device;
pub mod faults;
pub mod iam;
pub mod lambda;
pub mod relying_party;
pub mod runtime_api;
pub mod scan;
pub mod server;
pub mod sign_in;
pub mod template;
pub mod wechat_web;

use std::ops::Deref;
use std::time::Duration;

use http::HeaderMap;
use lambda_http::{Body, Request};
use serde_json::Value;
use wxauth::App;
use wxauth::config::Config;
use wxauth::domain::client::{BackchannelLogout, ClientKind};
use wxauth::keys::algorithm::Algorithm;
use wxauth::keys::data_key::DataKey;
use wxauth::scope::Scope;
use wxauth::secret::random_id;
use wxauth::store::Key;
use wxauth_provision::{self as provision, KeyCustody, LogoutQueues, NewClient};

pub use server::Server;
pub use sign_in::{
    PKCE_CHALLENGE, PKCE_VERIFIER, REDIRECT_URI, SignInPage, approval, approve, code_for, code_request, exchange,
    form_action, hidden_field, location_params, open_sign_in, read_sign_in_page, session_cookie, sign_in_form_request,
    sign_in_page_request, submit_sign_in,
};

/// Where the tests' web clients send the browser after logout.
pub const POST_LOGOUT_REDIRECT_URI: &str = "https://app.example/signed-out";

pub const WECHAT_GRANT: &str = "urn:wxauth:grant-type:wechat-code";
pub const ISSUER: &str = "https://auth.wxauth.test";

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the integration tests through scripts/test"))
}

/// A test's own deployment: table, keys, app. It is the [`Server`] of that deployment (its
/// requests: `env.token(…)`, `env.app`), with what only tests have beside it.
pub struct TestEnv {
    server: Server,
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

    /// The claims of its `access_token`, unverified (signatures are other tests' business).
    pub fn claims(&self) -> Value {
        jsonwebtoken::dangerous::insecure_decode::<Value>(self.str("access_token")).expect("jwt").claims
    }
}

/// A registered mini-program client.
pub struct MiniProgram {
    pub client_id: String,
    pub appid: String,
}

impl Deref for TestEnv {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh deployment with a back-channel logout queue of its own, whose failed notices come
    /// back at once and move to the dead-letter queue after [`LOGOUT_RECEIVES`] receives.
    pub async fn with_logout_queue() -> (Self, LogoutQueues) {
        let queues = logout_queues().await;
        let url = queues.url.clone();
        let env = Self::with_config(|config| {
            config.backchannel_logout_queue_url = Some(url);
            config.backchannel_retry_delay = Duration::ZERO;
        })
        .await;
        (env, queues)
    }

    /// A fresh deployment, with `adjust` applied to its configuration.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::with_signing(provision::DEFAULT_ALGORITHM, adjust).await
    }

    /// A fresh deployment whose first signing key is for `alg`, in the default custody.
    pub async fn with_signing(alg: Algorithm, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::with_key(alg, provision::DEFAULT_CUSTODY, adjust).await
    }

    /// A fresh deployment whose first signing key, of the default algorithm, is held in `custody`.
    pub async fn with_custody(custody: KeyCustody) -> Self {
        Self::with_key(provision::DEFAULT_ALGORITHM, custody, |_| {}).await
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
            "WECHAT_OPEN_BASE" => Some(mock_wechat.clone()),
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
        Self { server: Server::new(app), kms, mock_wechat, http: reqwest::Client::new() }
    }

    /// Registers a mini program with a fresh appid, its app secret known to the mock WeChat.
    pub async fn miniprogram(&self) -> MiniProgram {
        self.miniprogram_with_appid(&format!("wx{}", random_id())).await
    }

    pub async fn miniprogram_with_appid(&self, appid: &str) -> MiniProgram {
        self.miniprogram_with_ids(&format!("mp-{}", random_id()), appid).await
    }

    /// Registers the mini program `appid` as client `client_id`, its app secret known to the mock
    /// WeChat.
    pub async fn miniprogram_with_ids(&self, client_id: &str, appid: &str) -> MiniProgram {
        let secret = format!("secret-{appid}");
        self.mock_post("/mock/apps", serde_json::json!({"appid": appid, "secret": secret})).await;
        let client_id = client_id.to_string();
        self.create_client(NewClient {
            id: client_id.clone(),
            name: "test mini program".into(),
            kind: ClientKind::MiniProgram,
            grant_types: vec![],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
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
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
            scope: Scope::parse("openid profile").expect("scope"),
            audience: None,
            wechat: None,
        })
        .await;
    }

    /// Registers `demo-device` as the samples in events/ and `create_demo_clients` name it: a
    /// public client of the device grant (RFC 8628) that may refresh, scope `openid profile`.
    pub async fn create_demo_device(&self) {
        self.create_client(NewClient {
            id: "demo-device".into(),
            name: "Demo TV".into(),
            kind: ClientKind::Public,
            grant_types: vec![wxauth::grant_type::DEVICE_CODE.into(), "refresh_token".into()],
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout: None,
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
                post_logout_redirect_uris: vec![],
                backchannel_logout: None,
                scope: Scope::parse(scope).expect("scope"),
                audience: audience.map(str::to_string),
                wechat: None,
            })
            .await;
        (id, secret)
    }

    /// Registers a public web client of the code flow, redirecting to [`REDIRECT_URI`], with
    /// `grants` (beside the kind's) and `scope`; returns its id.
    pub async fn web_client(&self, grants: &[&str], scope: &str) -> String {
        self.client(ClientKind::Public, grants, &[REDIRECT_URI], scope, None).await.0
    }

    /// [`web_client`](Self::web_client) with the authorization code and refresh grants, scope
    /// `openid`, and [`POST_LOGOUT_REDIRECT_URI`] registered for logout.
    pub async fn web_client_with_logout(&self) -> String {
        self.logout_client(None).await
    }

    /// [`web_client_with_logout`](Self::web_client_with_logout) that also registers `uri` for
    /// Back-Channel Logout.
    pub async fn web_client_with_backchannel(&self, uri: &str) -> String {
        self.logout_client(Some(BackchannelLogout { uri: uri.into(), session_required: true })).await
    }

    async fn logout_client(&self, backchannel_logout: Option<BackchannelLogout>) -> String {
        let id = format!("public-{}", random_id());
        self.create_client(NewClient {
            id: id.clone(),
            name: "Test web app".into(),
            kind: ClientKind::Public,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![POST_LOGOUT_REDIRECT_URI.into()],
            backchannel_logout,
            scope: Scope::parse("openid").expect("scope"),
            audience: None,
            wechat: None,
        })
        .await;
        id
    }

    /// A new mini program and a user logged in through it with `code`.
    pub async fn logged_in(&self, code: &str) -> (MiniProgram, Reply) {
        let mp = self.miniprogram().await;
        let login = self.login(&mp, code).await;
        (mp, login)
    }

    /// A user who signs in with a password; returns the user id.
    pub async fn password_user(&self, username: &str, password: &str) -> String {
        let hash = wxauth::password::hash_password(password).expect("hash");
        self.app.store.create_password_user(username, &hash, wxauth::clock::unix_now()).await.expect("user")
    }

    /// Calls counted by the mock WeChat for `appid`.
    pub async fn mock_calls(&self, appid: &str) -> Value {
        let url = format!("{}/mock/calls?appid={appid}", self.mock_wechat);
        self.http.get(url).send().await.expect("mock WeChat reachable").json().await.expect("json")
    }

    /// A control call on the mock WeChat.
    /// The mock WeChat's control route `path` (JSON).
    pub async fn mock_get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.mock_wechat);
        self.http.get(url).send().await.expect("mock WeChat reachable").json().await.expect("json")
    }

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
    /// `key` from the item kind's builder (`wxauth::store::<kind>::key`, …).
    pub async fn raw_item(
        &self,
        key: &Key,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.app
            .store
            .dynamodb()
            .get_item()
            .table_name(self.app.store.table())
            .set_key(Some(key.attributes()))
            .send()
            .await
            .expect("GetItem")
            .item
    }

    /// Moves an item's `expires_at` into the past, as if time had passed (the item stays, as it
    /// does in DynamoDB until TTL gets to it).
    pub async fn expire_item(&self, key: &Key) {
        expire_item_in(self.app.store.dynamodb(), self.app.store.table(), key).await;
    }
}

/// Sets the `expires_at` of the item under `key` in `table` to a second ago (TTL has not run).
pub async fn expire_item_in(ddb: &aws_sdk_dynamodb::Client, table: &str, key: &Key) {
    ddb.update_item()
        .table_name(table)
        .set_key(Some(key.attributes()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N((wxauth::clock::unix_now() - 1).to_string()),
        )
        .send()
        .await
        .expect("UpdateItem");
}

/// A request with `Authorization: Bearer <access_token>` and, when given, a JSON body.
/// How often a test queue delivers a notice before its dead-letter queue takes it.
pub const LOGOUT_RECEIVES: u32 = 3;

/// A new back-channel logout queue and its dead-letter queue on moto.
pub async fn logout_queues() -> LogoutQueues {
    let sdk = wxauth::aws::sdk_config(wxauth::config::AwsTimeouts::from_env().expect("AWS timeouts")).await;
    let name = format!("test-logout-{}", random_id());
    provision::create_logout_queues(&aws_sdk_sqs::Client::new(&sdk), &name, 30, LOGOUT_RECEIVES).await.expect("queues")
}

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

/// A POST with a form-urlencoded body.
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
