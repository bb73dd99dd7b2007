//! `wxauth-admin`, the real binary (`$WXAUTH_BIN_DIR/wxauth-admin`, built by `scripts/test`),
//! run against each test's own table and data key; its effects checked through the store and
//! the token endpoint.

use std::process::{Command, Output, Stdio};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use wxauth::secret::random_id;
use wxauth_tests::relying_party::RelyingParty;
use wxauth_tests::{
    MiniProgram, PATIENCE, PKCE_VERIFIER, REDIRECT_URI, Reply, TestEnv, approve, code_for, code_request, exchange,
    location_params, open_sign_in, session_cookie, sign_in_page_request,
};

/// What one run of the tool did.
struct Run {
    args: String,
    output: Output,
}

impl Run {
    fn succeeded(&self) -> bool {
        self.output.status.success()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Both streams, for "never printed" checks.
    fn printed(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Panics unless the run succeeded; returns it.
    fn ok(self) -> Self {
        assert!(
            self.succeeded(),
            "wxauth-admin {} failed:\nstdout: {}\nstderr: {}",
            self.args,
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Panics unless the run failed; returns its standard error.
    fn failed(self) -> String {
        assert!(!self.succeeded(), "wxauth-admin {} should have failed; stdout: {}", self.args, self.stdout());
        self.stderr()
    }

    /// Standard output as JSON (the run must have succeeded).
    fn json(self) -> Value {
        let run = self.ok();
        serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("wxauth-admin {}: not JSON ({e}): {}", run.args, run.stdout()))
    }
}

/// `$WXAUTH_BIN_DIR/wxauth-admin`, else the one beside this test binary (target/<profile>).
fn admin_binary() -> std::path::PathBuf {
    let dir = match std::env::var_os("WXAUTH_BIN_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            let exe = std::env::current_exe().expect("test binary path");
            exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").to_path_buf()
        }
    };
    let binary = dir.join("wxauth-admin");
    assert!(binary.is_file(), "{} is missing: run the tests through scripts/test (it builds it)", binary.display());
    binary
}

/// A `wxauth-admin` command line after `--table` and `--data-key`: a subcommand built by one
/// of the constructors, then its options (`.opt`, `.arg`) and, with `.json()`, `--json` first.
#[derive(Debug, Clone)]
struct Cli {
    json: bool,
    words: Vec<String>,
}

impl Cli {
    fn new(words: &[&str]) -> Self {
        Cli { json: false, words: words.iter().map(|w| w.to_string()).collect() }
    }

    /// `client create --id <id> --kind <kind>`.
    fn client_create(id: &str, kind: &str) -> Self {
        Self::new(&["client", "create", "--id", id, "--kind", kind])
    }

    /// `client update <id>`, its changes to follow.
    fn client_update(id: &str) -> Self {
        Self::new(&["client", "update", id])
    }

    /// `client <action> <id>`: `show` or `delete`.
    fn client(action: &str, id: &str) -> Self {
        Self::new(&["client", action, id])
    }

    fn client_list() -> Self {
        Self::new(&["client", "list"])
    }

    /// `user <action> --username <username>`: `create`, `set-password` or `delete`.
    fn user(action: &str, username: &str) -> Self {
        Self::new(&["user", action, "--username", username])
    }

    /// `user revoke-all --user-id <user_id>`.
    fn revoke_all(user_id: &str) -> Self {
        Self::new(&["user", "revoke-all", "--user-id", user_id])
    }

    /// `key <action>`: `list` or `rotate`.
    fn key(action: &str) -> Self {
        Self::new(&["key", action])
    }

    /// `init`, on a table of its own.
    fn init() -> Self {
        Self::new(&["init"])
    }

    /// `--json` output.
    fn json(mut self) -> Self {
        self.json = true;
        self
    }

    /// `<flag> <value>`.
    fn opt(mut self, flag: &str, value: &str) -> Self {
        self.words.extend([flag.to_string(), value.to_string()]);
        self
    }

    /// One more word: a flag without a value, or `--flag=value`.
    fn arg(mut self, word: &str) -> Self {
        self.words.push(word.to_string());
        self
    }

    /// The arguments, `--json` first.
    fn args(&self) -> Vec<&str> {
        self.json.then_some("--json").into_iter().chain(self.words.iter().map(String::as_str)).collect()
    }
}

/// Runs `wxauth-admin --table <env's table> --data-key <env's data key> <cli>`, with this
/// process's environment (AWS endpoint, region, credentials) less the tool's secret-bearing
/// variables, plus `vars`; standard input empty.
fn admin(env: &TestEnv, cli: &Cli, vars: &[(&str, &str)]) -> Run {
    admin_with_stdin(env, cli, vars, None)
}

fn admin_with_stdin(env: &TestEnv, cli: &Cli, vars: &[(&str, &str)], stdin: Option<&str>) -> Run {
    admin_on_table(env, &env.app.config.table, cli, vars, stdin)
}

/// [`admin_with_stdin`] on `table` rather than the deployment's.
fn admin_on_table(env: &TestEnv, table: &str, cli: &Cli, vars: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let args = cli.args();
    let mut command = Command::new(admin_binary());
    command
        .args(["--table", table, "--data-key", &env.app.config.kms_data_key_id])
        .args(&args)
        .env_remove("WXAUTH_USER_PASSWORD")
        .env_remove("BACKCHANNEL_LOGOUT_QUEUE_URL")
        .env_remove("WECHAT_APP_SECRET")
        .env_remove("ACCESS_TOKEN_TTL")
        .env_remove("ISSUER")
        .env_remove("AUDIENCE")
        .envs(vars.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("wxauth-admin starts");
    if let Some(text) = stdin {
        use std::io::Write as _;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("wxauth-admin runs");
    Run { args: args.join(" "), output }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", random_id())
}

/// A confidential client made by the tool, with `options` (flag, value); returns id and secret.
fn confidential_client(env: &TestEnv, options: &[(&str, &str)]) -> (String, String) {
    let id = unique("svc");
    let cli = options.iter().fold(Cli::client_create(&id, "confidential").json(), |cli, (f, v)| cli.opt(f, v));
    let out = admin(env, &cli, &[]).json();
    let secret = out["client_secret"].as_str().unwrap_or_else(|| panic!("no client_secret in {out}")).to_string();
    (id, secret)
}

/// A deployment whose containers keep no copy of a client, so an update shows at once.
async fn uncached_env() -> TestEnv {
    TestEnv::with_config(|c| c.client_cache_ttl = std::time::Duration::ZERO).await
}

/// The one line a refusal prints on standard error (asserting that it is one line, after
/// `error: `, with exit status 1), without its line ending.
fn one_line(run: Run) -> String {
    assert_eq!(run.output.status.code(), Some(1), "a refusal exits with 1: {}", run.stderr());
    let stderr = run.failed();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr.trim_end().to_string()
}

/// Epoch seconds as RFC 3339 in UTC, as people read dates.
fn rfc3339(epoch_seconds: i64) -> String {
    use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
    DateTime::from_secs(epoch_seconds).fmt(DateTimeFormat::DateTime).expect("a date")
}

/// A confidential client allowed the password and refresh-token grants, made by the tool.
fn password_client(env: &TestEnv) -> (String, String) {
    confidential_client(env, &[("--grant", "password"), ("--grant", "refresh_token"), ("--scope", "openid")])
}

/// A confidential client's refresh (it authenticates, so `env.refresh` would be refused as
/// `invalid_client` before the token is looked at).
async fn confidential_refresh(env: &TestEnv, client: &(String, String), refresh_token: &str) -> Reply {
    env.post_basic(
        "/oauth/token",
        &client.0,
        &client.1,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
    )
    .await
}

fn kid(reply: &Reply) -> String {
    jsonwebtoken::decode_header(reply.str("access_token")).expect("JWT header").kid.expect("kid")
}

/// Every string and byte value of a raw item, nested ones included.
fn raw_values(value: &AttributeValue, out: &mut Vec<Vec<u8>>) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.as_bytes().to_vec()),
        AttributeValue::B(b) => out.push(b.as_ref().to_vec()),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => out.extend(list.iter().map(|s| s.as_bytes().to_vec())),
        AttributeValue::Bs(list) => out.extend(list.iter().map(|b| b.as_ref().to_vec())),
        AttributeValue::L(list) => list.iter().for_each(|v| raw_values(v, out)),
        AttributeValue::M(map) => map.values().for_each(|v| raw_values(v, out)),
        _ => {}
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every key of a JSON value, nested ones included, lowercased.
fn json_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.to_lowercase());
                json_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_keys(v, out)),
        _ => {}
    }
}

