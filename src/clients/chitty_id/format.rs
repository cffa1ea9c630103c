//! The ChittyID format, version `03`: `VV-G-LLL-SSSS-T-YYMM-C-XX`.
//!
//! Pure string logic, no I/O. The operator only *validates* IDs here: minting belongs to the
//! authority. [`Components::mint`] exists for the authority's stand-in (chitty-sim) and for fakes.
//!
//! Check digits (mod 97, as the authority computes them): join the first seven segments without
//! dashes; `c = 0`; a digit `d` gives `c = (c*10 + d) % 97`, a letter gives
//! `c = (c*100 + (ascii - 55)) % 97`; check = `(98 - c) % 97`, written with two digits.

use std::fmt;
use std::str::FromStr;

/// What kind of entity an ID names. Services are [`EntityType::Thing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityType {
    Person,
    Location,
    Thing,
    Event,
    Authority,
}

impl EntityType {
    pub const ALL: [EntityType; 5] = [
        Self::Person,
        Self::Location,
        Self::Thing,
        Self::Event,
        Self::Authority,
    ];

    pub fn letter(self) -> char {
        match self {
            Self::Person => 'P',
            Self::Location => 'L',
            Self::Thing => 'T',
            Self::Event => 'E',
            Self::Authority => 'A',
        }
    }

    pub fn from_letter(c: char) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.letter() == c)
    }
}

impl serde::Serialize for EntityType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.letter())
    }
}

impl<'de> serde::Deserialize<'de> for EntityType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Self::from_letter(c),
            _ => None,
        }
        .ok_or_else(|| serde::de::Error::custom("entity type must be one of P, L, T, E, A"))
    }
}

/// The old formats from the design seeds. They are rejected as service identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyFormat {
    /// `CT-A-CHI-1234-I-24-A-0`
    CtPrefixed,
    /// `01-A-CHI-1234-I-2409-5-0` (letter region, one check digit)
    VersionOne,
    /// `CHITTY-SERVICE-<name>-<suffix>`
    ServiceName,
}

impl fmt::Display for LegacyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CtPrefixed => "CT-prefixed",
            Self::VersionOne => "version 01",
            Self::ServiceName => "CHITTY-SERVICE name",
        })
    }
}

/// Why a string is not a valid ChittyID. Each case is distinct so the operator can say why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("legacy ChittyID format ({0}) is not accepted as a service identity")]
    Legacy(LegacyFormat),
    /// An error/fallback ID (region `0` or jurisdiction `ERR`): the authority could not mint.
    /// `code` is the sequence segment (0001 unavailable, 0002 timeout, ...).
    #[error("error/fallback ChittyID (code {code:04}) is not an identity")]
    ErrorId { code: u16 },
    #[error("malformed ChittyID: {0}")]
    Malformed(&'static str),
    #[error("ChittyID check digits {found:02} do not match the expected {expected:02}")]
    CheckDigits { expected: u8, found: u8 },
}

/// The authority's name for an error-ID code, as sent in `errorCode`.
pub fn error_code_name(code: u16) -> &'static str {
    match code {
        1 => "MINT_UNAVAILABLE",
        2 => "TIMEOUT",
        3 => "REJECTED",
        7 => "RATE_LIMITED",
        8 => "INVALID_REQUEST",
        99 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

/// The seven segments an ID's check digits are computed over.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Components {
    pub version: u8,
    pub region: u8,
    pub jurisdiction: String,
    pub sequence: u16,
    pub entity_type: EntityType,
    /// Two-digit year (`26` for 2026).
    pub year: u8,
    pub month: u8,
    pub trust: u8,
}

impl Components {
    /// The first seven segments, dash-joined: `03-1-USA-0955-T-2605-1`.
    pub fn body(&self) -> String {
        format!(
            "{:02}-{}-{}-{:04}-{}-{:02}{:02}-{}",
            self.version,
            self.region,
            self.jurisdiction,
            self.sequence,
            self.entity_type.letter(),
            self.year,
            self.month,
            self.trust
        )
    }

