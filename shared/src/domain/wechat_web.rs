//! Sign-in with WeChat on the web: the WeChat apps that offer it (an Official Account's web
//! authorization inside WeChat, an open-platform website app's QR code on desktops), the scope a
//! sign-in asks WeChat for, and which offer fits the browser.

use super::client::WechatApp;

/// What kind of WeChat app signs users in on the web.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebAppKind {
    /// 公众号: web authorization inside WeChat's browser (`/connect/oauth2/authorize`).
    OfficialAccount,
    /// 网站应用: QR sign-in on desktops (`/connect/qrconnect`).
    Website,
}

impl WebAppKind {
    pub const ALL: [WebAppKind; 2] = [WebAppKind::OfficialAccount, WebAppKind::Website];

    pub fn as_str(self) -> &'static str {
        match self {
            WebAppKind::OfficialAccount => "official-account",
            WebAppKind::Website => "website",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The scope a sign-in starts with: silent `snsapi_base` inside WeChat, `snsapi_login` on
    /// the website app's QR page.
    pub fn first_scope(self) -> WebScope {
        match self {
            WebAppKind::OfficialAccount => WebScope::Base,
            WebAppKind::Website => WebScope::Login,
        }
    }
}

/// A registered WeChat web app.
#[derive(Debug, Clone, PartialEq)]
pub struct WechatWebApp {
    /// The appid and its sealed app secret, as a mini program's.
    pub credentials: WechatApp,
    pub kind: WebAppKind,
    /// The web-authorization callback domain registered at WeChat (网页授权域名): the issuer's host.
    pub domain: String,
    /// The domain-verification file WeChat asks to be served at the domain's root.
    pub verify_file: Option<VerifyFile>,
    pub created_at: i64,
}

impl WechatWebApp {
    pub fn appid(&self) -> &str {
        &self.credentials.appid
    }
}

/// `MP_verify_<token>.txt` and what it must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFile {
    pub name: String,
    pub content: String,
}

impl VerifyFile {
    /// WeChat's file names: `MP_verify_` then letters and digits, `.txt`; the content is short
    /// plain text (WeChat's is the token again).
    pub fn parse(name: &str, content: &str) -> Option<Self> {
        let token = name.strip_prefix("MP_verify_")?.strip_suffix(".txt")?;
        let plausible = (1..=64).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_alphanumeric())
            && (1..=256).contains(&content.len())
            && content.bytes().all(|b| b.is_ascii_graphic());
        plausible.then(|| VerifyFile { name: name.to_string(), content: content.to_string() })
    }
}

/// What a sign-in asks WeChat for (`scope` of WeChat's authorization URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebScope {
    /// Silent, the openid only.
    Base,
    /// Consent (silent for recent users), adds the unionid and the profile.
    Userinfo,
    /// The website app's QR sign-in.
    Login,
}

impl WebScope {
    pub fn as_str(self) -> &'static str {
        match self {
            WebScope::Base => "snsapi_base",
            WebScope::Userinfo => "snsapi_userinfo",
            WebScope::Login => "snsapi_login",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [WebScope::Base, WebScope::Userinfo, WebScope::Login].into_iter().find(|s| s.as_str() == text)
    }

    /// The kind of app that signs in with this scope.
    pub fn kind(self) -> WebAppKind {
        match self {
            WebScope::Base | WebScope::Userinfo => WebAppKind::OfficialAccount,
            WebScope::Login => WebAppKind::Website,
        }
    }

    /// Whether `/sns/userinfo` may be called with the access token it yields.
    pub fn reads_profile(self) -> bool {
        self != WebScope::Base
    }
}

/// Where the sign-in page is seen, as far as WeChat sign-in is concerned. Only picks what the
/// page offers: the User-Agent grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    /// WeChat's own browser (`MicroMessenger`, not WeCom): the Official Account's authorization.
    Wechat,
    /// WeCom (企业微信, `wxwork`): WeChat's web authorization does not work there.
    WeCom,
    /// Another phone or tablet browser: WeChat sign-in cannot work there.
    OtherMobile,
    /// A desktop browser: the website app's QR code.
    Desktop,
}

impl BrowserKind {
    pub fn of(user_agent: Option<&str>) -> Self {
        let ua = user_agent.unwrap_or_default();
        if ua.contains("wxwork") {
            BrowserKind::WeCom
        } else if ua.contains("MicroMessenger") {
            BrowserKind::Wechat
        } else if ["Mobile", "Android", "iPhone", "iPad"].iter().any(|m| ua.contains(m)) {
            BrowserKind::OtherMobile
        } else {
            BrowserKind::Desktop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_is_told_apart_by_its_user_agent() {
        let wechat = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN";
        let wecom = "Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 MicroMessenger/7.0.1 wxwork/4.1.10";
        let desktop_wechat =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) WindowsWechat(0x63090a13) MicroMessenger/7.0.20";
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1";
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(BrowserKind::of(Some(wechat)), BrowserKind::Wechat);
        assert_eq!(BrowserKind::of(Some(desktop_wechat)), BrowserKind::Wechat);
        assert_eq!(BrowserKind::of(Some(wecom)), BrowserKind::WeCom);
        assert_eq!(BrowserKind::of(Some(safari)), BrowserKind::OtherMobile);
        assert_eq!(BrowserKind::of(Some(chrome)), BrowserKind::Desktop);
        assert_eq!(BrowserKind::of(None), BrowserKind::Desktop);
    }

    #[test]
    fn verify_files_are_wechats_names_only() {
        let file = VerifyFile::parse("MP_verify_AbC123.txt", "AbC123").expect("valid");
        assert_eq!((file.name.as_str(), file.content.as_str()), ("MP_verify_AbC123.txt", "AbC123"));
        for name in ["MP_verify_.txt", "MP_verify_a/b.txt", "verify_x.txt", "MP_verify_x.html", "MP_verify_../x.txt"] {
            assert!(VerifyFile::parse(name, "x").is_none(), "{name}");
        }
        assert!(VerifyFile::parse("MP_verify_x.txt", "").is_none());
        assert!(VerifyFile::parse("MP_verify_x.txt", "a b").is_none());
    }

    #[test]
    fn kinds_and_scopes_read_back() {
        for kind in WebAppKind::ALL {
            assert_eq!(WebAppKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.first_scope().kind(), kind);
        }
        for scope in [WebScope::Base, WebScope::Userinfo, WebScope::Login] {
            assert_eq!(WebScope::parse(scope.as_str()), Some(scope));
        }
        assert!(!WebScope::Base.reads_profile() && WebScope::Userinfo.reads_profile());
    }
}