// ---- clients -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_confidential_clients_secret_is_printed_once_at_creation_and_works_for_client_credentials() {
    let env = TestEnv::new().await;
    let id = unique("reports");
    let created = admin(
        &env,
        &Cli::client_create(&id, "confidential")
            .opt("--name", "Reports")
            .opt("--scope", "reports:read reports:write")
            .json(),
        &[],
    )
    .json();
    let secret = created["client_secret"].as_str().expect("client_secret").to_string();
    assert!(secret.len() >= 32, "a long random secret: {secret}");
    assert_eq!(created["client_id"], id.as_str());
    assert_eq!(created["kind"], "confidential");
    assert_eq!(created["grant_types"], serde_json::json!(["client_credentials"]), "the kind's default grants");
    assert_eq!(created["scope"], "reports:read reports:write");

    let stored = env.app.store.client(&id).await.expect("store").expect("the client is stored");
    let hash = stored.secret_hash.clone().expect("a stored hash");
    assert_ne!(hash, secret, "only the hash is stored");

    // `show` and `list`, JSON or text, never show the secret or its hash.
    let shown = admin(&env, &Cli::client("show", &id).json(), &[]).ok();
    let shown_json: Value = serde_json::from_str(&shown.stdout()).expect("json");
    assert_eq!(shown_json["client_id"], id.as_str());
    assert_eq!(shown_json["scope"], "reports:read reports:write");
    let mut keys = Vec::new();
    json_keys(&shown_json, &mut keys);
    assert!(!keys.iter().any(|k| k.contains("secret") || k.contains("hash")), "no secret or hash field: {keys:?}");
    let shown_text = admin(&env, &Cli::client("show", &id), &[]).ok();
    assert!(shown_text.stdout().contains(&id), "{}", shown_text.stdout());
    let listed = admin(&env, &Cli::client_list().json(), &[]).ok();
    let listed_json: Value = serde_json::from_str(&listed.stdout()).expect("json");
    let entry = listed_json.as_array().expect("a list").iter().find(|c| c["client_id"] == id.as_str());
    assert_eq!(entry.expect("the client is listed")["kind"], "confidential");
    let mut keys = Vec::new();
    json_keys(&listed_json, &mut keys);
    assert!(!keys.iter().any(|k| k.contains("secret") || k.contains("hash")), "no secret or hash field: {keys:?}");
    let listed_text = admin(&env, &Cli::client_list(), &[]).ok();
    for run in [&shown, &shown_text, &listed, &listed_text] {
        assert!(!run.printed().contains(&secret), "the secret is shown only once: {}", run.printed());
        assert!(!run.printed().contains(&hash), "the hash is never shown: {}", run.printed());
    }

    let token = env
        .post_basic("/oauth/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "reports:read")])
        .await;
    assert_eq!(token.status, 200, "{}", token.json);
    assert_eq!(token.str("scope"), "reports:read");
    assert_eq!(token.claims()["sub"], id.as_str());
    let wrong = env.client_credentials(&id, "not-the-secret").await;
    assert_eq!((wrong.status, wrong.error()), (401, "invalid_client"));
}

#[tokio::test]
async fn the_text_output_of_client_create_shows_the_secret_once_with_a_warning() {
    let env = TestEnv::new().await;
    let id = unique("svc");
    let run = admin(&env, &Cli::client_create(&id, "confidential"), &[]).ok();
    let out = run.stdout();
    let line = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).expect("a client_secret line");
    assert_eq!(out.matches(line).count(), 1, "printed once: {out}");
    assert!(out.contains("shown once"), "{out}");
    let token = env.client_credentials(&id, line).await;
    assert_eq!(token.status, 200, "the printed secret is the client's: {}", token.json);
}

#[tokio::test]
async fn creating_a_client_id_twice_fails_and_keeps_the_first_client() {
    let env = TestEnv::new().await;
    let (id, secret) = confidential_client(&env, &[]);
    let again = admin(&env, &Cli::client_create(&id, "confidential").json(), &[]);
    assert!(!again.stdout().contains("client_secret"), "no secret for a client that was not made: {}", again.stdout());
    let stderr = again.failed();
    assert!(stderr.contains("exists"), "{stderr}");
    assert!(stderr.contains(&id), "names the id: {stderr}");
    let token = env.client_credentials(&id, &secret).await;
    assert_eq!(token.status, 200, "the first client's secret still works: {}", token.json);
}

#[tokio::test]
async fn a_deleted_client_is_gone_from_show_list_and_the_token_endpoint() {
    let env = TestEnv::new().await;
    let (id, secret) = confidential_client(&env, &[]);
    let deleted = admin(&env, &Cli::client("delete", &id), &[]).ok();
    assert!(deleted.stdout().contains(&format!("deleted {id}")), "{}", deleted.stdout());

    let stderr = admin(&env, &Cli::client("show", &id), &[]).failed();
    assert!(stderr.contains(&format!("no client {id:?}")), "a clear message: {stderr}");
    let listed = admin(&env, &Cli::client_list().json(), &[]).json();
    assert!(!listed.as_array().expect("a list").iter().any(|c| c["client_id"] == id.as_str()), "{listed}");
    assert!(env.app.store.client(&id).await.expect("store").is_none());
    let token = env.client_credentials(&id, &secret).await;
    assert_eq!((token.status, token.error()), (401, "invalid_client"));

    let stderr = admin(&env, &Cli::client("delete", &id), &[]).failed();
    assert!(stderr.contains(&format!("no client {id:?}")), "deleting twice fails: {stderr}");
}

#[tokio::test]
async fn a_mini_program_clients_app_secret_comes_from_the_environment_and_is_stored_encrypted() {
    let env = TestEnv::new().await;
    let appid = format!("wx{}", random_id());
    let app_secret = format!("app-secret-{}", random_id());
    env.mock_post("/mock/apps", serde_json::json!({"appid": appid, "secret": app_secret})).await;
    let id = unique("mp");
    let run = admin(
        &env,
        &Cli::client_create(&id, "miniprogram")
            .opt("--wechat-appid", &appid)
            .arg("--wechat-secret-from-env")
            .opt("--scope", "openid profile")
            .json(),
        &[("WECHAT_APP_SECRET", &app_secret)],
    )
    .ok();
    assert!(!run.printed().contains(&app_secret), "the app secret is never printed: {}", run.printed());
    let created: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(created["wechat_appid"], appid.as_str());
    assert!(created.get("client_secret").is_none(), "a mini program has no client secret: {created}");
    assert_eq!(created["grant_types"], serde_json::json!([wxauth_tests::WECHAT_GRANT, "refresh_token"]));

    let item = env.raw_item(&wxauth::store::clients::key(&id)).await.expect("the client's item");
    assert!(matches!(item.get("wechat_secret"), Some(AttributeValue::B(_))), "an encrypted blob: {item:?}");
    let mut values = Vec::new();
    item.values().for_each(|v| raw_values(v, &mut values));
    for value in &values {
        assert!(!contains(value, app_secret.as_bytes()), "the app secret is stored in plain: {item:?}");
    }
    let shown = admin(&env, &Cli::client("show", &id).json(), &[]).ok();
    assert!(!shown.printed().contains(&app_secret));

    // It decrypts with the deployment's data key: a login through the client reaches WeChat
    // with the right secret (the mock refuses a wrong one).
    let mp = MiniProgram { client_id: id, appid };
    let login = env.login(&mp, "ok-amy").await;
    assert!(login.json["refresh_token"].is_string());
}

