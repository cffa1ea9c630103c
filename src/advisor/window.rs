//! Deployment windows: weekday and time ranges in a time zone in which production rollouts may
//! start (`Mon-Fri 09:00-17:00 America/Chicago`). A range whose end is not after its start runs
//! past midnight (`Sat 22:00-02:00` is open until 02:00 on Sunday). Time zones come from the
//! IANA database built into the operator, so every replica and every image agree.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use super::input::WindowState;

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

/// One window, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Monday first.
    days: [bool; 7],
    start: (i8, i8),
    end: (i8, i8),
    zone: TimeZone,
    /// As written, normalised (`Mon-Fri 09:00-17:00 America/Chicago`), for messages.
    text: String,
}

impl Window {
    /// From the parts a manifest gives: `days` (`Mon-Fri`, `Sat,Sun`, `*`), `start` and `end`
    /// (`HH:MM`, 24 h) and an IANA `time_zone` (`UTC` when empty).
    pub fn new(days: &str, start: &str, end: &str, time_zone: &str) -> Result<Self, String> {
        let zone_name = if time_zone.trim().is_empty() {
            "UTC"
        } else {
            time_zone.trim()
        };
        let zone = TimeZone::get(zone_name).map_err(|_| {
            format!(
                "time zone `{zone_name}` does not exist (use an IANA name such as Europe/Berlin)"
            )
        })?;
        let window = Self {
            days: parse_days(days)?,
            start: parse_time(start)?,
            end: parse_time(end)?,
            zone,
            text: format!(
                "{} {}-{} {zone_name}",
                days.trim(),
                start.trim(),
                end.trim()
            ),
        };
        Ok(window)
    }

    /// From the flag's one-line form: `DAYS HH:MM-HH:MM [ZONE]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (days, range, zone) = match parts.as_slice() {
            [days, range] => (*days, *range, "UTC"),
            [days, range, zone] => (*days, *range, *zone),
            _ => {
                return Err(format!(
                    "`{text}` is not a window: write DAYS HH:MM-HH:MM [TIME_ZONE], e.g. `Mon-Fri 09:00-17:00 America/Chicago`"
                ));
            }
        };
        let (start, end) = range.split_once('-').ok_or_else(|| {
            format!("`{range}` in `{text}` is not a time range such as 09:00-17:00")
        })?;
        Self::new(days, start, end, zone)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    fn minutes(t: (i8, i8)) -> i32 {
        i32::from(t.0) * 60 + i32::from(t.1)
    }

    fn open_at(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.zone.clone());
        let day = weekday_index(local.weekday());
        let now = i32::from(local.hour()) * 60 + i32::from(local.minute());
        let (start, end) = (Self::minutes(self.start), Self::minutes(self.end));
        if start < end {
            self.days[day] && (start..end).contains(&now)
        } else {
            // Past midnight: open from the start on a listed day, and before the end on the day after.
            (self.days[day] && now >= start) || (self.days[(day + 6) % 7] && now < end)
        }
    }

    /// The first opening strictly after `after`, within the next eight days.
    fn next_opening(&self, after: Timestamp) -> Option<Timestamp> {
        let today: Date = after.to_zoned(self.zone.clone()).date();
        (0..8)
            .filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok())
            .filter(|date| self.days[weekday_index(date.weekday())])
            .filter_map(|date| {
                let local = date.at(self.start.0, self.start.1, 0, 0);
                local
                    .to_zoned(self.zone.clone())
                    .ok()
                    .map(|z| z.timestamp())
            })
            .find(|opening| *opening > after)
    }
}

