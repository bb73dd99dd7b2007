//! The page's language: zh-CN or en, chosen by the request's `ui_locales` (OpenID Connect Core
//! §3.1.2.1, the relying party's choice for its user), then the browser's `Accept-Language`
//! (RFC 9110 §12.5.4), else English.

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    /// Simplified Chinese: also what every other Chinese tag gets (a Traditional Chinese reader
    /// reads it more easily than English).
    ZhCn,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// Its BCP 47 tag, as `<html lang>` and the form's hidden `locale` field carry it.
    pub const fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// Its name in itself, for the language switch.
    pub const fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::ZhCn => "中文",
        }
    }

    /// The locale a language tag asks for (`zh`, `zh-Hans-CN`, `EN-us`, …), if we speak it.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("zh") {
            Some(Locale::ZhCn)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Locale::En)
        } else {
            None
        }
    }

    /// `ui_locales` (space-separated, most preferred first), then `Accept-Language`, else English.
    pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> Locale {
        ui_locales
            .and_then(|tags| tags.split(' ').find_map(Locale::from_tag))
            .or_else(|| accept_language.and_then(from_accept_language))
            .unwrap_or(Locale::En)
    }

    /// The locales the page offers to switch to.
    pub fn others(self) -> Vec<Locale> {
        Locale::ALL.into_iter().filter(|l| *l != self).collect()
    }
}

/// The highest-weighted language of an `Accept-Language` header that we speak; `q=0` means
/// "not this one", and equal weights keep the header's order.
fn from_accept_language(header: &str) -> Option<Locale> {
    let mut ranges: Vec<(u16, Locale)> = header
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let locale = Locale::from_tag(parts.next()?)?;
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| q.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16))?;
            (weight > 0).then_some((weight, locale))
        })
        .collect();
    ranges.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight)); // stable: equal weights keep their order
    ranges.first().map(|(_, locale)| *locale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_comes_first_and_its_first_known_tag_wins() {
        assert_eq!(Locale::negotiate(Some("zh-CN"), Some("en")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some("fr-CA en zh"), Some("zh-CN")), Locale::En);
        assert_eq!(Locale::negotiate(Some("fr de"), Some("zh-CN,zh;q=0.9")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(Some(""), None), Locale::En);
    }

    #[test]
    fn accept_language_is_read_by_weight() {
        assert_eq!(Locale::negotiate(None, Some("zh-CN,zh;q=0.9,en;q=0.8")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(None, Some("en-US,en;q=0.9,zh-CN;q=0.8")), Locale::En);
        assert_eq!(Locale::negotiate(None, Some("fr;q=1, en;q=0.2, zh-TW;q=0.5")), Locale::ZhCn);
        assert_eq!(Locale::negotiate(None, Some("zh;q=0, en;q=0.1")), Locale::En);
        assert_eq!(Locale::negotiate(None, Some("zh-Hant-HK")), Locale::ZhCn);
    }

    #[test]
    fn anything_else_is_english() {
        for header in ["", "*", "fr-FR", "zh;q=0", "zh;q=abc", ";;;,,,", "zh-CN;q=0.000"] {
            assert_eq!(Locale::negotiate(None, Some(header)), Locale::En, "{header:?}");
        }
        assert_eq!(Locale::negotiate(None, None), Locale::En);
    }

    #[test]
    fn a_tag_round_trips_and_others_offers_the_rest() {
        for locale in Locale::ALL {
            assert_eq!(Locale::from_tag(locale.tag()), Some(locale));
            assert_eq!(locale.others().len(), Locale::ALL.len() - 1);
            assert!(!locale.others().contains(&locale));
        }
        assert_eq!(Locale::from_tag("EN_gb"), Some(Locale::En));
        assert_eq!(Locale::from_tag("english"), None);
    }
}