#[tokio::test]
async fn a_mini_program_client_needs_its_appid_and_its_secret_from_the_environment() {
    let env = TestEnv::new().await;
    let appid = format!("wx{}", random_id());
    let id = unique("mp");
    let create = Cli::client_create(&id, "miniprogram");
    let with_appid = create.clone().opt("--wechat-appid", &appid);
    let stderr = admin(&env, &with_appid, &[("WECHAT_APP_SECRET", "ignored-without-the-flag")]).failed();
    assert!(stderr.contains("--wechat-secret-from-env"), "{stderr}");
    let stderr = admin(&env, &with_appid.arg("--wechat-secret-from-env"), &[]).failed();
    assert!(stderr.contains("WECHAT_APP_SECRET"), "names the missing variable: {stderr}");
    let stderr = admin(&env, &create, &[]).failed();
    assert!(stderr.to_lowercase().contains("appid"), "{stderr}");
    assert!(env.app.store.client(&id).await.expect("store").is_none(), "nothing was stored");

    let id = unique("svc");
    let stderr = admin(
        &env,
        &Cli::client_create(&id, "confidential").opt("--wechat-appid", &appid).arg("--wechat-secret-from-env"),
        &[("WECHAT_APP_SECRET", "s3cret-value")],
    )
    .failed();
    assert!(stderr.contains("mini-program"), "only mini programs hold WeChat credentials: {stderr}");
    assert!(!stderr.contains("s3cret-value"));
    assert!(env.app.store.client(&id).await.expect("store").is_none());
}

#[tokio::test]
async fn a_redirect_uri_over_plain_http_off_loopback_is_refused() {
    let env = TestEnv::new().await;
    let id = unique("web");
    let stderr =
        admin(&env, &Cli::client_create(&id, "public").opt("--redirect-uri", "http://evil.example/cb"), &[]).failed();
    assert!(stderr.contains("http://evil.example/cb"), "names the URI: {stderr}");
    assert!(stderr.contains("https"), "says what is acceptable: {stderr}");
    assert!(env.app.store.client(&id).await.expect("store").is_none(), "nothing was stored");

    let created = admin(
        &env,
        &Cli::client_create(&id, "public")
            .opt("--redirect-uri", "https://app.example/cb")
            .opt("--redirect-uri", "http://127.0.0.1:8080/cb")
            .json(),
        &[],
    )
    .json();
    assert_eq!(created["redirect_uris"], serde_json::json!(["https://app.example/cb", "http://127.0.0.1:8080/cb"]));
    let stored = env.app.store.client(&id).await.expect("store").expect("stored");
    assert_eq!(stored.redirect_uris, ["https://app.example/cb", "http://127.0.0.1:8080/cb"]);
}

#[tokio::test]
async fn an_unknown_grant_type_is_refused() {
    let env = TestEnv::new().await;
    let id = unique("svc");
    let stderr = admin(&env, &Cli::client_create(&id, "confidential").opt("--grant", "magic_beans"), &[]).failed();
    assert!(stderr.contains("unknown grant type") && stderr.contains("magic_beans"), "{stderr}");
    let stderr =
        admin(&env, &Cli::client_create(&id, "confidential").opt("--grant", wxauth_tests::WECHAT_GRANT), &[]).failed();
    assert!(stderr.contains("WeChat grant"), "the WeChat grant is for mini programs: {stderr}");
    assert!(env.app.store.client(&id).await.expect("store").is_none(), "nothing was stored");

    let created = admin(&env, &Cli::client_create(&id, "confidential").opt("--grant", "password").json(), &[]).json();
    assert_eq!(created["grant_types"], serde_json::json!(["password"]), "exactly the grants asked for");
}

#[tokio::test]
async fn the_device_grant_is_given_at_creation_and_by_update_under_its_urn() {
    let env = TestEnv::new().await;
    let id = unique("tv");
    let create = Cli::client_create(&id, "public")
        .opt("--grant", wxauth::grant_type::DEVICE_CODE)
        .opt("--grant", "refresh_token")
        .opt("--scope", "openid profile")
        .json();
    let created = admin(&env, &create, &[]).json();
    assert_eq!(created["grant_types"], serde_json::json!([wxauth::grant_type::DEVICE_CODE, "refresh_token"]));
    let (service, _) = confidential_client(&env, &[("--scope", "openid")]);
    let update = Cli::client_update(&service).opt("--grant", wxauth::grant_type::DEVICE_CODE).json();
    let updated = admin(&env, &update, &[]).json();
    assert_eq!(updated["grant_types"], serde_json::json!([wxauth::grant_type::DEVICE_CODE]));
}

// ---- client update -----------------------------------------------------------------------------

#[tokio::test]
async fn client_update_keeps_the_secret_and_changes_only_what_was_named() {
    let env = uncached_env().await;
    let (id, secret) = confidential_client(
        &env,
        &[
            ("--name", "Reports"),
            ("--scope", "reports:read"),
            ("--grant", "client_credentials"),
            ("--grant", "authorization_code"),
            ("--redirect-uri", "https://reports.example/cb"),
            ("--post-logout-redirect-uri", "https://reports.example/bye"),
        ],
    );
    let before = env.app.store.client(&id).await.expect("store").expect("stored");

    let updated = admin(&env, &Cli::client_update(&id).opt("--scope", "reports:read reports:write").json(), &[]).json();
    assert!(updated.get("client_secret").is_none(), "no new secret without --rotate-secret: {updated}");
    assert_eq!(updated["scope"], "reports:read reports:write");
    assert_eq!(updated["redirect_uris"], serde_json::json!(["https://reports.example/cb"]), "unchanged");
    assert_eq!(updated["grant_types"], serde_json::json!(["client_credentials", "authorization_code"]));
    assert_eq!(updated["name"], "Reports");
    let after = env.app.store.client(&id).await.expect("store").expect("stored");
    let scope = wxauth::scope::Scope::parse("reports:read reports:write").expect("scope");
    assert_eq!(after, wxauth::domain::client::Client { scope, ..before.clone() }, "only the scope changed");

    let token = env
        .post_basic("/oauth/token", &id, &secret, &[("grant_type", "client_credentials"), ("scope", "reports:write")])
        .await;
    assert_eq!(token.status, 200, "the old secret works, for the new scope: {}", token.json);

    let run = admin(&env, &Cli::client_update(&id).opt("--name", "Reports v2"), &[]).ok();
    assert!(run.stdout().starts_with(&format!("updated {id} ")), "{}", run.stdout());
    assert!(!run.stdout().contains("client_secret"), "{}", run.stdout());
    let renamed = env.app.store.client(&id).await.expect("store").expect("stored");
    assert_eq!((renamed.name.as_str(), &renamed.secret_hash), ("Reports v2", &before.secret_hash));
    assert_eq!(renamed.redirect_uris, before.redirect_uris);
    assert_eq!(renamed.post_logout_redirect_uris, before.post_logout_redirect_uris);
}

