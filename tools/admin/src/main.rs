//! `wxauth-admin`: sets up and administers a wxauth deployment.
//!
//! Reads the same environment as the functions (`WXAUTH_TABLE`, `KMS_DATA_KEY_ID`, and the AWS
//! SDK's `AWS_REGION`, `AWS_ENDPOINT_URL`, credentials); flags override. Human-readable output,
//! `--json` for scripts.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use wxauth::keys::algorithm::Algorithm;
use wxauth::keys::data_key::DataKey;
use wxauth::oauth::scope::Scope;
use wxauth::provision::{self, NewClient};
use wxauth::store::Store;
use wxauth::store::clients::{Client, ClientKind};
use wxauth::store::passwords::{CreateUserError, normalize_username};

#[derive(Parser)]
#[command(name = "wxauth-admin", version, about = "Administers a wxauth deployment: table, keys, clients, users")]
struct Cli {
    /// The DynamoDB table.
    #[arg(long, env = "WXAUTH_TABLE", global = true, default_value = "wxauth")]
    table: String,
    /// The symmetric KMS key (id, ARN or alias) for session keys and app secrets.
    #[arg(long, env = "KMS_DATA_KEY_ID", global = true, default_value = "alias/wxauth-data")]
    data_key: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates the table (keys, GSI, TTL), the data key and the signing key, unless they exist.
    Init {
        /// Register this existing KMS signing key instead of creating one (its key type
        /// decides the algorithm: RSA_2048 signs RS256, ECC_NIST_P256 ES256).
        #[arg(long)]
        signing_key: Option<String>,
        /// The algorithm of a signing key created here: RS256 (RSA_2048, what API Gateway's
        /// HTTP API JWT authorizer accepts; the default) or ES256 (ECC_NIST_P256). With
        /// --signing-key, the key must be of that type. A registry that has a key already keeps
        /// it: change it with `key rotate --alg`.
        #[arg(long)]
        alg: Option<Algorithm>,
    },
    /// Registered clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Password users (the password grant and the sign-in page).
    #[command(subcommand)]
    User(UserCommand),
}

/// The password of `user create` and `user set-password` comes from the environment variable
/// WXAUTH_USER_PASSWORD if set, else from one line of standard input: never from the command
/// line, where `ps` and shell history would keep it.
#[derive(Subcommand)]
enum UserCommand {
    /// Creates a password user (password from WXAUTH_USER_PASSWORD, else one line of stdin).
    Create {
        /// 1 to 64 printable characters, case-insensitive (stored lowercased).
        #[arg(long)]
        username: String,
    },
    /// Replaces a user's password (from WXAUTH_USER_PASSWORD, else one line of stdin) and
    /// lifts a lockout.
    SetPassword {
        #[arg(long)]
        username: String,
    },
    /// Deletes a password user and revokes its refresh tokens.
    Delete {
        #[arg(long)]
        username: String,
    },
    /// Revokes every refresh-token family of a user (WeChat or password), e.g. for a lost
    /// phone; its access tokens run out within ACCESS_TOKEN_TTL.
    RevokeAll {
        /// The user id (the `sub` of its tokens).
        #[arg(long)]
        user_id: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Every published key: kid, algorithm, KMS key, when it signs from, until when it stays
    /// published.
    List,
    /// Publishes a new signing key now; it signs once every container has it in its cached
    /// JWKS (`--publish-ahead`), and the old key stays published until its tokens have expired.
    Rotate {
        /// Use this existing KMS key (SIGN_VERIFY; RSA_2048 or larger for RS256,
        /// ECC_NIST_P256 for ES256) instead of creating one.
        #[arg(long)]
        kms_key_id: Option<String>,
        /// The new key's algorithm, RS256 or ES256 (default: the current key's). A rotation may
        /// change it: tokens of the old key keep verifying with the old key's algorithm.
        #[arg(long)]
        alg: Option<Algorithm>,
        /// Seconds between publishing and signing: at least twice the functions' KEY_CACHE_TTL
        /// (a container's cached registry, then a resource server's cached JWKS), and on AWS
        /// at least 300: KMS takes up to five minutes to honour the new key's tag, which is
        /// what lets the functions sign with it.
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(i64).range(0..))]
        publish_ahead: i64,
        /// The functions' ACCESS_TOKEN_TTL: how long the old key must stay published.
        #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(i64).range(1..))]
        access_token_ttl: i64,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Registers a client; a confidential client's secret is printed once.
    Create(CreateClient),
    List,
    Show {
        id: String,
    },
    Delete {
        id: String,
    },
}

