//! The sign-in and consent page of `/oauth/authorize`: who asks, what for (each scope in
//! words), and a POST form with username and password (or, for a user signed in already, their
//! name), the hidden `request_id`, `csrf_token` and `locale`, and two submit buttons named
//! `decision` (`approve`, `deny`). Enter in a field
//! submits `approve`, the first button; `deny` skips the `required` checks. Below them, buttons
//! named `switch_locale` show the same page in another language.

use askama::Template;

use super::locale::Locale;
use super::text::{Text, scope_description};
use crate::oauth::scan::ScanProblem;
use crate::scope::Scope;

/// One line of "It asks for": a scope token and what it means.
pub struct ScopeLine {
    pub token: String,
    pub description: String,
}

impl ScopeLine {
    /// Each token of `scope`, described in `locale` (an unknown one by its name).
    pub fn all(scope: &Scope, locale: Locale) -> Vec<ScopeLine> {
        scope
            .to_string()
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(|token| ScopeLine {
                token: token.to_string(),
                description: scope_description(locale, token).unwrap_or(token).to_string(),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage<'a> {
    text: &'static Text,
    other_locales: Vec<Locale>,
    /// The client's display name (its id when it has none).
    client_name: &'a str,
    client_id: &'a str,
    scopes: Vec<ScopeLine>,
    /// The form's action URL path, e.g. "/oauth/authorize".
    action: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    /// Prefilled (and the password focused) after a failed attempt or from `login_hint`.
    username: Option<&'a str>,
    /// On the consent page: the signed-in user's name; no username or password is asked.
    signed_in_as: Option<&'a str>,
    /// Shown above the form.
    error: Option<&'static str>,
    wechat: WechatOffer<'a>,
    /// The ticket whose mini-program code the page shows.
    scan_ticket: Option<&'a str>,
    /// Why the page shows no code although scan sign-in is offered.
    scan_problem: Option<&'static str>,
}

/// What the sign-in page offers for scanning with the mini program (`oauth::scan::ScanOffer`,
/// as a page shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPanel<'a> {
    Nothing,
    /// The code of this ticket, its polling script, a fallback link and a button for a new code.
    Code(&'a str),
    /// No code, and why.
    Unavailable(ScanProblem),
}

/// What the sign-in page offers for WeChat (`oauth::wechat_web::Choice`, as a page shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatOffer<'a> {
    Nothing,
    /// A plain link to WeChat's QR page (no JavaScript).
    QrLink(&'a str),
    /// A hint to open the page in WeChat.
    OpenInWechat,
}

/// What the page shows and carries, apart from its language.
pub struct SignInForm<'a> {
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub scope: &'a Scope,
    pub action: &'a str,
    pub request_id: &'a str,
    pub csrf_token: &'a str,
    pub username: Option<&'a str>,
    /// The consent page, for a user signed in already (their name).
    pub signed_in_as: Option<&'a str>,
    /// After a wrong username or password.
    pub wrong_password: bool,
    pub wechat: WechatOffer<'a>,
    pub scan: ScanPanel<'a>,
}

impl<'a> SignInPage<'a> {
    pub fn new(locale: Locale, form: &SignInForm<'a>) -> Self {
        let text = Text::of(locale);
        SignInPage {
            text,
            other_locales: locale.others(),
            client_name: if form.client_name.is_empty() { form.client_id } else { form.client_name },
            client_id: form.client_id,
            scopes: ScopeLine::all(form.scope, locale),
            action: form.action,
            request_id: form.request_id,
            csrf_token: form.csrf_token,
            username: form.username.filter(|u| !u.is_empty()),
            signed_in_as: form.signed_in_as,
            error: form.wrong_password.then_some(text.wrong_password),
            wechat: if form.signed_in_as.is_some() { WechatOffer::Nothing } else { form.wechat },
            scan_ticket: match form.scan {
                ScanPanel::Code(ticket) if form.signed_in_as.is_none() => Some(ticket),
                _ => None,
            },
            scan_problem: match form.scan {
                ScanPanel::Unavailable(_) if form.signed_in_as.is_some() => None,
                ScanPanel::Unavailable(ScanProblem::NotPublished) => Some(text.scan_not_published),
                ScanPanel::Unavailable(ScanProblem::Quota) => Some(text.scan_quota),
                ScanPanel::Unavailable(ScanProblem::Failed) => Some(text.scan_failed),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::assert_well_formed_page;
    use super::*;

    const XSS: &str = "<script>alert(1)</script>";
    const ATTR: &str = "\"onmouseover=alert(1) x='";

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    fn render<'a>(locale: Locale, change: impl FnOnce(&mut SignInForm<'a>)) -> String {
        let scope: &'static Scope = Box::leak(Box::new(scope("openid profile")));
        let mut form = SignInForm {
            client_name: "Demo App",
            client_id: "wx1234567890",
            scope,
            action: "/oauth/authorize",
            request_id: "req-1",
            csrf_token: "csrf-1",
            username: None,
            signed_in_as: None,
            wrong_password: false,
            wechat: WechatOffer::Nothing,
            scan: ScanPanel::Nothing,
        };
        change(&mut form);
        SignInPage::new(locale, &form).render().unwrap()
    }

    #[test]
    fn every_echoed_field_is_escaped() {
        let bad_scope = scope("<b> x'y&");
        let html = render(Locale::En, |f| {
            f.client_name = XSS;
            f.client_id = ATTR;
            f.scope = &bad_scope;
            f.request_id = ATTR;
            f.csrf_token = ATTR;
            f.username = Some(ATTR);
            f.action = ATTR;
        });
        assert!(!html.contains(XSS) && !html.contains("<script"));
        assert!(!html.contains("\"onmouseover=") && !html.contains("x='"));
        assert!(html.contains("<strong>&#60;script&#62;alert(1)&#60;/script&#62;</strong>"));
        let escaped = "&#34;onmouseover=alert(1) x=&#39;";
        assert!(html.contains(&format!("name=\"request_id\" value=\"{escaped}\"")), "{html}");
        assert!(html.contains(&format!("name=\"csrf_token\" value=\"{escaped}\"")));
        assert!(html.contains(&format!("action=\"{escaped}\"")));
        assert!(html.contains(&format!("required value=\"{escaped}\"")));
        assert!(!html.contains("<b>") && html.contains("<li data-scope=\"&#60;b&#62;\">&#60;b&#62;</li>"));
        assert!(html.contains("<li data-scope=\"x&#39;y&#38;\">x&#39;y&#38;</li>"), "{html}");
    }

    #[test]
    fn the_consent_page_names_the_user_escaped_and_asks_for_no_password() {
        for locale in Locale::ALL {
            let html = render(locale, |f| f.signed_in_as = Some(XSS));
            assert!(!html.contains("name=\"password\"") && !html.contains("name=\"username\""), "{html}");
            assert!(html.contains("<strong>&#60;script&#62;alert(1)&#60;/script&#62;</strong></p>"), "{html}");
            assert!(html.contains(Text::of(locale).signed_in_as) && html.contains(Text::of(locale).allow));
            assert!(html.find("value=\"approve\"") < html.find("value=\"deny\""), "allow first");
        }
    }

    #[test]
    fn the_form_has_its_fields_and_both_decisions_with_approve_first() {
        let html = render(Locale::En, |_| {});
        assert!(html.contains("<form method=\"post\" action=\"/oauth/authorize\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"request_id\" value=\"req-1\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-1\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"locale\" value=\"en\">"));
        assert!(html.contains("name=\"username\" type=\"text\" autocomplete=\"username\""));
        assert!(html.contains("name=\"password\" type=\"password\" autocomplete=\"current-password\""));
        let approve = html.find("name=\"decision\" value=\"approve\"").unwrap();
        let deny = html.find("name=\"decision\" value=\"deny\"").unwrap();
        let switch = html.find("name=\"switch_locale\"").unwrap();
        assert!(approve < deny && deny < switch, "Enter must submit approve, the first button");
        assert_eq!(html.matches("type=\"submit\" name=\"decision\"").count(), 2);
        assert!(html.contains("<strong>Demo App</strong> wants to sign you in"));
        assert_well_formed_page(&html, Locale::En);
    }

    #[test]
    fn scopes_are_described_in_the_page_language() {
        let phone = scope("openid phone orders:read");
        let en = render(Locale::En, |f| f.scope = &phone);
        assert!(en.contains("<li data-scope=\"phone\">Your phone number</li>"), "{en}");
        assert!(en.contains("<li data-scope=\"orders:read\">orders:read</li>"));
        let zh = render(Locale::ZhCn, |f| f.scope = &phone);
        assert!(zh.contains("<li data-scope=\"phone\">你的手机号</li>"));
        assert_eq!(zh.matches("<li ").count(), 3);
        let none = scope("");
        assert!(!render(Locale::En, |f| f.scope = &none).contains("<ul>"));
    }

    #[test]
    fn the_chinese_page_is_chinese_and_offers_english() {
        let html = render(Locale::ZhCn, |_| {});
        assert_well_formed_page(&html, Locale::ZhCn);
        assert!(html.contains("<strong>Demo App</strong> 请求使用你的账号登录"));
        assert!(html.contains(">登录并授权</button>") && html.contains(">拒绝</button>"));
        assert!(html.contains("<input type=\"hidden\" name=\"locale\" value=\"zh-CN\">"));
        assert!(html.contains("name=\"switch_locale\" value=\"en\" lang=\"en\" formnovalidate>English</button>"));
        assert!(!html.contains("value=\"zh-CN\" lang=\"zh-CN\""), "no switch to itself");
        let en = render(Locale::En, |_| {});
        assert!(en.contains("name=\"switch_locale\" value=\"zh-CN\" lang=\"zh-CN\" formnovalidate>中文</button>"));
    }

    #[test]
    fn a_wrong_password_shows_the_error_and_keeps_the_username() {
        let plain = render(Locale::En, |_| {});
        assert!(!plain.contains("role=\"alert\""));
        assert!(!plain.contains("required value="));
        assert!(plain.contains("spellcheck=\"false\" required autofocus>"));
        let retry = render(Locale::En, |f| {
            f.username = Some("alice");
            f.wrong_password = true;
        });
        assert!(retry.contains("<p class=\"error\" role=\"alert\">Wrong username or password.</p>"));
        assert!(retry.contains("required value=\"alice\">"));
        assert!(retry.find("role=\"alert\"").unwrap() < retry.find("<form").unwrap());
        assert!(retry.contains("autocomplete=\"current-password\" required autofocus>"));
        let zh = render(Locale::ZhCn, |f| f.wrong_password = true);
        assert!(zh.contains("<p class=\"error\" role=\"alert\">用户名或密码错误。</p>"));
    }

    #[test]
    fn wechat_is_offered_as_a_plain_link_or_a_hint_in_both_languages() {
        let url = "https://open.weixin.qq.com/connect/qrconnect?appid=wx1&state=a&x=<b>#wechat_redirect";
        for locale in Locale::ALL {
            let text = Text::of(locale);
            let html = render(locale, |f| f.wechat = WechatOffer::QrLink(url));
            let escaped =
                "https://open.weixin.qq.com/connect/qrconnect?appid=wx1&#38;state=a&#38;x=&#60;b&#62;#wechat_redirect";
            assert!(
                html.contains(&format!("<a class=\"wechat\" href=\"{escaped}\">{}</a>", text.sign_in_with_wechat)),
                "{html}"
            );
            assert_well_formed_page(&html, locale);
            let hint = render(locale, |f| f.wechat = WechatOffer::OpenInWechat);
            assert!(hint.contains(text.open_in_wechat) && !hint.contains("class=\"wechat\""));
            let plain = render(locale, |_| {});
            assert!(!plain.contains(text.open_in_wechat) && !plain.contains("class=\"wechat\""));
            let consent = render(locale, |f| {
                f.signed_in_as = Some("ann");
                f.wechat = WechatOffer::QrLink(url);
            });
            assert!(!consent.contains("class=\"wechat\""), "a consent page signs nobody in");
        }
    }

    #[test]
    fn the_scan_code_comes_with_its_script_fallback_and_new_code_button_in_both_languages() {
        let ticket = "0123456789abcdef0123456789abcdef";
        for locale in Locale::ALL {
            let text = Text::of(locale);
            let html = render(locale, |f| f.scan = ScanPanel::Code(ticket));
            assert_well_formed_page(&html, locale);
            assert!(
                html.contains(&format!("<section class=\"scan\" id=\"scan\" data-status=\"/oauth/scan/{ticket}\">"))
            );
            assert!(
                html.contains(&format!(
                    "<img src=\"/oauth/scan/{ticket}/image\" width=\"200\" height=\"200\" alt=\"{}\"",
                    text.scan_image_alt
                )),
                "{html}"
            );
            assert!(html.contains(&format!("<a href=\"/oauth/scan/{ticket}/continue\">{}</a>", text.scan_continue)));
            assert!(
                html.contains(&format!("name=\"scan\" value=\"renew\" formnovalidate>{}</button>", text.scan_new_code))
            );
            assert_eq!(html.matches("<script>").count(), 1);
            for hidden in [text.scan_scanned, text.scan_denied, text.scan_expired] {
                assert!(html.contains(&format!(" hidden>{hidden}</p>")), "{hidden}");
            }
            let approve = html.find("value=\"approve\"").unwrap();
            assert!(approve < html.find("value=\"renew\"").unwrap(), "Enter must still submit approve");
            let plain = render(locale, |_| {});
            assert!(!plain.contains("<script") && !plain.contains("id=\"scan\""));
            let consent = render(locale, |f| {
                f.signed_in_as = Some("ann");
                f.scan = ScanPanel::Code(ticket);
            });
            assert!(!consent.contains("id=\"scan\"") && !consent.contains("<script"), "a consent page signs nobody in");
        }
    }

    #[test]
    fn a_page_without_a_code_says_why() {
        for (problem, words) in [
            (ScanProblem::NotPublished, Text::of(Locale::En).scan_not_published),
            (ScanProblem::Quota, Text::of(Locale::En).scan_quota),
            (ScanProblem::Failed, Text::of(Locale::En).scan_failed),
        ] {
            let html = render(Locale::En, |f| f.scan = ScanPanel::Unavailable(problem));
            let words = words.replace('\'', "&#39;");
            assert!(html.contains(&format!("<p class=\"hint\" role=\"status\">{words}</p>")), "{html}");
            assert!(!html.contains("<script") && !html.contains("<img"));
        }
        let zh = render(Locale::ZhCn, |f| f.scan = ScanPanel::Unavailable(ScanProblem::Quota));
        assert!(zh.contains(Text::of(Locale::ZhCn).scan_quota));
    }

    #[test]
    fn a_client_without_a_name_is_shown_by_its_id() {
        let html = render(Locale::En, |f| f.client_name = "");
        assert!(html.contains("<strong>wx1234567890</strong>"));
    }
}
