//! The error page: for requests that must not redirect (an unknown client, an unregistered
//! redirect URI, a sign-in form that expired or came from another browser) and for the route's
//! own failures. It says what happened and what to do, in the user's language.

use askama::Template;

use super::locale::Locale;
use super::text::Text;
use crate::oauth::authorization::Unredirectable;
use crate::oauth::logout::LogoutProblem;
use crate::oauth::wechat_web::WechatProblem;

/// What went wrong, as the page tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An authorization request that cannot go back to its client.
    Request(Unredirectable),
    /// A logout request that must not redirect.
    Logout(LogoutProblem),
    /// WeChat's web sign-in did not go through.
    Wechat(WechatProblem),
    /// Sign-in by scanning was declined in the mini program.
    ScanDeclined,
    /// A method other than GET or POST.
    MethodNotAllowed,
    /// A request body over the route's limit.
    TooLarge,
    /// A backend fault (answered 503 or 502).
    Unavailable,
}

impl From<Unredirectable> for Problem {
    fn from(why: Unredirectable) -> Self {
        Problem::Request(why)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    text: &'static Text,
    title: &'static str,
    message: &'static str,
    /// A technical detail below the message (e.g. which parameter could not be read).
    detail: Option<&'a str>,
    /// Where to try again, and the link's words.
    link: Option<(&'a str, &'static str)>,
}

impl<'a> ErrorPage<'a> {
    pub fn new(locale: Locale, problem: &'a Problem) -> Self {
        let ((en_title, en_message), (zh_title, zh_message)) = words(problem);
        let (title, message) = match locale {
            Locale::En => (en_title, en_message),
            Locale::ZhCn => (zh_title, zh_message),
        };
        let detail = match problem {
            Problem::Request(Unredirectable::Malformed(detail)) => Some(detail.as_str()),
            _ => None,
        };
        ErrorPage { text: Text::of(locale), title, message, detail, link: None }
    }