#[tokio::test]
async fn client_update_sets_and_removes_the_audience_and_the_logout_registrations() {
    let env = TestEnv::new().await;
    let id = unique("web");
    let create = Cli::client_create(&id, "public")
        .opt("--redirect-uri", "https://app.example/cb")
        .opt("--post-logout-redirect-uri", "https://app.example/bye");
    admin(&env, &create, &[]).ok();
    let issuer = [("ISSUER", "https://auth.example")];
    let update = || Cli::client_update(&id).json();

    let out = admin(&env, &update().opt("--audience", "https://api.example/web"), &issuer).json();
    assert_eq!(out["audience"], "https://api.example/web");
    let out = admin(&env, &update().arg("--no-audience"), &[]).json();
    assert!(out["audience"].is_null(), "the deployment's audience again: {out}");
    admin(&env, &update().opt("--audience", "https://a.example").arg("--no-audience"), &issuer).failed();

    let out = admin(
        &env,
        &update()
            .opt("--backchannel-logout-uri", "https://app.example/bcl")
            .arg("--backchannel-logout-session-required"),
        &[],
    )
    .json();
    assert_eq!(
        (&out["backchannel_logout_uri"], &out["backchannel_logout_session_required"]),
        (&serde_json::json!("https://app.example/bcl"), &serde_json::json!(true))
    );
    let out = admin(&env, &update().opt("--backchannel-logout-uri", "https://app.example/bcl2"), &[]).json();
    assert_eq!(out["backchannel_logout_session_required"], true, "kept when only the URI changes: {out}");
    let out = admin(&env, &update().arg("--backchannel-logout-session-required=false"), &[]).json();
    assert_eq!(out["backchannel_logout_session_required"], false, "{out}");
    let out = admin(&env, &update().arg("--no-backchannel-logout"), &[]).json();
    assert!(out["backchannel_logout_uri"].is_null(), "{out}");

    let out = admin(&env, &update().opt("--post-logout-redirect-uri", ""), &[]).json();
    assert_eq!(out["post_logout_redirect_uris"], serde_json::json!([]), "'' alone removes them: {out}");
    assert_eq!(out["redirect_uris"], serde_json::json!(["https://app.example/cb"]), "{out}");
    let stored = env.app.store.client(&id).await.expect("store").expect("stored");
    assert!(
        stored.post_logout_redirect_uris.is_empty() && stored.backchannel_logout.is_none() && stored.audience.is_none()
    );
}

#[tokio::test]
async fn a_code_flow_client_signs_in_with_a_redirect_uri_added_by_client_update() {
    let env = uncached_env().await;
    env.password_user("uma", "uma's password").await;
    let id = unique("web");
    let create =
        Cli::client_create(&id, "public").opt("--redirect-uri", "https://old.example/cb").opt("--scope", "openid");
    admin(&env, &create, &[]).ok();
    let query = code_request(&id, "openid", "s1");
    let refused = open_sign_in(&env, &query).await.expect_err("not registered yet: an error page, no sign-in");
    assert!(refused.status().is_client_error(), "{}", refused.status());

    let update =
        Cli::client_update(&id).opt("--redirect-uri", "https://old.example/cb").opt("--redirect-uri", REDIRECT_URI);
    let out = admin(&env, &update.json(), &[]).json();
    assert_eq!(out["redirect_uris"], serde_json::json!(["https://old.example/cb", REDIRECT_URI]));
    let code = code_for(&env, &query, "uma", "uma's password").await;
    let tokens = exchange(&env, &id, &code, PKCE_VERIFIER).await;
    assert_eq!(tokens.status, 200, "{}", tokens.json);
}

#[tokio::test]
async fn client_update_rotate_secret_prints_a_new_secret_once_and_only_the_new_one_works() {
    let env = uncached_env().await;
    let (id, old) = confidential_client(&env, &[("--scope", "reports:read")]);
    assert_eq!(env.client_credentials(&id, &old).await.status, 200);

    let run = admin(&env, &Cli::client_update(&id).arg("--rotate-secret"), &[]).ok();
    let out = run.stdout();
    let new = out.lines().find_map(|l| l.strip_prefix("client_secret: ")).expect("a client_secret line").to_string();
    assert_eq!(out.matches(&new).count(), 1, "printed once: {out}");
    assert!(out.contains("shown once") && new.len() >= 32 && new != old, "{out}");
    let stored = env.app.store.client(&id).await.expect("store").expect("stored");
    assert_eq!(stored.secret_hash.as_deref(), Some(wxauth::secret::hash(&new).as_str()), "only its hash is stored");
    assert_eq!(stored.scope.to_string(), "reports:read", "the rest is kept");

    let refused = env.client_credentials(&id, &old).await;
    assert_eq!((refused.status, refused.error()), (401, "invalid_client"), "the old secret stops working");
    assert_eq!(env.client_credentials(&id, &new).await.status, 200, "the new one works");
    let shown = admin(&env, &Cli::client("show", &id).json(), &[]).ok();
    assert!(!shown.printed().contains(&new), "never shown again");

    let again = admin(&env, &Cli::client_update(&id).arg("--rotate-secret").json(), &[]).json();
    let newest = again["client_secret"].as_str().expect("client_secret in the JSON");
    assert_eq!(env.client_credentials(&id, newest).await.status, 200);
    assert_eq!(env.client_credentials(&id, &new).await.status, 401);

    let public = unique("web");
    admin(&env, &Cli::client_create(&public, "public").opt("--redirect-uri", "https://app.example/cb"), &[]).ok();
    let refused = one_line(admin(&env, &Cli::client_update(&public).arg("--rotate-secret"), &[]));
    assert!(refused.contains("only confidential clients have a secret"), "{refused}");
}

#[tokio::test]
async fn updating_a_missing_client_fails_with_one_line_and_creates_nothing() {
    let env = TestEnv::new().await;
    let id = unique("ghost");
    let refused = one_line(admin(&env, &Cli::client_update(&id).opt("--scope", "openid"), &[]));
    assert_eq!(refused, format!("error: no client {id:?}"));
    assert!(env.app.store.client(&id).await.expect("store").is_none());

    // A client deleted between the tool's read and its write is not recreated.
    let (gone, _) = confidential_client(&env, &[]);
    let read = env.app.store.client(&gone).await.expect("store").expect("stored");
    admin(&env, &Cli::client("delete", &gone), &[]).ok();
    assert!(!env.app.store.update_client(&read).await.expect("store"), "nothing to update");
    assert!(env.app.store.client(&gone).await.expect("store").is_none(), "not recreated");
}

#[tokio::test]
async fn client_update_refuses_what_client_create_refuses_and_changes_nothing() {
    let env = TestEnv::new().await;
    let (id, _) = confidential_client(&env, &[("--scope", "reports:read")]);
    let before = env.app.store.client(&id).await.expect("store").expect("stored");
    let update = || Cli::client_update(&id);
    for (cli, says) in [
        (update().opt("--redirect-uri", "http://evil.example/cb"), "http://evil.example/cb"),
        (update().opt("--post-logout-redirect-uri", "https://app.example/bye#x"), "fragment"),
        (update().opt("--backchannel-logout-uri", "javascript:alert(1)"), "javascript:alert(1)"),
        (update().opt("--grant", "magic_beans"), "unknown grant type \"magic_beans\""),
        (update().opt("--grant", wxauth_tests::WECHAT_GRANT), "WeChat grant"),
        (update().opt("--grant", ""), "unknown grant type"),
        (update().arg("--backchannel-logout-session-required"), "no back-channel logout URI"),
        (update().opt("--scope", "bad\\scope"), "--scope"),
    ] {
        let refused = one_line(admin(&env, &cli, &[]));
        assert!(refused.contains(says), "{}: {refused}", cli.args().join(" "));
    }
    let after = env.app.store.client(&id).await.expect("store").expect("stored");
    assert_eq!(after, before, "nothing changed");
}

// ---- the deployment's own audience -------------------------------------------------------------

#[tokio::test]
async fn client_update_may_not_claim_the_deployments_own_audience_named_in_the_environment_or_by_flag() {
    let env = TestEnv::new().await;
    let (id, _) = confidential_client(&env, &[]);
    let update = |audience: &str| Cli::client_update(&id).opt("--audience", audience);
    let from_env = one_line(admin(&env, &update("https://auth.example/"), &[("ISSUER", "https://auth.example")]));
    assert!(from_env.contains("every user's tokens"), "{from_env}");
    let by_flag = admin(&env, &update("https://Auth.Example").opt("--issuer", "https://auth.example"), &[]).failed();
    assert!(by_flag.contains("every user's tokens"), "{by_flag}");
    let audience_flag = update("https://api.example").opt("--deployment-audience", "https://api.example");
    assert!(
        admin(&env, &audience_flag, &[("ISSUER", "https://auth.example")]).failed().contains("every user's tokens")
    );
    let created = unique("greedy");
    let create = Cli::client_create(&created, "confidential").opt("--audience", "https://auth.example");
    let refused = admin(&env, &create.opt("--issuer", "https://auth.example/"), &[]).failed();
    assert!(refused.contains("every user's tokens"), "create with --issuer: {refused}");
    assert!(env.app.store.client(&created).await.expect("store").is_none());
    assert!(env.app.store.client(&id).await.expect("store").expect("stored").audience.is_none(), "not changed");

    let ok = admin(&env, &update("https://reports.example").opt("--issuer", "https://auth.example").json(), &[]).json();
    assert_eq!(ok["audience"], "https://reports.example");
}

