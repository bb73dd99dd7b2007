//! Registering and updating a client: its checks (kind, WeChat credentials, grant types, client
//! id, redirect URIs; one function for both), its default grants, a confidential client's secret
//! (returned once, stored as a hash; rotated on request) and a mini program's app secret (sealed
//! by the data key).

use wxauth::domain::client::{BackchannelLogout, Client, ClientKind, WechatApp};
use wxauth::keys::data_key::DataKey;
use wxauth::scope::Scope;
use wxauth::secret::{hash, random_token};
use wxauth::store::Store;
use wxauth::store::clients::CreateClientError;
use wxauth::wechat::secrets::app_secret_context;

/// What a new client is to be.
#[derive(Clone)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub kind: ClientKind,
    /// Empty: the kind's defaults ([`default_grants`]).
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    /// Where logout may send the browser afterwards; the same rules as redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Where logout tokens go; the same rules as redirect URIs.
    pub backchannel_logout: Option<BackchannelLogout>,
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
    use wxauth::grant_type::{AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN, WECHAT_CODE};
    let grants: &[&str] = match kind {
        ClientKind::MiniProgram => &[WECHAT_CODE, REFRESH_TOKEN],
        ClientKind::Public => &[AUTHORIZATION_CODE, REFRESH_TOKEN],
        ClientKind::Confidential => &[CLIENT_CREDENTIALS],
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
        && (!wxauth::oauth::client_auth::plausible_client_id(appid) || secret.trim().is_empty())
    {
        anyhow::bail!("the WeChat appid and app secret must both be given and printable");
    }
    let secret = (new.kind == ClientKind::Confidential).then(random_token);
    let mut client = Client {
        id: new.id,
        name: new.name,
        kind: new.kind,
        secret_hash: secret.as_deref().map(hash),
        grant_types: if new.grant_types.is_empty() { default_grants(new.kind) } else { dedup(new.grant_types) },
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout: new.backchannel_logout,
        scope: new.scope,
        audience: new.audience.filter(|a| !a.trim().is_empty()),
        wechat: None,
        created_at: now,
    };
    // Checked before the app secret is sealed: a refused client costs no KMS call.
    check_client(&client)?;
    if let Some((appid, app_secret)) = new.wechat {
        let encrypted_secret = data_key.encrypt(app_secret.as_bytes(), &app_secret_context(&appid)).await?;
        client.wechat = Some(WechatApp { appid, encrypted_secret });
    }
    match store.create_client(&client).await {
        Ok(()) => Ok((client, secret)),
        Err(CreateClientError::Exists) => {
            anyhow::bail!("a client with id {:?} exists already", client.id)
        }
        Err(CreateClientError::Store(e)) => Err(e.into()),
    }
}

/// What `client update` changes; `None` (and `false`) keeps what is stored. A client's id, kind
/// and WeChat credentials never change.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    /// Replaces the grant types (repeats dropped).
    pub grant_types: Option<Vec<String>>,
    /// Replaces the redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// A new back-channel logout URI (`Some(Some(_))`; `session_required` kept), or none any
    /// more (`Some(None)`).
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Sets `backchannel_logout_session_required` (the client must have a back-channel logout
    /// URI, stored or new).
    pub backchannel_logout_session_required: Option<bool>,
    /// Replaces the scope.
    pub scope: Option<Scope>,
    /// A new audience (`Some(Some(_))`; empty is none), or the deployment's again (`Some(None)`).
    /// Check it with [`crate::check_client_audience`] first.
    pub audience: Option<Option<String>>,
    /// A new secret for a confidential client, returned once and stored only as a hash: the old
    /// one stops working.
    pub rotate_secret: bool,
}

/// Changes what `update` names of client `id` and keeps the rest, checked by the rules of
/// [`create_client`]; written only while the client exists, so one deleted meanwhile is not
/// recreated. Returns the client as stored and, with `rotate_secret`, its new secret.
pub async fn update_client(store: &Store, id: &str, update: ClientUpdate) -> anyhow::Result<(Client, Option<String>)> {
    let Some(mut client) = store.client(id).await? else {
        anyhow::bail!("no client {id:?}");
    };
    if update.rotate_secret && !client.is_confidential() {
        anyhow::bail!("client {id:?} is {}: only confidential clients have a secret", client.kind.as_str());
    }
    let secret = update.rotate_secret.then(random_token);
    if let Some(secret) = &secret {
        client.secret_hash = Some(hash(secret));
    }
    client.name = update.name.unwrap_or(client.name);
    client.grant_types = update.grant_types.map(dedup).unwrap_or(client.grant_types);
    client.redirect_uris = update.redirect_uris.unwrap_or(client.redirect_uris);
    client.post_logout_redirect_uris = update.post_logout_redirect_uris.unwrap_or(client.post_logout_redirect_uris);
    client.scope = update.scope.unwrap_or(client.scope);
    client.audience = update.audience.map(|a| a.filter(|a| !a.trim().is_empty())).unwrap_or(client.audience);
    if let Some(uri) = update.backchannel_logout_uri {
        let session_required = client.backchannel_logout.as_ref().is_some_and(|b| b.session_required);
        client.backchannel_logout = uri.map(|uri| BackchannelLogout { uri, session_required });
    }
    if let Some(required) = update.backchannel_logout_session_required {
        let Some(backchannel) = &mut client.backchannel_logout else {
            anyhow::bail!(
                "client {id:?} has no back-channel logout URI to require a session for: give --backchannel-logout-uri"
            );
        };
        backchannel.session_required = required;
    }
    check_client(&client)?;
    if !store.update_client(&client).await? {
        anyhow::bail!("no client {id:?} (deleted meanwhile)");
    }
    Ok((client, secret))
}

/// The rules every client obeys, at creation and at each update: a plausible id, known grant
/// types (the WeChat grant for mini programs only), acceptable redirect, post-logout and
/// back-channel logout URIs.
fn check_client(client: &Client) -> anyhow::Result<()> {
    let known = |g: &str| wxauth::grant_type::is_known(g);
    if let Some(unknown) = client.grant_types.iter().find(|g| !known(g)) {
        anyhow::bail!("unknown grant type {unknown:?}; known: {}", wxauth::grant_type::ALL.join(", "));
    }
    if client.kind != ClientKind::MiniProgram && client.allows_grant(wxauth::grant_type::WECHAT_CODE) {
        anyhow::bail!("only mini-program clients may use the WeChat grant");
    }
    if !wxauth::oauth::client_auth::plausible_client_id(&client.id) {
        anyhow::bail!("a client id is 1 to 128 printable ASCII characters without spaces");
    }
    let backchannel = client.backchannel_logout.iter().map(|b| &b.uri);
    let uris = client.redirect_uris.iter().chain(&client.post_logout_redirect_uris).chain(backchannel);
    if let Some(bad) = uris.into_iter().find(|uri| !acceptable_redirect_uri(uri)) {
        anyhow::bail!("redirect URI {bad:?} must be absolute https (or http on a loopback host), without a fragment");
    }
    Ok(())
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