    /// Builds the full ID with its check digits. Only the authority (or its stand-in) mints;
    /// the operator never calls this for a real service.
    pub fn mint(self) -> Result<ChittyId, FormatError> {
        let s = format!("{}-00", self.body());
        // Re-parse the body so a minted ID obeys exactly the rules that validation enforces
        // (including: never an error ID; those come from [`fallback_id`]).
        let parsed = parse_segments(&s, true)?;
        let check = check_digits(&parsed.body())?;
        Ok(ChittyId {
            components: parsed,
            check,
        })
    }
}

/// The error ID an authority hands out when it cannot mint (`03-0-ERR-<code>-T-YYMM-0-XX`).
/// Only the stand-in uses this, to imitate the real authority's fallback answers.
pub fn fallback_id(code: u16, entity_type: EntityType, year: u8, month: u8) -> String {
    let body = format!(
        "03-0-ERR-{:04}-{}-{:02}{:02}-0",
        code.min(9999),
        entity_type.letter(),
        year % 100,
        month
    );
    let check = check_digits(&body).unwrap_or(0);
    format!("{body}-{check:02}")
}

/// A validated ChittyID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChittyId {
    components: Components,
    check: u8,
}

impl ChittyId {
    /// Parses and validates: shape, segment patterns, not legacy, not an error ID, check digits.
    pub fn parse(s: &str) -> Result<Self, FormatError> {
        let components = parse_segments(s, true)?;
        let found = s[s.len() - 2..]
            .parse::<u8>()
            .map_err(|_| FormatError::Malformed("check digits must be two digits"))?;
        let expected = check_digits(&components.body())?;
        if found != expected {
            return Err(FormatError::CheckDigits { expected, found });
        }
        Ok(Self {
            components,
            check: found,
        })
    }

    pub fn components(&self) -> &Components {
        &self.components
    }

    pub fn entity_type(&self) -> EntityType {
        self.components.entity_type
    }

    pub fn sequence(&self) -> u16 {
        self.components.sequence
    }

    pub fn check(&self) -> u8 {
        self.check
    }
}

impl fmt::Display for ChittyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.components.body(), self.check)
    }
}

