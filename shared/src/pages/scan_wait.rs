//! The page a browser waits on after following the sign-in page's "continue" link before the
//! mini program answered (the no-JavaScript path of scan sign-in): it looks again every two
//! seconds by itself (`<meta http-equiv="refresh">`, which the CSP allows), until the answer
//! sends it on.

use askama::Template;

use super::locale::Locale;
use super::text::Text;

#[derive(Template)]
#[template(path = "scan_wait.html")]
pub struct ScanWaitPage {
    text: &'static Text,
    /// Scanned already: the phone shows the confirmation.
    scanned: bool,
}

impl ScanWaitPage {
    pub fn new(locale: Locale, scanned: bool) -> Self {
        ScanWaitPage { text: Text::of(locale), scanned }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::tests::assert_well_formed_page;
    use super::*;

    #[test]
    fn the_page_refreshes_itself_and_says_what_it_waits_for() {
        for locale in Locale::ALL {
            let html = ScanWaitPage::new(locale, false).render().unwrap();
            assert_well_formed_page(&html, locale);
            assert!(html.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
            assert!(html.contains(Text::of(locale).scan_waiting));
            let scanned = ScanWaitPage::new(locale, true).render().unwrap();
            assert!(scanned.contains(Text::of(locale).scan_scanned));
        }
    }
}