#[tokio::test]
async fn the_audience_check_reads_the_issuer_that_init_recorded_in_the_table() {
    let env = TestEnv::new().await;
    let table = unique("init");
    let on_table = |cli: &Cli| admin_on_table(&env, &table, cli, &[], None);
    let init = Cli::init().opt("--issuer", "https://auth.example/").opt("--audience", "https://api.example");
    let out = on_table(&init.json()).json();
    assert_eq!((&out["issuer"], &out["audience"]), (&"https://auth.example".into(), &"https://api.example".into()));
    let item = env.raw_item(&wxauth::store::deployment::key()).await;
    assert!(item.is_none(), "recorded in the table init was given, not the deployment's");

    for audience in ["https://auth.example", "https://api.example/"] {
        let id = unique("greedy");
        let refused = one_line(on_table(&Cli::client_create(&id, "confidential").opt("--audience", audience)));
        assert!(refused.contains("every user's tokens"), "{audience}: {refused}");
    }
    let id = unique("reports");
    on_table(&Cli::client_create(&id, "confidential").opt("--audience", "https://reports.example")).ok();
    let refused = on_table(&Cli::client_update(&id).opt("--audience", "https://auth.example")).failed();
    assert!(refused.contains("every user's tokens"), "{refused}");
    on_table(&Cli::client_update(&id).arg("--no-audience")).ok();

    let again = on_table(&Cli::init().json()).json();
    assert_eq!(again["issuer"], "https://auth.example", "init without --issuer keeps the record: {again}");
    let text = on_table(&Cli::init()).ok().stdout();
    assert!(text.contains("issuer: https://auth.example, default audience https://api.example"), "{text}");
    let moved = on_table(&Cli::init().opt("--issuer", "https://id.example").json()).json();
    assert!(moved["audience"].is_null(), "the newest statement wins: {moved}");
    let refused =
        on_table(&Cli::client_create(&unique("greedy"), "confidential").opt("--audience", "https://id.example"));
    assert!(refused.failed().contains("every user's tokens"));
    let bad = one_line(on_table(&Cli::init().opt("--issuer", "auth.example")));
    assert!(bad.contains("--issuer"), "{bad}");
}

#[tokio::test]
async fn an_audience_is_refused_with_guidance_when_the_deployments_issuer_is_unknown() {
    let env = TestEnv::new().await;
    let id = unique("reports");
    let create = Cli::client_create(&id, "confidential").opt("--audience", "https://reports.example");
    let refused = one_line(admin(&env, &create, &[]));
    assert!(refused.contains("init --issuer") && refused.contains("or give --issuer"), "{refused}");
    assert!(env.app.store.client(&id).await.expect("store").is_none(), "nothing registered");
    let (svc, _) = confidential_client(&env, &[]);
    let refused = one_line(admin(&env, &Cli::client_update(&svc).opt("--audience", "https://reports.example"), &[]));
    assert!(refused.contains("init --issuer"), "{refused}");
    assert!(env.app.store.client(&svc).await.expect("store").expect("stored").audience.is_none());
}

// ---- errors ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_error_is_one_line_even_with_rust_backtrace_set_and_longer_with_verbose() {
    let env = TestEnv::new().await;
    let backtrace = [("RUST_BACKTRACE", "1")];
    let id = unique("ghost");
    let plain = one_line(admin(&env, &Cli::client("show", &id), &backtrace));
    assert_eq!(plain, format!("error: no client {id:?}"));
    // A failure with causes (DynamoDB's answer for a table that is not there): still one line.
    let missing_table = unique("no-table");
    let caused = one_line(admin_on_table(&env, &missing_table, &Cli::client_list(), &backtrace, None));
    assert!(caused.matches(": ").count() >= 2, "its causes, on the same line: {caused}");
    for line in [&plain, &caused] {
        assert!(!line.to_lowercase().contains("stack backtrace"), "{line}");
    }

    let verbose = admin(&env, &Cli::client("show", &id).arg("--verbose"), &backtrace).failed();
    assert!(verbose.starts_with(&plain), "{verbose}");
    assert!(verbose.lines().count() > 1, "the full form: {verbose}");
}

// ---- password users ----------------------------------------------------------------------------

#[tokio::test]
async fn a_user_created_by_the_tool_signs_in_with_the_password_grant() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    let password = format!("bob's password {}", random_id());
    let run = admin(&env, &Cli::user("create", "Bob").json(), &[("WXAUTH_USER_PASSWORD", &password)]).ok();
    assert!(!run.printed().contains(&password), "the password is never printed: {}", run.printed());
    let created: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(created["username"], "bob", "stored lowercased");
    let user_id = created["user_id"].as_str().expect("user_id");
    let (stored_id, _) = env.app.store.password_user("bob").await.expect("store").expect("the user is stored");
    assert_eq!(stored_id, user_id);

    for username in ["bob", "Bob"] {
        let token = env.password_grant(&client, username, &password).await;
        assert_eq!(token.status, 200, "{username}: {}", token.json);
        assert_eq!(token.claims()["sub"], user_id);
        assert!(token.json["refresh_token"].is_string(), "the client may refresh");
    }
    let wrong = env.password_grant(&client, "bob", "not bob's password").await;
    assert_eq!((wrong.status, wrong.error()), (400, "invalid_grant"));

    let taken = admin(&env, &Cli::user("create", "BOB"), &[("WXAUTH_USER_PASSWORD", "another password")]);
    assert!(!taken.printed().contains("another password"));
    let stderr = taken.failed();
    assert!(stderr.contains("taken"), "{stderr}");
}

#[tokio::test]
async fn a_password_can_come_from_one_line_of_standard_input() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    let run = admin_with_stdin(&env, &Cli::user("create", "carol"), &[], Some("carol's  password \n")).ok();
    assert!(!run.printed().contains("carol's  password"), "{}", run.printed());
    let token = env.password_grant(&client, "carol", "carol's  password ").await;
    assert_eq!(token.status, 200, "only the line ending is stripped: {}", token.json);

    let stderr = admin(&env, &Cli::user("create", "dave"), &[]).failed();
    assert!(stderr.contains("WXAUTH_USER_PASSWORD"), "no password at all: {stderr}");
    assert!(env.app.store.password_user("dave").await.expect("store").is_none());
}

#[tokio::test]
async fn set_password_replaces_the_password() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    let (old, new) = ("erin's old password", "erin's new password");
    admin(&env, &Cli::user("create", "erin"), &[("WXAUTH_USER_PASSWORD", old)]).ok();
    assert_eq!(env.password_grant(&client, "erin", old).await.status, 200);

    let run = admin(&env, &Cli::user("set-password", "Erin").json(), &[("WXAUTH_USER_PASSWORD", new)]).ok();
    assert!(!run.printed().contains(new), "the password is never printed: {}", run.printed());
    let out: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(out, serde_json::json!({"username": "erin", "password_set": true}));

    let refused = env.password_grant(&client, "erin", old).await;
    assert_eq!((refused.status, refused.error()), (400, "invalid_grant"), "the old password no longer works");
    let token = env.password_grant(&client, "erin", new).await;
    assert_eq!(token.status, 200, "the new one does: {}", token.json);

    let stderr = admin(&env, &Cli::user("set-password", "nobody"), &[("WXAUTH_USER_PASSWORD", new)]).failed();
    assert!(stderr.contains("no user \"nobody\""), "{stderr}");
}

