//! The deployment's own names, its issuer and default audience: recorded in the table by
//! `init --issuer`, and refused as any client's audience. Every access token without an audience
//! of its own carries them, so a client registered as their resource server would see every
//! user's tokens at introspection.

use wxauth::domain::deployment::DeploymentSettings;
use wxauth::store::Store;

/// Records the deployment's issuer and default audience (none: the issuer) in the table, over
/// what was recorded before.
pub async fn record_deployment(
    store: &Store,
    issuer: &str,
    audience: Option<&str>,
    now: i64,
) -> anyhow::Result<DeploymentSettings> {
    let settings = DeploymentSettings {
        issuer: issuer_url(issuer)?,
        audience: audience.map(str::trim).filter(|a| !a.is_empty()).map(str::to_string),
        recorded_at: now,
    };
    store.record_deployment_settings(&settings).await?;
    Ok(settings)
}

/// Refuses `audience` as a client's own when it is one of the deployment's names: those `given`
/// (`--issuer`, `ISSUER`, `AUDIENCE`) and those the table records. When none is known at all,
/// any audience is refused: the check is never skipped. An empty audience is none (the
/// deployment's default), and passes.
pub async fn check_client_audience(store: &Store, audience: &str, given: &[Option<&str>]) -> anyhow::Result<()> {
    if audience.trim().is_empty() {
        return Ok(());
    }
    let recorded = store.deployment_settings().await?;
    let known = given.iter().flatten().copied().chain(recorded.iter().flat_map(DeploymentSettings::shared_audiences));
    refuse_shared_audience(audience, &known.collect::<Vec<_>>())
}

/// [`check_client_audience`] once the deployment's names are known.
fn refuse_shared_audience(audience: &str, shared: &[&str]) -> anyhow::Result<()> {
    let shared: Vec<&str> = shared.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if shared.is_empty() {
        anyhow::bail!(
            "--audience {audience} cannot be checked against the deployment's issuer, which is unknown here: record it \
             once with `wxauth-admin init --issuer <ISSUER>`, or give --issuer"
        );
    }
    if shared.iter().any(|s| normalized(s) == normalized(audience)) {
        anyhow::bail!(
            "--audience {audience} is the deployment's own default audience: every token without an audience of \
             its own carries it, and introspection would show this client every user's tokens. Name the \
             resource server's own audience (e.g. https://api.example/reports)"
        );
    }
    Ok(())
}

/// An audience for comparison: a URL as the URL standard writes it (scheme and host lowercased,
/// default port dropped), without a trailing slash; another string as it is.
fn normalized(audience: &str) -> String {
    let audience = audience.trim();
    match url::Url::parse(audience) {
        Ok(url) => url.as_str().trim_end_matches('/').to_string(),
        Err(_) => audience.trim_end_matches('/').to_string(),
    }
}

/// An issuer as the functions take it (`ISSUER`): an absolute http(s) URL, without a trailing
/// slash, query or fragment.
fn issuer_url(issuer: &str) -> anyhow::Result<String> {
    let trimmed = issuer.trim().trim_end_matches('/');
    let plausible = url::Url::parse(trimmed).is_ok_and(|url| {
        matches!(url.scheme(), "https" | "http")
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
    });
    if !plausible {
        anyhow::bail!(
            "--issuer {issuer:?}: expected the deployment's issuer, an absolute URL such as https://auth.example.com"
        );
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployments_names_are_refused_however_they_are_written() {
        let shared = ["https://auth.example.com", "https://api.example.com/v1"];
        for same in [
            "https://auth.example.com",
            "https://auth.example.com/",
            "HTTPS://Auth.Example.com",
            "https://auth.example.com:443",
            "https://api.example.com/v1/",
        ] {
            let refused = refuse_shared_audience(same, &shared).expect_err(same).to_string();
            assert!(refused.contains("every user's tokens"), "{refused}");
        }
        for other in ["https://reports.example.com", "https://api.example.com/V1", "https://auth.example.com/reports"] {
            assert!(refuse_shared_audience(other, &shared).is_ok(), "{other}");
        }
    }

    #[test]
    fn with_no_name_known_every_audience_is_refused_with_the_way_to_make_the_issuer_known() {
        for shared in [&[][..], &["", "  "]] {
            let refused = refuse_shared_audience("https://reports.example.com", shared).expect_err("refused");
            assert!(refused.to_string().contains("init --issuer"), "{refused}");
        }
    }

    #[test]
    fn an_issuer_is_an_absolute_http_url_kept_without_its_trailing_slash() {
        assert_eq!(issuer_url("https://auth.example.com/").expect("valid"), "https://auth.example.com");
        assert_eq!(issuer_url("http://127.0.0.1:3000").expect("valid"), "http://127.0.0.1:3000");
        assert_eq!(issuer_url("https://example.com/auth").expect("valid"), "https://example.com/auth");
        for bad in ["auth.example.com", "ftp://auth.example.com", "https://", "https://a.example/?x=1", ""] {
            assert!(issuer_url(bad).is_err(), "{bad}");
        }
    }
}