#[derive(Args)]
struct CreateClient {
    /// The client id.
    #[arg(long)]
    id: String,
    #[arg(long, default_value = "")]
    name: String,
    /// confidential, public or miniprogram.
    #[arg(long, value_parser = parse_kind)]
    kind: ClientKind,
    /// A grant type it may use (repeatable); default: those of its kind.
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// A redirect URI, matched exactly (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// The most it may ask for, space-separated.
    #[arg(long, default_value = "")]
    scope: String,
    /// `aud` of its access tokens (default: the deployment's), which also makes it the
    /// resource server of that audience at introspection. Never the deployment's default
    /// audience or its issuer (ISSUER, AUDIENCE from the environment, as the functions read
    /// them): that would show it every user's tokens.
    #[arg(long)]
    audience: Option<String>,
    /// The deployment's issuer, to refuse it as a client's audience.
    #[arg(long, env = "ISSUER", hide_env_values = true)]
    issuer: Option<String>,
    /// The deployment's default audience (default: the issuer), likewise.
    #[arg(long = "deployment-audience", env = "AUDIENCE", hide_env_values = true)]
    deployment_audience: Option<String>,
    /// Mini programs: the WeChat appid.
    #[arg(long)]
    wechat_appid: Option<String>,
    /// Mini programs: read the WeChat app secret (stored KMS-encrypted) from the environment
    /// variable WECHAT_APP_SECRET, never from the command line (where `ps` and shell history
    /// would keep it).
    #[arg(long)]
    wechat_secret_from_env: bool,
}

