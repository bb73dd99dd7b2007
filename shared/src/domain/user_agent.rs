//! A browser as a person recognises it ("Chrome on Windows"), read from its User-Agent: shown to
//! the person asked to approve a sign-in elsewhere, so that they can tell whether the screen that
//! asks is theirs. A description only: the User-Agent is the browser's word and grants nothing.

/// The browser's name, for the browsers people in China and elsewhere use on computers. The
/// order matters: most browsers also name the engines they resemble (Edge says Chrome and
/// Safari, Chrome says Safari).
pub fn browser_name(user_agent: &str) -> Option<&'static str> {
    const NAMES: [(&[&str], &str); 12] = [
        // WeCom also says MicroMessenger.
        (&["wxwork"], "WeCom"),
        (&["MicroMessenger", "WindowsWechat", "MacWechat"], "WeChat"),
        (&["Edg/", "EdgA/", "EdgiOS/", "Edge/"], "Edge"),
        (&["OPR/", "Opera"], "Opera"),
        (&["QQBrowser"], "QQ Browser"),
        (&["MetaSr"], "Sogou Explorer"),
        (&["360SE", "360EE", "QIHU"], "360 Browser"),
        (&["UCBrowser"], "UC Browser"),
        (&["SamsungBrowser"], "Samsung Internet"),
        (&["Firefox/", "FxiOS/"], "Firefox"),
        (&["Chrome/", "CriOS/", "Chromium/"], "Chrome"),
        (&["Version/"], "Safari"),
    ];
    let known = NAMES.iter().find(|(marks, _)| marks.iter().any(|m| user_agent.contains(m)));
    match known {
        // Every WebKit browser says Version/; only Safari says Safari/ with it.
        Some((_, "Safari")) if !user_agent.contains("Safari/") => None,
        Some((_, name)) => Some(name),
        None => None,
    }
}

/// The operating system's name. iOS says "like Mac OS X", Android says Linux, and every X11
/// system says X11: the specific ones first.
pub fn os_name(user_agent: &str) -> Option<&'static str> {
    const NAMES: [(&[&str], &str); 8] = [
        (&["OpenHarmony", "HarmonyOS"], "HarmonyOS"),
        (&["iPhone", "iPad", "iPod"], "iOS"),
        (&["Android"], "Android"),
        (&["Windows"], "Windows"),
        (&["CrOS"], "ChromeOS"),
        (&["Macintosh", "Mac OS X"], "macOS"),
        (&["FreeBSD"], "FreeBSD"),
        (&["Linux", "X11"], "Linux"),
    ];
    NAMES.iter().find(|(marks, _)| marks.iter().any(|m| user_agent.contains(m))).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_browsers_are_named_with_their_systems() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                Some("Edge"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                Some("Safari"),
                Some("macOS"),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some("Firefox"),
                Some("Linux"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.25 Safari/537.36 Core/1.70.3880.400 QQBrowser/10.8.4557.400",
                Some("QQ Browser"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                Some("Chrome"),
                Some("ChromeOS"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x1800322c) NetType/WIFI Language/zh_CN",
                Some("WeChat"),
                Some("iOS"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                Some("Chrome"),
                Some("Android"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some("Firefox"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some("Firefox"),
                Some("macOS"),
            ),
            (
                "Mozilla/5.0 (X11; FreeBSD amd64; rv:133.0) Gecko/20100101 Firefox/133.0",
                Some("Firefox"),
                Some("FreeBSD"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                Some("Safari"),
                Some("iOS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36 SE 2.X MetaSr 1.0",
                Some("Sogou Explorer"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Safari/537.36 QIHU 360SE",
                Some("360 Browser"),
                Some("Windows"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 Safari/537.36 wxwork/4.1.30 MicroMessenger/7.0.1",
                Some("WeCom"),
                Some("Windows"),
            ),
        ];
        for (ua, browser, os) in cases {
            assert_eq!((browser_name(ua), os_name(ua)), (browser, os), "{ua}");
        }
    }

    #[test]
    fn what_is_not_recognised_is_not_named() {
        for ua in ["", "curl/8.5.0", "Mozilla/5.0 AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1"] {
            assert_eq!(browser_name(ua), None, "{ua}");
        }
        assert_eq!(os_name("curl/8.5.0"), None);
    }
}
