//! Names derived from a service's name that must stay within Kubernetes' 63-character limit
//! for label values and DNS labels (a rollout's name is a label value on its pods; a Job's name
//! becomes the `job-name` label of its pods). A derived name that fits is kept as written, so
//! every existing object keeps its name; one that would not fit is cut and made unique again by
//! a short hash of what was cut.

use sha2::{Digest, Sha256};

/// The longest label value or DNS label Kubernetes accepts.
pub const MAX_LABEL: usize = 63;

/// `base` followed by `suffix`, within [`MAX_LABEL`] characters.
/// At most `max` characters of `text`, cut at a character boundary, with `…` when cut.
pub fn truncated(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

pub fn bounded(base: &str, suffix: &str) -> String {
    if base.len() + suffix.len() <= MAX_LABEL {
        return format!("{base}{suffix}");
    }
    let digest = Sha256::digest(format!("{base}{suffix}").as_bytes());
    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    // Room for the kept part of the base, a '-', the hash and the suffix.
    let keep = MAX_LABEL.saturating_sub(suffix.len() + 1 + short.len());
    let kept = base
        .get(..keep.min(base.len()))
        .unwrap_or_default()
        .trim_end_matches(['-', '.']);
    format!("{kept}-{short}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_fits_is_kept_as_written() {
        assert_eq!(
            bounded("web-g3-abcdef12", "-build"),
            "web-g3-abcdef12-build"
        );
    }

    #[test]
    fn a_long_name_is_cut_to_a_label_and_stays_unique() {
        let base = "a".repeat(56);
        let one = bounded(&format!("{base}-g1-abcdef12"), "-wrangler");
        let two = bounded(&format!("{base}-g2-abcdef12"), "-wrangler");
        assert!(one.len() <= MAX_LABEL, "{one}");
        assert!(one.ends_with("-wrangler"));
        assert_ne!(one, two);
        assert_eq!(
            one,
            bounded(&format!("{base}-g1-abcdef12"), "-wrangler"),
            "deterministic"
        );
        let valid = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-')
                && !s.ends_with('-')
        };
        assert!(valid(&one), "{one}");
    }
}