impl FromStr for ChittyId {
    type Err = FormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for ChittyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ChittyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Validates a string as a ChittyID (same as [`ChittyId::parse`]).
pub fn validate(s: &str) -> Result<ChittyId, FormatError> {
    ChittyId::parse(s)
}

/// The two check digits for a body (dashes ignored): digits and uppercase letters only.
pub fn check_digits(body: &str) -> Result<u8, FormatError> {
    let mut c: u32 = 0;
    for ch in body.chars().filter(|&ch| ch != '-') {
        c = match ch {
            '0'..='9' => (c * 10 + (ch as u32 - '0' as u32)) % 97,
            'A'..='Z' => (c * 100 + (ch as u32 - 55)) % 97,
            _ => return Err(FormatError::Malformed("only digits and A-Z may appear")),
        };
    }
    Ok(((98 - c) % 97) as u8)
}

fn all_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits and checks every segment; `with_error_ids` makes region `0` / `ERR` an error ID.
fn parse_segments(s: &str, with_error_ids: bool) -> Result<Components, FormatError> {
    if s.is_empty() {
        return Err(FormatError::Malformed("empty"));
    }
    if s.to_ascii_uppercase().starts_with("CHITTY-") {
        return Err(FormatError::Legacy(LegacyFormat::ServiceName));
    }
    let seg: Vec<&str> = s.split('-').collect();
    if seg[0] == "CT" {
        return Err(FormatError::Legacy(LegacyFormat::CtPrefixed));
    }
    if seg.len() != 8 {
        return Err(FormatError::Malformed("expected 8 dash-separated segments"));
    }
    let letter_region = seg[1].len() == 1 && seg[1].bytes().all(|b| b.is_ascii_uppercase());
    if seg[0] == "01" || letter_region {
        return Err(FormatError::Legacy(LegacyFormat::VersionOne));
    }
    // Error IDs are recognised before the finer checks: whatever else they contain, they are
    // never an identity, and the caller must learn "authority failed", not "malformed".
    if with_error_ids && (seg[1] == "0" || seg[2] == "ERR") {
        let code = seg[3].parse::<u16>().unwrap_or(0);
        return Err(FormatError::ErrorId { code });
    }
    if !all_digits(seg[0], 2) {
        return Err(FormatError::Malformed("version must be two digits"));
    }
    if !(all_digits(seg[1], 1) && seg[1] != "0") {
        return Err(FormatError::Malformed("region must be one digit 1-9"));
    }
    if !(seg[2].len() == 3 && seg[2].bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(FormatError::Malformed(
            "jurisdiction must be three letters A-Z",
        ));
    }
    if !all_digits(seg[3], 4) {
        return Err(FormatError::Malformed("sequence must be four digits"));
    }
    let mut t = seg[4].chars();
    let entity_type = match (t.next(), t.next()) {
        (Some(c), None) => EntityType::from_letter(c),
        _ => None,
    }
    .ok_or(FormatError::Malformed(
        "entity type must be one of P, L, T, E, A",
    ))?;
    if !all_digits(seg[5], 4) {
        return Err(FormatError::Malformed("year-month must be four digits"));
    }
    let month: u8 = seg[5][2..].parse().unwrap_or(0);
    if !(1..=12).contains(&month) {
        return Err(FormatError::Malformed("month must be 01-12"));
    }
    if !(all_digits(seg[6], 1) && seg[6] <= "5") {
        return Err(FormatError::Malformed("trust level must be 0-5"));
    }
    if !all_digits(seg[7], 2) {
        return Err(FormatError::Malformed("check digits must be two digits"));
    }
    Ok(Components {
        version: seg[0].parse().unwrap_or(0),
        region: seg[1].parse().unwrap_or(0),
        jurisdiction: seg[2].to_owned(),
        sequence: seg[3].parse().unwrap_or(0),
        entity_type,
        year: seg[5][..2].parse().unwrap_or(0),
        month,
        trust: seg[6].parse().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REAL_IDS: [&str; 5] = [
        "03-1-USA-0955-T-2605-1-37",
        "03-1-USA-0735-T-2605-1-73",
        "03-1-USA-9636-T-2605-1-75",
        "03-1-USA-6434-T-2605-1-54",
        "03-1-USA-5537-P-2602-0-38",
    ];

    #[test]
    fn real_authority_ids_validate() {
        for s in REAL_IDS {
            let id = validate(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.to_string(), s, "round trip");
        }
        let id = validate(REAL_IDS[0]).unwrap();
        assert_eq!(id.entity_type(), EntityType::Thing);
        assert_eq!(id.sequence(), 955);
        assert_eq!(id.components().jurisdiction, "USA");
        assert_eq!(id.check(), 37);
    }

    #[test]
    fn check_digits_match_the_authority() {
        assert_eq!(check_digits("03-1-USA-0955-T-2605-1").unwrap(), 37);
        assert_eq!(check_digits("031USA5537P26020").unwrap(), 38);
    }

    #[test]
    fn wrong_check_digits_are_rejected() {
        assert_eq!(
            validate("03-1-USA-0955-T-2605-1-38"),
            Err(FormatError::CheckDigits {
                expected: 37,
                found: 38
            })
        );
    }

    #[test]
    fn error_ids_are_recognised_as_fallbacks() {
        assert_eq!(
            validate("03-0-ERR-0001-T-2605-0-92"),
            Err(FormatError::ErrorId { code: 1 })
        );
        // Either marker alone is enough, and check digits do not rescue it.
        assert_eq!(
            validate("03-0-USA-0002-T-2605-0-00"),
            Err(FormatError::ErrorId { code: 2 })
        );
        assert_eq!(
            validate("03-1-ERR-0099-T-2605-0-00"),
            Err(FormatError::ErrorId { code: 99 })
        );
        assert_eq!(error_code_name(7), "RATE_LIMITED");
        let minted = fallback_id(1, EntityType::Thing, 26, 5);
        assert_eq!(minted, "03-0-ERR-0001-T-2605-0-92");
        assert_eq!(validate(&minted), Err(FormatError::ErrorId { code: 1 }));
    }

    #[test]
    fn legacy_formats_are_rejected_distinctly() {
        assert_eq!(
            validate("CT-A-CHI-1234-I-24-A-0"),
            Err(FormatError::Legacy(LegacyFormat::CtPrefixed))
        );
        assert_eq!(
            validate("01-A-CHI-1234-I-2409-5-0"),
            Err(FormatError::Legacy(LegacyFormat::VersionOne))
        );
        assert_eq!(
            validate("CHITTY-SERVICE-billing-a1b2"),
            Err(FormatError::Legacy(LegacyFormat::ServiceName))
        );
    }

    #[test]
    fn malformed_ids_say_which_segment() {
        for (s, why) in [
            ("", "empty"),
            (
                "03-1-USA-0955-T-2605-1",
                "expected 8 dash-separated segments",
            ),
            (
                "03-1-usa-0955-T-2605-1-37",
                "jurisdiction must be three letters A-Z",
            ),
            ("03-1-USA-955-T-2605-1-37", "sequence must be four digits"),
            (
                "03-1-USA-0955-X-2605-1-37",
                "entity type must be one of P, L, T, E, A",
            ),
            ("03-1-USA-0955-T-2613-1-37", "month must be 01-12"),
            ("03-1-USA-0955-T-2605-6-37", "trust level must be 0-5"),
            (
                "03-1-USA-0955-T-2605-1-7",
                "check digits must be two digits",
            ),
            ("3-1-USA-0955-T-2605-1-37", "version must be two digits"),
        ] {
            assert_eq!(validate(s), Err(FormatError::Malformed(why)), "{s}");
        }
    }

    #[test]
    fn minting_reproduces_real_ids() {
        let c = Components {
            version: 3,
            region: 1,
            jurisdiction: "USA".into(),
            sequence: 955,
            entity_type: EntityType::Thing,
            year: 26,
            month: 5,
            trust: 1,
        };
        assert_eq!(c.mint().unwrap().to_string(), REAL_IDS[0]);
    }

    #[test]
    fn minting_refuses_out_of_range_components() {
        let c = Components {
            version: 3,
            region: 1,
            jurisdiction: "usa".into(),
            sequence: 1,
            entity_type: EntityType::Thing,
            year: 26,
            month: 5,
            trust: 1,
        };
        assert!(c.clone().mint().is_err());
        assert!(
            Components {
                jurisdiction: "USA".into(),
                month: 13,
                ..c
            }
            .mint()
            .is_err()
        );
    }

    #[test]
    fn serde_uses_the_string_form_and_validates() {
        let id: ChittyId = serde_json::from_str(&format!("\"{}\"", REAL_IDS[1])).unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            format!("\"{}\"", REAL_IDS[1])
        );
        assert!(serde_json::from_str::<ChittyId>("\"03-1-USA-0735-T-2605-1-74\"").is_err());
    }

    fn components() -> impl Strategy<Value = Components> {
        (
            2u8..=99,
            1u8..=9,
            "[A-Z]{3}".prop_filter("ERR marks error IDs", |j| j != "ERR"),
            0u16..=9999,
            prop::sample::select(EntityType::ALL.to_vec()),
            0u8..=99,
            1u8..=12,
            0u8..=5,
        )
            .prop_map(
                |(version, region, jurisdiction, sequence, entity_type, year, month, trust)| {
                    Components {
                        version,
                        region,
                        jurisdiction,
                        sequence,
                        entity_type,
                        year,
                        month,
                        trust,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn any_minted_id_validates(c in components()) {
            let id = c.clone().mint().unwrap();
            let parsed = validate(&id.to_string()).unwrap();
            prop_assert_eq!(parsed.components(), &c);
        }

        #[test]
        fn any_single_digit_change_in_the_body_fails(c in components(), pick in any::<prop::sample::Index>(), bump in 1u8..=9) {
            let s = c.mint().unwrap().to_string();
            let body_len = s.len() - 3;
            let digits: Vec<usize> = s[..body_len]
                .char_indices()
                .filter(|(_, ch)| ch.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            let i = digits[pick.index(digits.len())];
            let mut bytes = s.clone().into_bytes();
            bytes[i] = b'0' + (bytes[i] - b'0' + bump) % 10;
            let mutated = String::from_utf8(bytes).unwrap();
            prop_assert!(validate(&mutated).is_err(), "{} -> {} still validates", s, mutated);
        }
    }
}
