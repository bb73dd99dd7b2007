//! Setting a deployment up: the table, the KMS keys, clients. What `wxauth-admin` does, as a
//! library, so that tests prepare their own tables exactly the same way.

use anyhow::Context as _;
use aws_sdk_kms::error::ProvideErrorMetadata as _;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};

use crate::keys::algorithm::Algorithm;
use crate::keys::data_key::DataKey;
use crate::keys::registry::{kms_public_key, register_kms_key, register_public_key};
use crate::oauth::scope::Scope;
use crate::store::Store;
use crate::store::clients::{Client, ClientKind, CreateClientError, WechatApp};
use crate::store::signing_keys::SigningKey;
use crate::tokens::secret::{hash, random_token};
use crate::wechat::secrets::app_secret_context;

/// The default algorithm of a new deployment's key: what API Gateway's HTTP API JWT authorizer
/// accepts (it takes RSA only), and KMS bills RSA_2048 signatures at the symmetric rate.
pub const DEFAULT_ALGORITHM: Algorithm = Algorithm::RS256;

/// The signing key: the newest one in the registry, or a new KMS key for `alg` registered as
/// active now. Idempotent.
pub async fn ensure_signing_key(
    kms: &aws_sdk_kms::Client,
    store: &Store,
    alg: Algorithm,
    now: i64,
) -> anyhow::Result<SigningKey> {
    let keys = store.signing_keys(now).await?;
    if let Some(newest) = keys.last() {
        return Ok(newest.clone());
    }
    let key_id = create_signing_key(kms, store.table(), alg).await?;
    register_kms_key(kms, store, &key_id, now, now).await
}

/// Rotates the signing key: registers `kms_key_id` (or a new KMS key for `alg`; by default the
/// algorithm of the newest key) to sign from `now + publish_ahead` on, so every container's
/// cached JWKS shows it before a token signed by it exists; the keys it replaces stay published
/// until `token_ttl` after that. A rotation may change the algorithm: verifiers take each key's
/// own. Returns the new key.
pub async fn rotate_signing_key(
    kms: &aws_sdk_kms::Client,
    store: &Store,
    kms_key_id: Option<String>,
    alg: Option<Algorithm>,
    now: i64,
    publish_ahead: i64,
    token_ttl: i64,
) -> anyhow::Result<SigningKey> {
    let current = store.signing_keys(now).await?;
    // Strictly after every earlier key: the newest active key signs, and a tie would be a coin toss.
    let active_from = current.iter().map(|k| k.active_from + 1).fold(now + publish_ahead, i64::max);
    let new = match kms_key_id {
        Some(id) => adopt_signing_key(kms, store, &id, alg, now, active_from).await?,
        None => {
            let alg = alg.or_else(|| current.last().map(|k| k.jwk.alg)).unwrap_or(DEFAULT_ALGORITHM);
            let id = create_signing_key(kms, store.table(), alg).await?;
            register_kms_key(kms, store, &id, now, active_from).await?
        }
    };
    // Clock skew between containers: keep the old keys a minute longer than strictly needed.
    let retire_at = active_from + token_ttl + 60;
    for old in current.iter().filter(|k| k.kid != new.kid && k.expires_at.is_none_or(|at| at > retire_at)) {
        store.retire_signing_key(&old.kid, retire_at).await?;
    }
    Ok(new)
}

/// The tag that marks a KMS key as a signing key of the deployment whose table is its value.
/// template.yaml grants `kms:Sign` on keys carrying it (attribute-based access control), so a
/// key rotated in needs no new IAM grant.
pub const SIGNING_KEY_TAG: &str = "wxauth-signing-key";

/// A new asymmetric KMS key for `alg` signatures, tagged [`SIGNING_KEY_TAG`] = `table`.
pub async fn create_signing_key(kms: &aws_sdk_kms::Client, table: &str, alg: Algorithm) -> anyhow::Result<String> {
    let out = kms
        .create_key()
        .key_spec(alg.key_spec())
        .key_usage(KeyUsageType::SignVerify)
        .description(format!("wxauth token signing key, {alg} ({table})"))
        .tags(signing_key_tag(table)?)
        .send()
        .await
        .context("KMS CreateKey (signing)")?;
    out.key_metadata.map(|m| m.key_id).context("KMS CreateKey returned no key id")
}

