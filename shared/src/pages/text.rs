//! Every word the pages show, in each [`Locale`]. One struct per language, checked by the
//! compiler: a string added for one language and forgotten in the other does not build.

use super::locale::Locale;

/// The words of the sign-in page and the page chrome.
pub struct Text {
    /// `<html lang>`.
    pub lang: &'static str,
    pub sign_in: &'static str,
    /// After the client's name: "<name> wants to sign you in".
    pub wants_to_sign_you_in: &'static str,
    pub client_id: &'static str,
    pub it_asks_for: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub approve: &'static str,
    /// The consent page's button, for a user signed in already.
    pub allow: &'static str,
    /// Before the signed-in user's name on the consent page.
    pub signed_in_as: &'static str,
    pub deny: &'static str,
    pub wrong_password: &'static str,
    /// The logout confirmation: its title and button, its question, who asked, how to stay.
    pub sign_out: &'static str,
    pub sign_out_question: &'static str,
    pub sign_out_asked_by: &'static str,
    pub sign_out_stay: &'static str,
    /// The page after a logout.
    pub signed_out: &'static str,
    pub signed_out_message: &'static str,
    /// The sign-in page's WeChat offers: the QR link, the hint for other phone browsers, and
    /// the link back to WeChat on a WeChat error page.
    pub sign_in_with_wechat: &'static str,
    pub open_in_wechat: &'static str,
    pub try_wechat_again: &'static str,
    /// How the consent page names a WeChat user whose nickname WeChat did not give.
    pub wechat_user: &'static str,
    /// The sign-in page's mini-program code: its heading, the image's text, what to do, each
    /// state the polling shows, the fallback link, the button for a new code, and why there is
    /// no code; the page that waits for the phone's answer.
    pub scan_heading: &'static str,
    pub scan_image_alt: &'static str,
    pub scan_hint: &'static str,
    pub scan_scanned: &'static str,
    pub scan_denied: &'static str,
    pub scan_expired: &'static str,
    pub scan_continue: &'static str,
    pub scan_new_code: &'static str,
    pub scan_not_published: &'static str,
    pub scan_quota: &'static str,
    pub scan_failed: &'static str,
    pub scan_waiting: &'static str,
    /// The device verification page (`/device`, RFC 8628): its title, what to do, the field, the
    /// button, the error for a code no device waits for; the pages after an answer.
    pub device_title: &'static str,
    pub device_hint: &'static str,
    pub device_user_code: &'static str,
    pub device_continue: &'static str,
    pub device_unknown_code: &'static str,
    pub device_approved_title: &'static str,
    pub device_approved: &'static str,
    pub device_denied_title: &'static str,
    pub device_denied: &'static str,
}

const EN: Text = Text {
    lang: "en",
    sign_in: "Sign in",
    wants_to_sign_you_in: "wants to sign you in",
    client_id: "Client ID",
    it_asks_for: "It asks for:",
    username: "Username",
    password: "Password",
    approve: "Sign in and allow",
    allow: "Allow",
    signed_in_as: "Signed in as",
    deny: "Deny",
    wrong_password: "Wrong username or password.",
    sign_out: "Sign out",
    sign_out_question: "Sign out of your account?",
    sign_out_asked_by: "Asked by",
    sign_out_stay: "To stay signed in, close this page.",
    signed_out: "Signed out",
    signed_out_message: "You are signed out. You can close this page.",
    sign_in_with_wechat: "Sign in with WeChat",
    open_in_wechat: "To sign in with WeChat, open this page in WeChat.",
    try_wechat_again: "Sign in with WeChat again",
    wechat_user: "WeChat user",
    scan_heading: "Or scan with WeChat",
    scan_image_alt: "Mini program code: scan it with WeChat",
    scan_hint: "Scan this code with WeChat, then confirm in the mini program.",
    scan_scanned: "Scanned. Confirm in the mini program on your phone.",
    scan_denied: "Sign-in was declined in the mini program.",
    scan_expired: "This code has expired.",
    scan_continue: "Confirmed on your phone? Continue",
    scan_new_code: "New code",
    scan_not_published: "Scanning is not available yet: the mini program's sign-in page is not published.",
    scan_quota: "WeChat is making too many codes for this mini program just now: try a new code in a minute, or sign in another way.",
    scan_failed: "The code could not be made just now. Try a new code, or sign in another way.",
    scan_waiting: "Waiting for your confirmation in the mini program…",
    device_title: "Connect a device",
    device_hint: "Enter the code your TV, console or app shows.",
    device_user_code: "Code",
    device_continue: "Continue",
    device_unknown_code: "No device is waiting for this code: it is mistyped, expired or used. Check the code on your device.",
    device_approved_title: "Device connected",
    device_approved: "You allowed the device. Return to it: it signs in by itself. You can close this page.",
    device_denied_title: "Request denied",
    device_denied: "You denied the device's request: it stays signed out. You can close this page.",
};

