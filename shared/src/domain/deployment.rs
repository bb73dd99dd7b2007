//! What a deployment calls itself: its issuer and default audience, as the admin tool records
//! them (the functions read theirs from the environment).

/// The deployment's own names, as `wxauth-admin init --issuer` recorded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSettings {
    /// The issuer (the functions' `ISSUER`).
    pub issuer: String,
    /// The default `aud` of access tokens (`AUDIENCE`) when one was given; else the issuer.
    pub audience: Option<String>,
    /// When this was recorded (epoch seconds).
    pub recorded_at: i64,
}

impl DeploymentSettings {
    /// The audiences no client may claim as its own: the issuer and the default audience. Every
    /// access token without an audience of its own carries one of them.
    pub fn shared_audiences(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.issuer.as_str()).chain(self.audience.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_audiences_are_the_issuer_and_the_default_audience_if_any() {
        let mut settings =
            DeploymentSettings { issuer: "https://auth.example.com".into(), audience: None, recorded_at: 5 };
        assert_eq!(settings.shared_audiences().collect::<Vec<_>>(), ["https://auth.example.com"]);
        settings.audience = Some("https://api.example.com".into());
        assert_eq!(
            settings.shared_audiences().collect::<Vec<_>>(),
            ["https://auth.example.com", "https://api.example.com"]
        );
    }
}