    /// The page of a WeChat sign-in that did not go through, linking back to WeChat at `retry`.
    pub fn wechat(locale: Locale, problem: &'a Problem, retry: &'a str) -> Self {
        ErrorPage { link: Some((retry, Text::of(locale).try_wechat_again)), ..Self::new(locale, problem) }
    }
}

type Words = (&'static str, &'static str);

/// The title and message of a problem: (English, Chinese).
fn words(problem: &Problem) -> (Words, Words) {
    use Unredirectable::*;
    match problem {
        Problem::Request(Malformed(_)) => {
            (("Invalid request", "The request could not be read."), ("请求无效", "无法读取这个请求。"))
        }
        Problem::Request(NoClient) => (
            ("Invalid request", "The request names no client (client_id)."),
            ("请求无效", "请求中没有指明应用（client_id）。"),
        ),
        Problem::Request(UnknownClient) => {
            (("Unknown application", "This application is not registered."), ("未知的应用", "这个应用没有注册。"))
        }
        Problem::Request(UnregisteredRedirect) => (
            ("Invalid redirect", "The redirect URI is not registered for this application."),
            ("无效的跳转地址", "这个跳转地址（redirect_uri）没有为该应用注册。"),
        ),
        Problem::Request(NoRedirect) => (
            ("Invalid redirect", "The request names no redirect URI."),
            ("无效的跳转地址", "请求中没有指明跳转地址（redirect_uri）。"),
        ),
        Problem::Request(IncompleteForm) => (
            ("Invalid request", "The form is incomplete. Start again from the application."),
            ("请求无效", "表单不完整。请回到应用重新开始。"),
        ),
        Problem::Request(Expired) => (
            ("Sign-in expired", "This sign-in page has expired. Start again from the application."),
            ("登录已过期", "这个登录页面已过期。请回到应用重新开始。"),
        ),
        Problem::Request(OtherBrowser) => (
            ("Sign-in refused", "This form was not opened in this browser. Start again from the application."),
            ("登录被拒绝", "这个表单不是在此浏览器中打开的。请回到应用重新开始。"),
        ),
        Problem::Request(NoLongerRegistered) => (
            ("Unknown application", "This application or its redirect URI is no longer registered."),
            ("未知的应用", "这个应用或它的跳转地址已不再注册。"),
        ),
        Problem::Request(AlreadyAnswered) => (
            ("Already answered", "This sign-in was already completed. Return to the application."),
            ("已经完成", "这次登录已经完成。请返回应用。"),
        ),
        Problem::Request(SessionEnded) => (
            ("Signed out", "You were signed out while this page was open. Start again from the application."),
            ("已退出登录", "在此页面打开期间你已退出登录。请回到应用重新开始。"),
        ),
        Problem::Logout(LogoutProblem::BadHint) => (
            ("Sign-out refused", "The sign-out request came with a token this service did not issue."),
            ("无法退出登录", "退出请求携带的令牌不是本服务签发的。"),
        ),
        Problem::Logout(LogoutProblem::ClientMismatch) => (
            ("Sign-out refused", "The sign-out request names two different applications."),
            ("无法退出登录", "退出请求中指明了两个不同的应用。"),
        ),
        Problem::Logout(LogoutProblem::UnknownClient) => (
            ("Unknown application", "The application asking to sign you out is not registered."),
            ("未知的应用", "请求退出登录的应用没有注册。"),
        ),
        Problem::Logout(LogoutProblem::RedirectWithoutClient) => (
            ("Invalid redirect", "The sign-out request names a return address but no application."),
            ("无效的跳转地址", "退出请求指明了返回地址，但没有指明应用。"),
        ),
        Problem::Logout(LogoutProblem::UnregisteredRedirect) => (
            ("Invalid redirect", "The return address is not registered for this application."),
            ("无效的跳转地址", "这个返回地址（post_logout_redirect_uri）没有为该应用注册。"),
        ),
        Problem::ScanDeclined => (
            (
                "Not signed in",
                "Sign-in was declined in the mini program. Go back to the sign-in page for a new code, or sign in another way.",
            ),
            ("未登录", "已在小程序中取消登录。请返回登录页面刷新小程序码，或使用其他方式登录。"),
        ),
        Problem::Wechat(WechatProblem::Declined) => (
            ("Not signed in", "WeChat sign-in was not allowed. You can try again, or go back to the application."),
            ("未登录", "未授权微信登录。你可以重试，或返回应用。"),
        ),
        Problem::Wechat(WechatProblem::CodeRejected) => (
            ("Sign-in expired", "WeChat’s sign-in took too long or was already used. Sign in with WeChat again."),
            ("登录已过期", "微信登录已超时或已被使用。请重新使用微信登录。"),
        ),
        Problem::Wechat(WechatProblem::Snapshot) => (
            (
                "Open the full service first",
                "WeChat shows this page in preview mode. Tap “使用完整服务” (Use full service) at the bottom, then sign in again.",
            ),
            ("请先使用完整服务", "当前页面为微信快照预览。请点击页面底部的“使用完整服务”，然后重新登录。"),
        ),
        Problem::Wechat(WechatProblem::Unavailable) => (
            ("WeChat is not answering", "WeChat did not answer. Please try again in a moment."),
            ("微信暂时无法响应", "微信暂时没有响应，请稍后再试。"),
        ),
        Problem::Wechat(WechatProblem::Quota) => (
            (
                "Too many sign-ins",
                "Too many people are signing in with WeChat right now. Please try again in a minute.",
            ),
            ("登录人数过多", "当前使用微信登录的人数过多，请一分钟后再试。"),
        ),
        Problem::Wechat(WechatProblem::Misconfigured) => (
            (
                "WeChat sign-in unavailable",
                "WeChat did not accept this site’s sign-in. The site’s operator has been told; please use another way to sign in.",
            ),
            ("微信登录不可用", "微信未接受本站的登录请求，已通知网站管理员。请使用其他方式登录。"),
        ),
        Problem::MethodNotAllowed => {
            (("Method not allowed", "Use GET or POST."), ("不支持的请求方法", "请使用 GET 或 POST。"))
        }
        Problem::TooLarge => (("Request too large", "The request is too large."), ("请求过大", "请求的内容过大。")),
        Problem::Unavailable => {
            (("Temporarily unavailable", "Please try again in a moment."), ("暂时无法使用", "请稍后再试。"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_well_formed_page;
    use super::*;

    const XSS: &str = "<script>alert(1)</script>";

    fn render(locale: Locale, problem: Problem) -> String {
        ErrorPage::new(locale, &problem).render().expect("renders")
    }

    #[test]
    fn each_problem_has_a_page_in_each_language() {
        let problems = [
            Problem::Request(Unredirectable::Malformed("x".into())),
            Unredirectable::NoClient.into(),
            Unredirectable::UnknownClient.into(),
            Unredirectable::UnregisteredRedirect.into(),
            Unredirectable::NoRedirect.into(),
            Unredirectable::IncompleteForm.into(),
            Unredirectable::Expired.into(),
            Unredirectable::OtherBrowser.into(),
            Unredirectable::NoLongerRegistered.into(),
            Unredirectable::AlreadyAnswered.into(),
            Unredirectable::SessionEnded.into(),
            Problem::Logout(LogoutProblem::BadHint),
            Problem::Logout(LogoutProblem::ClientMismatch),
            Problem::Logout(LogoutProblem::UnknownClient),
            Problem::Logout(LogoutProblem::RedirectWithoutClient),
            Problem::Logout(LogoutProblem::UnregisteredRedirect),
            Problem::Wechat(WechatProblem::Declined),
            Problem::Wechat(WechatProblem::CodeRejected),
            Problem::Wechat(WechatProblem::Snapshot),
            Problem::Wechat(WechatProblem::Unavailable),
            Problem::Wechat(WechatProblem::Quota),
            Problem::Wechat(WechatProblem::Misconfigured),
            Problem::MethodNotAllowed,
            Problem::TooLarge,
            Problem::Unavailable,
        ];
        for problem in problems {
            let ((en_title, en_message), (zh_title, zh_message)) = words(&problem);
            let en = render(Locale::En, problem.clone());
            let zh = render(Locale::ZhCn, problem);
            assert_well_formed_page(&en, Locale::En);
            assert_well_formed_page(&zh, Locale::ZhCn);
            assert!(en.contains(&format!("<title>{en_title}</title>")) && en.contains(&format!("<h1>{en_title}</h1>")));
            assert!(zh.contains(&format!("<h1>{zh_title}</h1>")) && zh.contains(zh_message), "{zh}");
            assert!(en.contains(en_message));
            assert!(!zh.is_ascii(), "the Chinese page is in Chinese");
        }
    }

    #[test]
    fn a_wechat_problem_links_back_to_wechat_escaped() {
        let problem = Problem::Wechat(WechatProblem::CodeRejected);
        let html =
            ErrorPage::wechat(Locale::ZhCn, &problem, "https://open.example/a?b=1&c=\"x").render().expect("renders");
        assert!(
            html.contains("<a class=\"wechat\" href=\"https://open.example/a?b=1&#38;c=&#34;x\">重新使用微信登录</a>"),
            "{html}"
        );
        assert!(!render(Locale::En, problem).contains("<a "), "no link unless given");
    }

    #[test]
    fn the_detail_is_escaped() {
        let html = render(Locale::En, Unredirectable::Malformed(XSS.into()).into());
        assert!(!html.contains(XSS));
        assert!(!html.contains("<script"));
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{html}");
    }
}
