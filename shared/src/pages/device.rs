//! The device verification page, `/device` (RFC 8628 §3.3): a POST form for the user code the
//! device shows (pre-filled from `?user_code=`, the hidden `csrf_token` and `locale`, buttons
//! named `switch_locale` for the other languages), the same form again when no device waits for
//! the code, and the pages after the user's answer (`?result=approved|denied`), which say to go
//! back to the device. A valid code continues on the sign-in or consent page.

use askama::Template;

use super::locale::Locale;
use super::text::Text;

/// What the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStep<'a> {
    /// The form: its CSRF token, the code as typed (or from the query), and whether the code was
    /// just refused.
    Enter { csrf_token: &'a str, user_code: Option<&'a str>, unknown_code: bool },
    /// The user allowed the device.
    Approved,
    /// The user denied it.
    Denied,
}

#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage<'a> {
    text: &'static Text,
    other_locales: Vec<Locale>,
    title: &'static str,
    /// The form's action URL path: `/device`.
    action: &'a str,
    /// The form's CSRF token: the form is shown only with one.
    csrf_token: Option<&'a str>,
    user_code: Option<&'a str>,
    /// Shown above the form.
    error: Option<&'static str>,
    /// The page after an answer: what happened, and what now.
    message: Option<&'static str>,
}

impl<'a> DevicePage<'a> {
    pub fn new(locale: Locale, action: &'a str, step: DeviceStep<'a>) -> Self {
        let text = Text::of(locale);
        let page = DevicePage {
            text,
            other_locales: locale.others(),
            title: text.device_title,
            action,
            csrf_token: None,
            user_code: None,
            error: None,
            message: None,
        };
        match step {
            DeviceStep::Enter { csrf_token, user_code, unknown_code } => DevicePage {
                csrf_token: Some(csrf_token),
                user_code: user_code.filter(|c| !c.is_empty()),
                error: unknown_code.then_some(text.device_unknown_code),
                ..page
            },
            DeviceStep::Approved => {
                DevicePage { title: text.device_approved_title, message: Some(text.device_approved), ..page }
            }
            DeviceStep::Denied => {
                DevicePage { title: text.device_denied_title, message: Some(text.device_denied), ..page }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::assert_well_formed_page;
    use super::*;

    const ATTR: &str = "\"onmouseover=alert(1) x='";

    fn enter(locale: Locale, user_code: Option<&str>, unknown_code: bool) -> String {
        let step = DeviceStep::Enter { csrf_token: "csrf-1", user_code, unknown_code };
        DevicePage::new(locale, "/device", step).render().unwrap()
    }

    #[test]
    fn the_form_posts_the_code_with_its_csrf_token_and_language_in_both_languages() {
        for locale in Locale::ALL {
            let text = Text::of(locale);
            let html = enter(locale, None, false);
            assert_well_formed_page(&html, locale);
            assert!(html.contains(&format!("<h1>{}</h1>", text.device_title)));
            assert!(html.contains("<form method=\"post\" action=\"/device\">"));
            assert!(html.contains("<input type=\"hidden\" name=\"csrf_token\" value=\"csrf-1\">"));
            assert!(html.contains(&format!("<input type=\"hidden\" name=\"locale\" value=\"{}\">", locale.tag())));
            assert!(html.contains("name=\"user_code\" type=\"text\""));
            assert!(html.contains("required autofocus>"), "empty, focused");
            let continue_at = html.find(&format!(">{}</button>", text.device_continue)).unwrap();
            assert!(continue_at < html.find("name=\"switch_locale\"").unwrap(), "Enter submits the code");
            assert!(!html.contains("role=\"alert\""));
        }
    }

    #[test]
    fn the_code_from_the_query_is_prefilled_escaped() {
        let html = enter(Locale::En, Some("BCDF-GHJK"), false);
        assert!(html.contains("required autofocus value=\"BCDF-GHJK\">"), "{html}");
        let html = enter(Locale::En, Some(ATTR), false);
        assert!(html.contains("value=\"&#34;onmouseover=alert(1) x=&#39;\">"), "{html}");
        assert!(!html.contains("\"onmouseover="));
    }

    #[test]
    fn a_refused_code_shows_the_form_again_saying_why() {
        for locale in Locale::ALL {
            let html = enter(locale, Some("BCDF-GHJK"), true);
            let error = Text::of(locale).device_unknown_code.replace('\'', "&#39;");
            assert!(html.contains(&format!("<p class=\"error\" role=\"alert\">{error}</p>")), "{html}");
            assert!(html.find("role=\"alert\"").unwrap() < html.find("<form").unwrap());
        }
    }

    #[test]
    fn the_pages_after_an_answer_send_the_user_back_to_the_device_in_both_languages() {
        for locale in Locale::ALL {
            let text = Text::of(locale);
            for (step, title, message) in [
                (DeviceStep::Approved, text.device_approved_title, text.device_approved),
                (DeviceStep::Denied, text.device_denied_title, text.device_denied),
            ] {
                let html = DevicePage::new(locale, "/device", step).render().unwrap();
                assert_well_formed_page(&html, locale);
                assert!(html.contains(&format!("<h1>{title}</h1>")));
                assert!(html.contains(&format!("<p role=\"status\">{}</p>", message.replace('\'', "&#39;"))), "{html}");
                assert!(!html.contains("<form"), "nothing to submit");
            }
        }
        assert_ne!(Text::of(Locale::En).device_approved, Text::of(Locale::ZhCn).device_approved);
    }
}