#[tokio::test]
async fn set_password_lifts_a_lockout() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    admin(&env, &Cli::user("create", "fay"), &[("WXAUTH_USER_PASSWORD", "fay's password")]).ok();
    for _ in 0..wxauth::domain::lockout::MAX_FAILURES {
        assert_eq!(env.password_grant(&client, "fay", "a wrong guess").await.error(), "invalid_grant");
    }
    let locked = env.password_grant(&client, "fay", "fay's password").await;
    assert_eq!((locked.status, locked.error()), (400, "invalid_grant"), "locked, though the password is right");

    admin(&env, &Cli::user("set-password", "fay"), &[("WXAUTH_USER_PASSWORD", "fay's new password")]).ok();
    let token = env.password_grant(&client, "fay", "fay's new password").await;
    assert_eq!(token.status, 200, "the lock is lifted: {}", token.json);
}

#[tokio::test]
async fn deleting_a_user_ends_its_sign_in_and_revokes_its_refresh_tokens() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    let password = "gus's password";
    admin(&env, &Cli::user("create", "Gus"), &[("WXAUTH_USER_PASSWORD", password)]).ok();
    let signed_in = env.password_grant(&client, "gus", password).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.json);
    let refreshed = confidential_refresh(&env, &client, signed_in.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "the refresh token works before: {}", refreshed.json);

    let run = admin(&env, &Cli::user("delete", "gus").json(), &[]).json();
    assert_eq!(run, serde_json::json!({"deleted": "gus"}));

    let refused = env.password_grant(&client, "gus", password).await;
    assert_eq!((refused.status, refused.error()), (400, "invalid_grant"), "no sign-in");
    let revoked = confidential_refresh(&env, &client, refreshed.str("refresh_token")).await;
    assert_eq!((revoked.status, revoked.error()), (400, "invalid_grant"), "the family is revoked");
    assert!(env.app.store.password_user("gus").await.expect("store").is_none());

    let stderr = admin(&env, &Cli::user("delete", "gus"), &[]).failed();
    assert!(stderr.contains("no user \"gus\""), "deleting twice fails: {stderr}");
}

#[tokio::test]
async fn a_too_short_password_is_refused_and_never_printed() {
    let env = TestEnv::new().await;
    let client = password_client(&env);
    let run = admin(&env, &Cli::user("create", "hal"), &[("WXAUTH_USER_PASSWORD", "Sh0rt!")]);
    assert!(!run.printed().contains("Sh0rt!"), "the password is never printed: {}", run.printed());
    let stderr = run.failed();
    assert!(stderr.contains("password refused") && stderr.contains("at least 8"), "{stderr}");
    assert!(env.app.store.password_user("hal").await.expect("store").is_none(), "no user was created");

    // Nor does set-password take one; the old password stays.
    admin(&env, &Cli::user("create", "hal"), &[("WXAUTH_USER_PASSWORD", "hal's long password")]).ok();
    let run = admin(&env, &Cli::user("set-password", "hal"), &[("WXAUTH_USER_PASSWORD", "Sh0rt!")]);
    assert!(!run.printed().contains("Sh0rt!"), "{}", run.printed());
    assert!(run.failed().contains("at least 8"));
    assert_eq!(env.password_grant(&client, "hal", "hal's long password").await.status, 200);
    assert_eq!(env.password_grant(&client, "hal", "Sh0rt!").await.error(), "invalid_grant");
}

// ---- signing keys ------------------------------------------------------------------------------

#[tokio::test]
async fn key_list_shows_the_deployments_signing_key() {
    let env = TestEnv::new().await;
    let keys = env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys");
    assert_eq!(keys.len(), 1);
    let listed = admin(&env, &Cli::key("list").json(), &[]).json();
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kid"], keys[0].kid.as_str());
    assert_eq!(listed[0]["kms_key_id"], keys[0].kms_key_id.as_str());
    assert_eq!(listed[0]["active_from"], keys[0].active_from);
    assert!(listed[0]["expires_at"].is_null(), "the signing key is not retired");

    assert_eq!(listed[0]["active_from_utc"], rfc3339(keys[0].active_from), "a date beside the number");

    let text = admin(&env, &Cli::key("list"), &[]).ok().stdout();
    assert!(text.contains(&keys[0].kid) && text.contains("signs from"), "{text}");
    let date = rfc3339(keys[0].active_from);
    assert!(date.ends_with('Z') && date.len() == "2026-12-06T03:20:00Z".len(), "RFC 3339 in UTC: {date}");
    assert!(text.contains(&format!("signs from {date}")), "a readable date: {text}");
    assert!(!text.contains(&keys[0].active_from.to_string()), "no epoch seconds: {text}");
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_retires_the_old_one_and_signs_when_its_time_comes() {
    let env = TestEnv::with_config(|c| c.key_cache_ttl = std::time::Duration::ZERO).await;
    let mp = env.miniprogram().await;
    let old_kid = env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys")[0].kid.clone();
    let before = env.login(&mp, "ok-ivy").await;
    assert_eq!(kid(&before), old_kid);

    let ttl = env.app.config.access_token_ttl.as_secs().to_string();
    let rotated =
        admin(&env, &Cli::key("rotate").opt("--publish-ahead", "0").opt("--access-token-ttl", &ttl).json(), &[]).json();
    let new_kid = rotated["kid"].as_str().expect("kid").to_string();
    let active_from = rotated["active_from"].as_i64().expect("active_from");
    assert_ne!(new_kid, old_kid);
    assert!(active_from <= wxauth::clock::unix_now() + 1, "publish-ahead 0: it signs at once (or within the second)");

    let listed = admin(&env, &Cli::key("list").json(), &[]).json();
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let old = listed.iter().find(|k| k["kid"] == old_kid.as_str()).expect("the old key is still published");
    let new = listed.iter().find(|k| k["kid"] == new_kid.as_str()).expect("the new key is published");
    assert_eq!(new["active_from"], active_from);
    assert!(new["expires_at"].is_null(), "the new key is not retired");
    let ttl: i64 = ttl.parse().expect("ttl");
    assert_eq!(
        old["expires_at"].as_i64(),
        Some(active_from + ttl + 60),
        "the old key stays published until its last tokens have expired (plus a minute of skew)"
    );
    let jwks = env.get("/.well-known/jwks.json").await;
    let kids: Vec<&str> =
        jwks.json["keys"].as_array().expect("keys").iter().filter_map(|k| k["kid"].as_str()).collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()), "both in the JWKS: {kids:?}");

    // The new key signs once its time has come (the registry is not cached here).
    let deadline = std::time::Instant::now() + PATIENCE;
    while wxauth::clock::unix_now() < active_from {
        assert!(std::time::Instant::now() < deadline, "active_from {active_from} never came");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let after = env.login(&mp, "ok-ivy~2").await;
    assert_eq!(kid(&after), new_kid, "signed by the new key");
    env.verify_with_jwks(after.str("access_token")).await;
    env.verify_with_jwks(before.str("access_token")).await;
    let refreshed = env.refresh(&mp.client_id, before.str("refresh_token")).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.json);
    assert_eq!(kid(&refreshed), new_kid);
}

/// The tags of a KMS key, as a map.
async fn kms_tags(env: &TestEnv, key_id: &str) -> std::collections::HashMap<String, String> {
    let out = env.kms.list_resource_tags().key_id(key_id).send().await.expect("ListResourceTags");
    out.tags.unwrap_or_default().into_iter().map(|t| (t.tag_key, t.tag_value)).collect()
}

#[tokio::test]
async fn every_signing_key_the_admin_brings_in_is_tagged_for_this_table_so_the_functions_may_sign_with_it() {
    // KMS-held keys (a rotation keeps the current key's custody).
    let env = TestEnv::with_custody(wxauth_provision::KeyCustody::Kms).await;
    let table = env.app.config.table.clone();
    let tag = wxauth_provision::SIGNING_KEY_TAG;
    // A key it creates.
    let created = admin(&env, &Cli::key("rotate").json(), &[]).json();
    let created_id = created["kms_key_id"].as_str().expect("kms_key_id");
    assert_eq!(kms_tags(&env, created_id).await.get(tag), Some(&table));
    // A key an operator brings.
    let brought = brought_key(&env, aws_sdk_kms::types::KeySpec::EccNistP256).await;
    assert_eq!(kms_tags(&env, &brought).await.get(tag), None);
    admin(&env, &Cli::key("rotate").opt("--kms-key-id", &brought), &[]).ok();
    assert_eq!(kms_tags(&env, &brought).await.get(tag), Some(&table));
}