fn parse_kind(text: &str) -> Result<ClientKind, String> {
    ClientKind::parse(text).ok_or_else(|| "expected confidential, public or miniprogram".to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sdk = wxauth::aws::sdk_config(wxauth::config::AwsTimeouts::from_env()?).await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), &cli.table);
    let now = wxauth::unix_now();
    match cli.command {
        Command::Init { signing_key, alg } => {
            wxauth::store::table::ensure_table(store.dynamodb(), &cli.table).await?;
            let data_key = if cli.data_key.starts_with("alias/") {
                provision::ensure_data_key(&kms, &cli.data_key).await?
            } else {
                cli.data_key.clone()
            };
            let signing = match signing_key {
                Some(id) => provision::adopt_signing_key(&kms, &store, &id, alg, now, now).await?,
                None => {
                    provision::ensure_signing_key(&kms, &store, alg.unwrap_or(provision::DEFAULT_ALGORITHM), now)
                        .await?
                }
            };
            let out = json!({"table": cli.table, "data_key_id": data_key, "signing_kid": signing.kid, "signing_alg": signing.jwk.alg, "signing_kms_key_id": signing.kms_key_id});
            print(cli.json, &out, || {
                format!(
                    "table {}: ready (TTL on expires_at)\ndata key: {data_key} (KMS_DATA_KEY_ID={})\nsigning key: kid {}, {} (KMS {})",
                    cli.table, cli.data_key, signing.kid, signing.jwk.alg, signing.kms_key_id
                )
            });
        }
        Command::Key(KeyCommand::List) => {
            let keys = store.signing_keys(now).await?;
            let out = json!(keys.iter().map(|k| json!({"kid": k.kid, "alg": k.jwk.alg, "kms_key_id": k.kms_key_id, "active_from": k.active_from, "expires_at": k.expires_at})).collect::<Vec<_>>());
            print(cli.json, &out, || {
                keys.iter()
                    .map(|k| {
                        let until = k.expires_at.map(|at| format!(", published until {at}")).unwrap_or_default();
                        format!("{} {} (KMS {}) signs from {}{until}", k.kid, k.jwk.alg, k.kms_key_id, k.active_from)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        Command::Key(KeyCommand::Rotate { kms_key_id, alg, publish_ahead, access_token_ttl }) => {
            let key =
                provision::rotate_signing_key(&kms, &store, kms_key_id, alg, now, publish_ahead, access_token_ttl)
                    .await?;
            let out = json!({"kid": key.kid, "alg": key.jwk.alg, "kms_key_id": key.kms_key_id, "active_from": key.active_from});
            print(cli.json, &out, || {
                format!(
                    "published {} {} (KMS {}); it signs from {} on",
                    key.kid, key.jwk.alg, key.kms_key_id, key.active_from
                )
            });
        }
        Command::Client(ClientCommand::Create(c)) => {
            let secret = c
                .wechat_secret_from_env
                .then(|| std::env::var("WECHAT_APP_SECRET"))
                .transpose()
                .context("WECHAT_APP_SECRET")?;
            let wechat = match (c.wechat_appid, secret) {
                (Some(appid), Some(secret)) => Some((appid, secret)),
                (None, None) => None,
                _ => anyhow::bail!("--wechat-appid and --wechat-secret-from-env go together"),
            };
            let shared = [c.issuer.as_deref(), c.deployment_audience.as_deref()];
            if let Some(audience) = c
                .audience
                .as_deref()
                .filter(|a| shared.iter().flatten().any(|s| s.trim_end_matches('/') == a.trim_end_matches('/')))
            {
                anyhow::bail!(
                    "--audience {audience} is the deployment's own default audience: every token without an audience of \
                     its own carries it, and introspection would show this client every user's tokens. Name the \
                     resource server's own audience (e.g. https://api.example/reports)"
                );
            }
            let new = NewClient {
                id: c.id,
                name: c.name,
                kind: c.kind,
                grant_types: c.grants,
                redirect_uris: c.redirect_uris,
                scope: Scope::parse(&c.scope).map_err(|e| anyhow::anyhow!("--scope: {}", e.description))?,
                audience: c.audience,
                wechat,
            };
            let data_key = DataKey::new(kms, &cli.data_key);
            let (client, secret) = provision::create_client(&store, &data_key, new, now).await?;
            let mut out = describe(&client);
            if let Some(secret) = &secret {
                out["client_secret"] = json!(secret);
            }
            print(cli.json, &out, || {
                let mut text = format!("created {}", text(&client));
                if let Some(secret) = &secret {
                    text.push_str(&format!("\nclient_secret: {secret}\n(shown once: only its hash is stored)"));
                }
                text
            });
        }
        Command::Client(ClientCommand::List) => {
            let clients = store.clients().await?;
            let out = json!(clients.iter().map(describe).collect::<Vec<_>>());
            print(cli.json, &out, || clients.iter().map(text).collect::<Vec<_>>().join("\n"));
        }
        Command::Client(ClientCommand::Show { id }) => {
            let client = store.client(&id).await?.with_context(|| format!("no client {id:?}"))?;
            print(cli.json, &describe(&client), || text(&client));
        }
        Command::Client(ClientCommand::Delete { id }) => {
            let deleted = store.delete_client(&id).await?;
            if !deleted {
                anyhow::bail!("no client {id:?}");
            }
            print(cli.json, &json!({"deleted": id}), || format!("deleted {id}"));
        }
        Command::User(UserCommand::Create { username }) => {
            let username = valid_username(&username)?;
            let hash = new_password_hash()?;
            let user_id = match store.create_password_user(&username, &hash, now).await {
                Ok(user_id) => user_id,
                Err(CreateUserError::Taken) => anyhow::bail!("the username {username:?} is taken"),
                Err(e) => return Err(e.into()),
            };
            print(cli.json, &json!({"user_id": user_id, "username": username}), || {
                format!("created user {username} (id {user_id})")
            });
        }
        Command::User(UserCommand::SetPassword { username }) => {
            let username = valid_username(&username)?;
            let hash = new_password_hash()?;
            if !store.set_password(&username, &hash).await? {
                anyhow::bail!("no user {username:?}");
            }
            store.clear_password_failures(&username).await?;
            print(cli.json, &json!({"username": username, "password_set": true}), || {
                format!("set the password of {username}")
            });
        }
        Command::User(UserCommand::RevokeAll { user_id }) => {
            let revoked = store.revoke_user_families(&user_id, now).await?;
            print(cli.json, &json!({"user_id": user_id, "revoked_families": revoked}), || {
                format!("revoked {revoked} token families of {user_id}")
            });
        }
        Command::User(UserCommand::Delete { username }) => {
            let username = valid_username(&username)?;
            if !store.delete_password_user(&username, now).await? {
                anyhow::bail!("no user {username:?}");
            }
            print(cli.json, &json!({"deleted": username}), || format!("deleted user {username}"));
        }
    }
    Ok(())
}

/// The username as stored (trimmed, lowercased), or why it is not one.
fn valid_username(username: &str) -> anyhow::Result<String> {
    normalize_username(username)
        .with_context(|| format!("--username {username:?}: 1 to 64 printable characters, please"))
}

/// Reads the new password (WXAUTH_USER_PASSWORD, else one line of stdin), checks the policy
/// and hashes it.
fn new_password_hash() -> anyhow::Result<wxauth::password::PasswordHash> {
    let password = match std::env::var("WXAUTH_USER_PASSWORD") {
        Ok(password) => password,
        Err(std::env::VarError::NotPresent) => read_password_line()?,
        Err(e) => return Err(e).context("WXAUTH_USER_PASSWORD"),
    };
    wxauth::password::check_policy(&password).map_err(|why| anyhow::anyhow!("password refused: {why}"))?;
    wxauth::password::hash_password(&password)
}

/// One line of stdin, without its line ending (other whitespace belongs to the password).
fn read_password_line() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password (it will show as you type; set WXAUTH_USER_PASSWORD to avoid that): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    if stdin.lock().read_line(&mut line).context("reading the password from stdin")? == 0 {
        anyhow::bail!("no password: set WXAUTH_USER_PASSWORD or write it as one line on stdin");
    }
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    Ok(password.to_string())
}

fn describe(c: &Client) -> serde_json::Value {
    json!({
        "client_id": c.id,
        "name": c.name,
        "kind": c.kind.as_str(),
        "grant_types": c.grant_types,
        "redirect_uris": c.redirect_uris,
        "scope": c.scope.to_string(),
        "audience": c.audience,
        "wechat_appid": c.wechat.as_ref().map(|w| &w.appid),
        "created_at": c.created_at,
    })
}

fn text(c: &Client) -> String {
    let mut line = format!("{} ({}) grants: {}", c.id, c.kind.as_str(), c.grant_types.join(", "));
    if let Some(w) = &c.wechat {
        line.push_str(&format!("; WeChat appid {}", w.appid));
    }
    if !c.scope.is_empty() {
        line.push_str(&format!("; scope: {}", c.scope));
    }
    if !c.redirect_uris.is_empty() {
        line.push_str(&format!("; redirect URIs: {}", c.redirect_uris.join(" ")));
    }
    line
}

fn print(as_json: bool, value: &serde_json::Value, text: impl FnOnce() -> String) {
    if as_json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}