/// Where `windows` stand at `now`: unrestricted without any, open, or closed until the next one.
pub fn state(windows: &[Window], now: Timestamp) -> WindowState {
    if windows.is_empty() {
        return WindowState::Unrestricted;
    }
    if let Some(open) = windows.iter().find(|w| w.open_at(now)) {
        return WindowState::Open(open.text.clone());
    }
    let next = windows
        .iter()
        .filter_map(|w| w.next_opening(now).map(|t| (t, w)))
        .min_by_key(|(t, _)| *t);
    match next {
        Some((opens, window)) => WindowState::Closed {
            opens,
            window: window.text.clone(),
        },
        // Windows with no day at all never open; admission refuses them, so this is defence.
        None => WindowState::Closed {
            opens: now + std::time::Duration::from_secs(7 * 24 * 3600),
            window: windows[0].text.clone(),
        },
    }
}

fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let text = text.trim().to_ascii_lowercase();
    let mut days = [false; 7];
    if text == "*" || text == "daily" {
        return Ok([true; 7]);
    }
    let index = |name: &str| {
        DAYS.iter().position(|(n, _)| *n == name).ok_or_else(|| {
            format!("`{name}` is not a weekday: use Mon, Tue, Wed, Thu, Fri, Sat or Sun")
        })
    };
    for part in text.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from.trim())?, index(to.trim())?);
                let mut day = from;
                loop {
                    days[day] = true;
                    if day == to {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days[index(part)?] = true,
        }
    }
    Ok(days)
}

fn parse_time(text: &str) -> Result<(i8, i8), String> {
    let bad = || format!("`{text}` is not a time of day such as 09:00 or 17:30");
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) || text.trim().len() != 5 {
        return Err(bad());
    }
    Ok((h, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn an_office_hours_window_in_chicago() {
        // 2026-11-30 is a Monday; Chicago is UTC-6 in winter.
        let w = [Window::parse("Mon-Fri 09:00-17:00 America/Chicago").unwrap()];
        assert_eq!(
            state(&w, at("2026-11-30T16:00:00Z")),
            WindowState::Open("Mon-Fri 09:00-17:00 America/Chicago".into())
        );
        assert_eq!(
            state(&w, at("2026-11-30T23:30:00Z")),
            WindowState::Closed {
                opens: at("2026-12-01T15:00:00Z"),
                window: "Mon-Fri 09:00-17:00 America/Chicago".into()
            }
        );
        // Friday evening waits for Monday.
        assert!(matches!(
            state(&w, at("2026-12-05T01:00:00Z")),
            WindowState::Closed { opens, .. } if opens == at("2026-12-07T15:00:00Z")
        ));
    }

    #[test]
    fn a_window_past_midnight_and_the_earliest_of_several() {
        let late = Window::parse("Sat 22:00-02:00").unwrap();
        assert!(late.open_at(at("2026-12-05T23:00:00Z")));
        assert!(
            late.open_at(at("2026-12-06T01:59:00Z")),
            "Sunday before 02:00"
        );
        assert!(!late.open_at(at("2026-12-06T02:00:00Z")));
        let early = Window::parse("Sun 06:00-07:00 UTC").unwrap();
        assert!(matches!(
            state(&[late, early], at("2026-12-06T03:00:00Z")),
            WindowState::Closed { opens, ref window } if opens == at("2026-12-06T06:00:00Z") && window.starts_with("Sun")
        ));
        assert_eq!(
            state(&[], at("2026-12-06T03:00:00Z")),
            WindowState::Unrestricted
        );
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let zone = Window::parse("Mon-Fri 09:00-17:00 Mars/Olympus").unwrap_err();
        assert!(
            zone.contains("time zone `Mars/Olympus` does not exist"),
            "{zone}"
        );
        assert!(
            Window::parse("Someday 09:00-17:00")
                .unwrap_err()
                .contains("not a weekday")
        );
        assert!(
            Window::parse("Mon 9:00-17:00")
                .unwrap_err()
                .contains("not a time of day")
        );
        assert!(Window::parse("Mon 25:00-26:00").is_err());
        assert!(Window::parse("Mon").is_err());
        assert_eq!(
            parse_days("Fri-Mon").unwrap(),
            [true, false, false, false, true, true, true]
        );
        assert_eq!(parse_days("*").unwrap(), [true; 7]);
    }
}