/// A new KMS signing key of `spec`, as an operator would bring it.
async fn brought_key(env: &TestEnv, spec: aws_sdk_kms::types::KeySpec) -> String {
    env.kms
        .create_key()
        .key_spec(spec)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey")
        .key_metadata
        .expect("metadata")
        .key_id
}

#[tokio::test]
async fn a_rotation_may_change_the_algorithm_and_a_brought_keys_type_decides_its_own() {
    use aws_sdk_kms::types::KeySpec;
    let env = TestEnv::with_custody(wxauth_provision::KeyCustody::Kms).await;
    let listed = admin(&env, &Cli::key("list").json(), &[]).json();
    assert_eq!(listed[0]["alg"], "RS256", "the default algorithm: {listed}");

    let es256 = admin(&env, &Cli::key("rotate").opt("--alg", "ES256").json(), &[]).json();
    assert_eq!(es256["alg"], "ES256");
    let spec = env.kms.describe_key().key_id(es256["kms_key_id"].as_str().expect("id")).send().await.expect("describe");
    assert_eq!(spec.key_metadata.and_then(|m| m.key_spec), Some(KeySpec::EccNistP256));
    let same = admin(&env, &Cli::key("rotate").json(), &[]).json();
    assert_eq!(same["alg"], "ES256", "without --alg a rotation keeps the current key's algorithm");

    let rsa = brought_key(&env, KeySpec::Rsa2048).await;
    let adopted = admin(&env, &Cli::key("rotate").opt("--kms-key-id", &rsa).json(), &[]).json();
    assert_eq!(adopted["alg"], "RS256", "an RSA_2048 key signs RS256");
    let ec = brought_key(&env, KeySpec::EccNistP256).await;
    let refused = admin(&env, &Cli::key("rotate").opt("--kms-key-id", &ec).opt("--alg", "RS256"), &[]).failed();
    assert!(refused.contains("ES256"), "says what the key signs: {refused}");
    let keys = env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys");
    assert_eq!(keys.len(), 4, "the refused key was not registered");
    assert_eq!(kms_tags(&env, &ec).await.get(wxauth_provision::SIGNING_KEY_TAG), None, "nor tagged");
    admin(&env, &Cli::key("rotate").opt("--alg", "HS256"), &[]).failed();

    // Into envelope custody and back: sealed by the data key, or a new KMS key again.
    let envelope =
        admin(&env, &Cli::key("rotate").opt("--custody", "envelope").opt("--alg", "ES256").json(), &[]).json();
    assert_eq!((&envelope["custody"], &envelope["alg"]), (&serde_json::json!("envelope"), &serde_json::json!("ES256")));
    let sealed_by =
        env.kms.describe_key().key_id(envelope["kms_key_id"].as_str().expect("id")).send().await.expect("describe");
    assert_eq!(sealed_by.key_metadata.and_then(|m| m.key_spec), Some(KeySpec::SymmetricDefault), "the data key");
    let kept = admin(&env, &Cli::key("rotate").json(), &[]).json();
    assert_eq!(kept["custody"], "envelope", "without --custody a rotation keeps the current key's");
    let back = admin(&env, &Cli::key("rotate").opt("--custody", "kms").json(), &[]).json();
    assert_eq!(back["custody"], "kms");
    let refused = admin(&env, &Cli::key("rotate").opt("--kms-key-id", &rsa).opt("--custody", "envelope"), &[]).failed();
    assert!(refused.contains("custody is kms"), "{refused}");

    let text = admin(&env, &Cli::key("list"), &[]).ok().stdout();
    assert!(text.contains(" RS256 ") && text.contains(" ES256 "), "{text}");
    assert!(text.contains(" envelope ") && text.contains(" kms "), "{text}");
}

#[tokio::test]
async fn a_client_may_not_claim_the_deployments_own_audience() {
    let env = TestEnv::new().await;
    for (vars, audience) in [
        (vec![("ISSUER", "https://auth.example")], "https://auth.example"),
        (vec![("ISSUER", "https://auth.example")], "https://auth.example/"),
        (vec![("ISSUER", "https://auth.example"), ("AUDIENCE", "https://api.example")], "https://api.example"),
    ] {
        let id = unique("greedy");
        let cli = Cli::client_create(&id, "confidential").opt("--audience", audience);
        let refused = admin(&env, &cli, &vars).failed();
        assert!(refused.contains("every user's tokens"), "{refused}");
        assert!(env.app.store.client(&id).await.expect("read").is_none(), "nothing registered");
    }
    let id = unique("reports");
    let cli = Cli::client_create(&id, "confidential").opt("--audience", "https://reports.example");
    admin(&env, &cli, &[("ISSUER", "https://auth.example")]).ok();
}

#[tokio::test]
async fn init_creates_a_key_of_the_algorithm_asked_for() {
    let env = TestEnv::new().await;
    // A table of its own: the test env's already has a key.
    let table = unique("init");
    let run =
        |option: &str, value: &str| admin_on_table(&env, &table, &Cli::init().opt(option, value).json(), &[], None);
    let init = run("--alg", "ES256").json();
    assert_eq!(
        (&init["signing_alg"], &init["signing_custody"]),
        (&serde_json::json!("ES256"), &serde_json::json!("envelope"))
    );
    let again = run("--custody", "kms").json();
    assert_eq!(again["signing_kid"], init["signing_kid"], "idempotent: the registry keeps its key");
    assert_eq!(again["signing_custody"], "envelope");
}

// ---- revoke-all --------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_all_ends_every_family_of_a_wechat_user_and_reports_the_count() {
    let env = TestEnv::new().await;
    let mp = env.miniprogram().await;
    let phone = env.login(&mp, "ok-jan").await;
    let tablet = env.login(&mp, "ok-jan~2").await;
    let someone_else = env.login(&mp, "ok-kim").await;
    let sub = phone.claims()["sub"].as_str().expect("sub").to_string();
    assert_eq!(tablet.claims()["sub"], sub.as_str(), "one user, two devices");

    let out = admin(&env, &Cli::revoke_all(&sub).json(), &[]).json();
    assert_eq!(
        out,
        serde_json::json!({"user_id": sub, "revoked_families": 2, "ended_sessions": 0, "backchannel_notices": 0})
    );
    for login in [&phone, &tablet] {
        let reply = env.refresh(&mp.client_id, login.str("refresh_token")).await;
        assert_eq!((reply.status, reply.error()), (400, "invalid_grant"), "{}", reply.json);
    }
    let other = env.refresh(&mp.client_id, someone_else.str("refresh_token")).await;
    assert_eq!(other.status, 200, "another user's family is untouched: {}", other.json);

    let text = admin(&env, &Cli::revoke_all("no-such-user"), &[]).ok().stdout();
    assert!(text.contains("revoked 0 token families and ended 0 browser sessions of no-such-user"), "{text}");
    // User ids are base64url: one in 64 begins with `-`, which is no flag here.
    for command in [Cli::revoke_all("-f9muO4u7Elh"), Cli::new(&["session", "end", "--user", "-f9muO4u7Elh"])] {
        assert!(admin(&env, &command, &[]).ok().stdout().contains("of -f9muO4u7Elh"));
    }
}