/// Registers a KMS key an operator brought (to `init --signing-key` or `key rotate
/// --kms-key-id`) to sign from `active_from`, after tagging it as [`create_signing_key`] does, so
/// that the functions may sign with it. Its key type decides its algorithm: an `expected` one
/// that differs is refused before anything is tagged or registered.
pub async fn adopt_signing_key(
    kms: &aws_sdk_kms::Client,
    store: &Store,
    key_id: &str,
    expected: Option<Algorithm>,
    now: i64,
    active_from: i64,
) -> anyhow::Result<SigningKey> {
    let (kms_key_id, jwk) = kms_public_key(kms, key_id).await?;
    if let Some(alg) = expected.filter(|alg| *alg != jwk.alg) {
        anyhow::bail!("KMS key {key_id} signs {}, not {alg}: nothing was registered", jwk.alg);
    }
    let tag = signing_key_tag(store.table())?;
    kms.tag_resource().key_id(key_id).tags(tag).send().await.context("KMS TagResource")?;
    register_public_key(store, kms_key_id, jwk, now, active_from).await
}

fn signing_key_tag(table: &str) -> anyhow::Result<Tag> {
    Tag::builder().tag_key(SIGNING_KEY_TAG).tag_value(table).build().context("KMS tag")
}

/// The symmetric data key behind `alias`, created with that alias if there is none. Returns the
/// key id.
pub async fn ensure_data_key(kms: &aws_sdk_kms::Client, alias: &str) -> anyhow::Result<String> {
    match kms.describe_key().key_id(alias).send().await {
        Ok(out) => {
            return out.key_metadata.map(|m| m.key_id).context("KMS DescribeKey returned no key");
        }
        Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("NotFoundException") => {}
        Err(e) => return Err(e).context("KMS DescribeKey"),
    }
    let key_id = kms
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .description("wxauth data key: WeChat session keys and app secrets")
        .send()
        .await
        .context("KMS CreateKey (data)")?
        .key_metadata
        .map(|m| m.key_id)
        .context("KMS CreateKey returned no key id")?;
    kms.create_alias().alias_name(alias).target_key_id(&key_id).send().await.context("KMS CreateAlias")?;
    Ok(key_id)
}

/// What a new client is to be.
#[derive(Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// Empty: the kind's defaults ([`default_grants`]).
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scope: Scope,
    pub audience: Option<String>,
    /// For mini programs: appid and app secret (plaintext here, encrypted before storing).
    pub wechat: Option<(String, String)>,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let appid = self.wechat.as_ref().map(|(appid, _)| appid);
        f.debug_struct("NewClient")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("wechat_appid", &appid)
            .finish_non_exhaustive()
    }
}

/// The grants a client of `kind` gets unless told otherwise.
/// Password and implicit are never defaults: a client must be registered for them explicitly.
pub fn default_grants(kind: ClientKind) -> Vec<String> {
    use crate::oauth::grants::{authorization_code, client_credentials, refresh_token, wechat};
    let grants: &[&str] = match kind {
        ClientKind::MiniProgram => &[wechat::GRANT_TYPE, refresh_token::GRANT_TYPE],
        ClientKind::Public => &[authorization_code::GRANT_TYPE, refresh_token::GRANT_TYPE],
        ClientKind::Confidential => &[client_credentials::GRANT_TYPE],
    };
    grants.iter().map(|g| g.to_string()).collect()
}