const ZH_CN: Text = Text {
    lang: "zh-CN",
    sign_in: "登录",
    wants_to_sign_you_in: "请求使用你的账号登录",
    client_id: "应用 ID",
    it_asks_for: "它将获得：",
    username: "用户名",
    password: "密码",
    approve: "登录并授权",
    allow: "授权",
    signed_in_as: "当前登录账号：",
    deny: "拒绝",
    wrong_password: "用户名或密码错误。",
    sign_out: "退出登录",
    sign_out_question: "要退出你的账号吗？",
    sign_out_asked_by: "发起方：",
    sign_out_stay: "如需保持登录，请关闭此页面。",
    signed_out: "已退出登录",
    signed_out_message: "你已退出登录，可以关闭此页面。",
    sign_in_with_wechat: "使用微信登录",
    open_in_wechat: "如需使用微信登录，请在微信中打开此页面。",
    try_wechat_again: "重新使用微信登录",
    wechat_user: "微信用户",
    scan_heading: "或使用微信扫码登录",
    scan_image_alt: "小程序码：请用微信扫描",
    scan_hint: "请用微信扫描小程序码，并在小程序中确认。",
    scan_scanned: "已扫码，请在手机上的小程序中确认。",
    scan_denied: "已在小程序中取消登录。",
    scan_expired: "小程序码已过期。",
    scan_continue: "已在手机上确认？继续",
    scan_new_code: "刷新小程序码",
    scan_not_published: "暂时无法扫码登录：小程序的登录确认页尚未发布。",
    scan_quota: "小程序码生成过于频繁，请一分钟后刷新小程序码，或使用其他方式登录。",
    scan_failed: "暂时无法生成小程序码。请刷新重试，或使用其他方式登录。",
    scan_waiting: "正在等待你在小程序中确认……",
    device_title: "连接设备",
    device_hint: "请输入电视、游戏机或应用上显示的代码。",
    device_user_code: "代码",
    device_continue: "继续",
    device_unknown_code: "没有设备在等待这个代码：可能输入有误、已过期或已被使用。请核对设备上显示的代码。",
    device_approved_title: "设备已连接",
    device_approved: "你已授权该设备。请返回设备，它会自动登录。现在可以关闭此页面。",
    device_denied_title: "已拒绝",
    device_denied: "你已拒绝该设备的请求，设备不会登录。现在可以关闭此页面。",
};

impl Text {
    pub fn of(locale: Locale) -> &'static Text {
        match locale {
            Locale::En => &EN,
            Locale::ZhCn => &ZH_CN,
        }
    }
}

/// What a scope gives the client, in words the user understands; `None` for a scope we do not
/// know (a client's own), which the page shows by its name.
pub fn scope_description(locale: Locale, scope: &str) -> Option<&'static str> {
    let (en, zh) = match scope {
        "openid" => ("Your account ID, to know it is you", "你的账号标识，用于确认是你本人"),
        "profile" => ("Your basic profile (username, nickname, avatar)", "你的基本资料（用户名、昵称、头像）"),
        "phone" => ("Your phone number", "你的手机号"),
        "offline_access" => ("Access while you are away", "在你离开后继续访问"),
        _ => return None,
    };
    Some(match locale {
        Locale::En => en,
        Locale::ZhCn => zh,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_locale_has_its_own_words() {
        for locale in Locale::ALL {
            assert_eq!(Text::of(locale).lang, locale.tag());
        }
        assert_ne!(Text::of(Locale::En).approve, Text::of(Locale::ZhCn).approve);
    }

    #[test]
    fn known_scopes_are_described_in_both_languages() {
        assert_eq!(scope_description(Locale::ZhCn, "phone"), Some("你的手机号"));
        assert_eq!(scope_description(Locale::En, "phone"), Some("Your phone number"));
        for scope in ["openid", "profile", "phone", "offline_access"] {
            let (en, zh) = (scope_description(Locale::En, scope), scope_description(Locale::ZhCn, scope));
            assert!(en.is_some() && zh.is_some() && en != zh, "{scope}");
        }
        assert_eq!(scope_description(Locale::En, "orders:read"), None);
    }
}