#[tokio::test]
async fn a_users_browser_sessions_are_listed_and_ended_by_revoke_all_and_session_end() {
    let (env, queues) = TestEnv::with_logout_queue().await;
    let rp = RelyingParty::start().await;
    let user_id = env.password_user("revoked-rae", "correct horse").await;
    let client_id = env.web_client_with_backchannel(&rp.url).await;
    let query = code_request(&client_id, "openid", "r");
    let page = open_sign_in(&env, &query).await.expect("the page");
    let signed_in = approve(&env, &page, "revoked-rae", "correct horse").await;
    let session = session_cookie(&signed_in).expect("a session cookie");
    let silently = || {
        let mut req = sign_in_page_request(&[query.as_slice(), &[("prompt", "none")]].concat());
        req.headers_mut().insert("cookie", session.parse().expect("cookie"));
        req
    };
    assert!(location_params(&env.dispatch(silently()).await).contains_key("code"), "signed in");

    let listed = admin(&env, &Cli::new(&["session", "list", "--user", &user_id]).json(), &[]).json();
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (&listed[0]["amr"], &listed[0]["clients"]),
        (&serde_json::json!("pwd"), &serde_json::json!([client_id]))
    );
    let text = admin(&env, &Cli::new(&["session", "list", "--user", &user_id]), &[]).ok().stdout();
    assert!(text.contains("(pwd) signed in at") && !text.contains(session.split('=').nth(1).expect("value")), "{text}");
    let auth_time = listed[0]["auth_time"].as_i64().expect("auth_time stays a number");
    assert_eq!(listed[0]["auth_time_utc"], rfc3339(auth_time));
    assert!(text.contains(&format!("signed in at {}", rfc3339(auth_time))), "a readable date: {text}");

    let queue = [("BACKCHANNEL_LOGOUT_QUEUE_URL", queues.url.as_str())];
    let out = admin(&env, &Cli::revoke_all(&user_id).json(), &queue).json();
    assert_eq!((&out["ended_sessions"], &out["backchannel_notices"]), (&1.into(), &1.into()), "{out}");
    let polled = wxauth_local::event_source::poll_once(&env.app, std::time::Duration::ZERO).await.expect("poll");
    assert_eq!((polled.received, polled.failed), (1, 0));
    assert_eq!(rp.tokens().len(), 1, "the relying party was told");
    let after = location_params(&env.dispatch(silently()).await);
    assert_eq!(after.get("error").map(String::as_str), Some("login_required"), "the session is over");
    let none = admin(&env, &Cli::new(&["session", "end", "--user", &user_id]).json(), &[]).json();
    assert_eq!(none["ended_sessions"], 0, "{none}");
    let empty = admin(&env, &Cli::new(&["session", "list", "--user", &user_id]), &[]).ok().stdout();
    assert!(empty.contains("no browser session of"), "{empty}");
}

#[tokio::test]
async fn empty_wechat_credentials_are_refused_with_a_clear_message() {
    let env = TestEnv::new().await;
    let id = unique("mp");
    let empty_appid = admin(
        &env,
        &Cli::client_create(&id, "miniprogram").opt("--wechat-appid", "").arg("--wechat-secret-from-env"),
        &[("WECHAT_APP_SECRET", "s3cret")],
    )
    .failed();
    assert!(empty_appid.contains("appid"), "{empty_appid}");
    let empty_secret = admin(
        &env,
        &Cli::client_create(&id, "miniprogram").opt("--wechat-appid", "wx1").arg("--wechat-secret-from-env"),
        &[("WECHAT_APP_SECRET", "  ")],
    )
    .failed();
    assert!(empty_secret.contains("app secret") && !empty_secret.contains("KMS"), "{empty_secret}");
    assert!(env.app.store.client(&id).await.expect("store").is_none());
}

#[tokio::test]
async fn repeated_grants_are_stored_once_and_an_empty_audience_is_none() {
    let env = TestEnv::new().await;
    let id = unique("svc");
    let created = admin(
        &env,
        &Cli::client_create(&id, "confidential")
            .opt("--grant", "client_credentials")
            .opt("--grant", "client_credentials")
            .opt("--audience", "")
            .json(),
        &[],
    )
    .json();
    assert_eq!(created["grant_types"], serde_json::json!(["client_credentials"]));
    assert!(created["audience"].is_null(), "{created}");
}

#[tokio::test]
async fn key_rotation_refuses_negative_durations() {
    let env = TestEnv::new().await;
    admin(&env, &Cli::key("rotate").arg("--publish-ahead=-100"), &[]).failed();
    admin(&env, &Cli::key("rotate").arg("--access-token-ttl=0"), &[]).failed();
    assert_eq!(
        env.app.store.signing_keys(wxauth::clock::unix_now()).await.expect("keys").len(),
        1,
        "nothing was rotated"
    );
}

#[tokio::test]
async fn wechat_apps_are_added_listed_served_and_removed_and_their_secret_stays_sealed() {
    let env = TestEnv::new().await;
    let appid = format!("wxoa{}", random_id().replace(['-', '_'], "0"));
    let secret = format!("oa-secret-{}", random_id());
    let add = Cli::new(&["wechat-app", "add", "--kind", "official-account", "--appid", &appid])
        .arg("--secret-from-env")
        .opt("--verify-file", "MP_verify_Zz9Yy8.txt")
        .opt("--verify-content", "Zz9Yy8");
    // The domain must be the issuer's host, when the issuer is known.
    let wrong = add.clone().opt("--domain", "elsewhere.example");
    let refused = admin(&env, &wrong, &[("WECHAT_APP_SECRET", &secret), ("ISSUER", wxauth_tests::ISSUER)]).failed();
    assert!(refused.contains("not the issuer's host"), "{refused}");
    // ...and against the issuer `init --issuer` recorded, when none is given.
    admin(&env, &Cli::init().opt("--issuer", wxauth_tests::ISSUER), &[]).ok();
    let refused = admin(&env, &wrong, &[("WECHAT_APP_SECRET", &secret)]).failed();
    assert!(refused.contains("not the issuer's host"), "{refused}");
    let run = admin(
        &env,
        &add.clone().opt("--domain", "auth.wxauth.test").json(),
        &[("WECHAT_APP_SECRET", &secret), ("ISSUER", wxauth_tests::ISSUER)],
    )
    .ok();
    assert!(!run.printed().contains(&secret), "{}", run.printed());
    let added: Value = serde_json::from_str(&run.stdout()).expect("json");
    assert_eq!(added["kind"], "official-account");
    assert_eq!(added["verify_file"], "MP_verify_Zz9Yy8.txt");
    let again = admin(&env, &add.opt("--domain", "auth.wxauth.test"), &[("WECHAT_APP_SECRET", &secret)]).failed();
    assert!(again.contains("registered already"), "{again}");

    let item = env.raw_item(&wxauth::store::wechat_web_apps::key(&appid)).await.expect("the app's item");
    let mut values = Vec::new();
    item.values().for_each(|v| raw_values(v, &mut values));
    assert!(values.iter().all(|v| !contains(v, secret.as_bytes())), "the app secret is stored sealed");

    let listed = admin(&env, &Cli::new(&["wechat-app", "list"]).json(), &[]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let res =
        env.dispatch(wxauth_tests::raw_request("GET", "/MP_verify_Zz9Yy8.txt", None, lambda_http::Body::Empty)).await;
    assert_eq!((res.status().as_u16(), res.body().as_ref()), (200, b"Zz9Yy8".as_slice()));

    admin(&env, &Cli::new(&["wechat-app", "remove", "--appid", &appid]), &[]).ok();
    let gone = admin(&env, &Cli::new(&["wechat-app", "remove", "--appid", &appid]), &[]).failed();
    assert!(gone.contains("no WeChat app"), "{gone}");
    let res =
        env.dispatch(wxauth_tests::raw_request("GET", "/MP_verify_Zz9Yy8.txt", None, lambda_http::Body::Empty)).await;
    assert_eq!(res.status(), 404);
    let bad = admin(
        &env,
        &Cli::new(&["wechat-app", "add", "--kind", "website", "--appid", &appid, "--secret", "s"])
            .opt("--domain", "auth.wxauth.test")
            .opt("--verify-file", "verify.html")
            .opt("--verify-content", "x"),
        &[],
    )
    .failed();
    assert!(bad.contains("MP_verify_"), "{bad}");
}