/// Registers a client. A confidential client's secret is generated here and returned: it is
/// shown once and stored only as a hash.
pub async fn create_client(
    store: &Store,
    data_key: &DataKey,
    new: NewClient,
    now: i64,
) -> anyhow::Result<(Client, Option<String>)> {
    if new.kind == ClientKind::MiniProgram && new.wechat.is_none() {
        anyhow::bail!("a mini-program client needs its WeChat appid and app secret");
    }
    if new.kind != ClientKind::MiniProgram && new.wechat.is_some() {
        anyhow::bail!("only mini-program clients hold WeChat credentials");
    }
    if let Some((appid, secret)) = &new.wechat
        && (!crate::oauth::client_auth::plausible_client_id(appid) || secret.trim().is_empty())
    {
        anyhow::bail!("the WeChat appid and app secret must both be given and printable");
    }
    let known = |g: &str| crate::oauth::grants::GRANT_TYPES.contains(&g) || g == crate::oauth::grants::IMPLICIT;
    if let Some(unknown) = new.grant_types.iter().find(|g| !known(g)) {
        anyhow::bail!("unknown grant type {unknown:?}; known: {}", crate::oauth::grants::GRANT_TYPES.join(", "));
    }
    if new.kind != ClientKind::MiniProgram
        && new.grant_types.iter().any(|g| g == crate::oauth::grants::wechat::GRANT_TYPE)
    {
        anyhow::bail!("only mini-program clients may use the WeChat grant");
    }
    if !crate::oauth::client_auth::plausible_client_id(&new.id) {
        anyhow::bail!("a client id is 1 to 128 printable ASCII characters without spaces");
    }
    if let Some(bad) = new.redirect_uris.iter().find(|uri| !acceptable_redirect_uri(uri)) {
        anyhow::bail!("redirect URI {bad:?} must be absolute https (or http on a loopback host), without a fragment");
    }
    let secret = (new.kind == ClientKind::Confidential).then(random_token);
    let wechat = match new.wechat {
        Some((appid, app_secret)) => {
            let encrypted_secret = data_key.encrypt(app_secret.as_bytes(), &app_secret_context(&appid)).await?;
            Some(WechatApp { appid, encrypted_secret })
        }
        None => None,
    };
    let client = Client {
        id: new.id,
        name: new.name,
        kind: new.kind,
        secret_hash: secret.as_deref().map(hash),
        grant_types: if new.grant_types.is_empty() { default_grants(new.kind) } else { dedup(new.grant_types) },
        redirect_uris: new.redirect_uris,
        scope: new.scope,
        audience: new.audience.filter(|a| !a.trim().is_empty()),
        wechat,
        created_at: now,
    };
    match store.create_client(&client).await {
        Ok(()) => Ok((client, secret)),
        Err(CreateClientError::Exists) => {
            anyhow::bail!("a client with id {:?} exists already", client.id)
        }
        Err(CreateClientError::Store(e)) => Err(e.into()),
    }
}

/// `items` without repeats, in their first order.
fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|g| seen.insert(g.clone())).collect()
}

/// RFC 6749 §3.1.2: "The redirection endpoint URI MUST be an absolute URI" and "MUST NOT include
/// a fragment component"; RFC 9700 §4.1.3 / RFC 8252 §7.3: plain http only on loopback. No
/// userinfo: in `http://127.0.0.1:80@evil.example/` the host is evil.example.
pub fn acceptable_redirect_uri(uri: &str) -> bool {
    // The URL parser drops tabs and newlines silently; a registered URI must be what it says.
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(url) = url::Url::parse(uri) else { return false };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(host))) => host == "localhost",
        ("http", Some(url::Host::Ipv4(ip))) => ip == std::net::Ipv4Addr::LOCALHOST,
        ("http", Some(url::Host::Ipv6(ip))) => ip == std::net::Ipv6Addr::LOCALHOST,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable_redirect_uri;

    #[test]
    fn redirect_uris_are_absolute_https_or_loopback_http_without_fragments() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1:3000/demo/callback",
            "http://localhost/cb",
            "http://[::1]/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(acceptable_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "javascript:alert(1)",
            "https://app.example/cb#frag",
            "/relative",
            "https://",
            "https://a b/",
            "http://127.0.0.1:80@evil.example/cb",
            "http://localhost@evil.example/cb",
            "https://user:pass@app.example/cb",
            "http://127.0.0.2.evil.example/cb",
            "http://localhost.evil.example/cb",
            "https://app.example/c\tb",
            "https://app.example/cb#",
        ] {
            assert!(!acceptable_redirect_uri(bad), "{bad}");
        }
    }
}
