//! Registering a WeChat web app (an Official Account or an open-platform website app) for
//! "Sign in with WeChat" on the sign-in page: its app secret sealed as a mini program's, its
//! callback domain, and the domain-verification file WeChat asks for.

use wxauth::domain::client::WechatApp;
use wxauth::domain::wechat_web::{VerifyFile, WebAppKind, WechatWebApp};
use wxauth::keys::data_key::DataKey;
use wxauth::store::Store;
use wxauth::wechat::secrets::app_secret_context;

/// What `wxauth-admin wechat-app add` registers.
pub struct NewWebApp {
    pub kind: WebAppKind,
    pub appid: String,
    /// Plaintext here; sealed before it is stored.
    pub secret: String,
    /// WeChat's web-authorization callback domain (网页授权域名): a host, no scheme or port.
    pub domain: String,
    /// The deployment's issuer, when known: the domain must be its host.
    pub issuer: Option<String>,
    pub verify_file: Option<VerifyFile>,
}

/// Registers `new`; refuses an appid registered already.
pub async fn create_wechat_web_app(
    store: &Store,
    data_key: &DataKey,
    new: NewWebApp,
    now: i64,
) -> anyhow::Result<WechatWebApp> {
    if !wxauth::oauth::client_auth::plausible_client_id(&new.appid) || new.secret.trim().is_empty() {
        anyhow::bail!("the WeChat appid and app secret must both be given and printable");
    }
    let plausible_host =
        !new.domain.is_empty() && new.domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !plausible_host {
        anyhow::bail!(
            "--domain is a host name as WeChat's console takes it (e.g. auth.example.com): no scheme, port or path"
        );
    }
    if let Some(issuer) = &new.issuer {
        let host = issuer_host(issuer);
        if !host.eq_ignore_ascii_case(&new.domain) {
            anyhow::bail!(
                "--domain {} is not the issuer's host {host}: WeChat sends the browser back to {issuer}/oauth/wechat/callback, \
                 which must be on the registered domain",
                new.domain
            );
        }
    }
    let encrypted_secret = data_key.encrypt(new.secret.as_bytes(), &app_secret_context(&new.appid)).await?;
    let app = WechatWebApp {
        credentials: WechatApp { appid: new.appid, encrypted_secret },
        kind: new.kind,
        domain: new.domain.to_ascii_lowercase(),
        verify_file: new.verify_file,
        created_at: now,
    };
    if !store.create_wechat_web_app(&app).await? {
        anyhow::bail!("WeChat app {} is registered already (remove it first to change it)", app.appid());
    }
    Ok(app)
}

/// The host of an issuer URL (`https://auth.example.com:8443/x` → `auth.example.com`).
pub fn issuer_host(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, port)| if port.bytes().all(|b| b.is_ascii_digit()) { host } else { authority })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issuers_host_drops_scheme_port_and_path() {
        assert_eq!(issuer_host("https://auth.example.com"), "auth.example.com");
        assert_eq!(issuer_host("http://127.0.0.1:3000"), "127.0.0.1");
        assert_eq!(issuer_host("https://auth.example.com:8443/prod"), "auth.example.com");
    }
}
