//! The pages of `/oauth/end_session`: the confirmation a logout without a valid hint asks for
//! (a POST form with a CSRF token and what the request carried), and "signed out".

use askama::Template;

use super::locale::Locale;
use super::text::Text;

#[derive(Template)]
#[template(path = "end_session.html")]
pub struct ConfirmLogoutPage<'a> {
    text: &'static Text,
    action: &'a str,
    csrf_token: &'a str,
    /// The client that asked, by name.
    client_name: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

/// What the confirmation carries to its POST.
pub struct ConfirmLogout<'a> {
    pub action: &'a str,
    pub csrf_token: &'a str,
    pub client_name: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

impl<'a> ConfirmLogoutPage<'a> {
    pub fn new(locale: Locale, form: &ConfirmLogout<'a>) -> Self {
        ConfirmLogoutPage {
            text: Text::of(locale),
            action: form.action,
            csrf_token: form.csrf_token,
            client_name: form.client_name,
            client_id: form.client_id,
            post_logout_redirect_uri: form.post_logout_redirect_uri,
            state: form.state,
        }
    }
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage {
    text: &'static Text,
}

impl SignedOutPage {
    pub fn new(locale: Locale) -> Self {
        SignedOutPage { text: Text::of(locale) }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_well_formed_page;
    use super::*;

    #[test]
    fn the_confirmation_carries_the_request_escaped_in_a_post_form() {
        let attr = "\"onmouseover=alert(1) x='";
        for locale in Locale::ALL {
            let form = ConfirmLogout {
                action: "/oauth/end_session",
                csrf_token: "csrf-1",
                client_name: Some("<b>App</b>"),
                client_id: Some("web"),
                post_logout_redirect_uri: Some(attr),
                state: Some("s&t"),
            };
            let html = ConfirmLogoutPage::new(locale, &form).render().expect("renders");
            assert_well_formed_page(&html, locale);
            assert!(html.contains("<form method=\"post\" action=\"/oauth/end_session\">"));
            assert!(html.contains("name=\"csrf_token\" value=\"csrf-1\""));
            assert!(html.contains("<strong>&#60;b&#62;App&#60;/b&#62;</strong>"), "{html}");
            assert!(html.contains("name=\"post_logout_redirect_uri\" value=\"&#34;onmouseover=alert(1) x=&#39;\""));
            assert!(html.contains("name=\"state\" value=\"s&#38;t\""));
            assert!(html.contains(Text::of(locale).sign_out_question));
        }
    }

    #[test]
    fn signed_out_speaks_each_language() {
        for locale in Locale::ALL {
            let html = SignedOutPage::new(locale).render().expect("renders");
            assert_well_formed_page(&html, locale);
            assert!(html.contains(Text::of(locale).signed_out_message));
        }
    }
}
