//! The `Date` header value: IMF-fixdate (RFC 9110 section 5.6.7) from Unix seconds, by hand, and
//! a per-thread cache that formats it at most once per second.
//!
//! IMF-fixdate has a fixed width (`Sun, 06 Nov 1994 08:49:37 GMT`, 29 bytes) as long as the year
//! has four digits, so the text lives in a plain array and never allocates.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_FIXDATE_BYTES: usize = 29;

/// The last second IMF-fixdate can show with a four-digit year: 9999-12-31 23:59:59 UTC.
/// Later instants are shown as this one, since the format has no room for a fifth digit.
pub const IMF_FIXDATE_SECONDS_MAX: u64 = 253_402_300_799;

const SECONDS_PER_DAY: u64 = 86_400;
/// Days in one 400-year Gregorian cycle; the calendar repeats exactly after it.
const DAYS_PER_ERA: u64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar. Counting from a
/// March 1st puts the leap day at the end of the counted year, which keeps the arithmetic simple.
const DAYS_FROM_MARCH_YEAR_ZERO_TO_EPOCH: u64 = 719_468;

const WEEKDAY_NAMES: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTH_NAMES: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A calendar date of the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CivilDate {
    year: u64,
    /// 1 to 12.
    month: u64,
    /// 1 to 31.
    day: u64,
}

/// The calendar date `days_since_epoch` days after 1970-01-01.
///
/// Works in 400-year eras counted from 0000-03-01: inside an era, the year of the era follows
/// from the day of the era by removing the leap days (one per 4 years, minus one per 100, plus
/// one per 400), and with years starting in March the months have a regular 153-days-per-5-months
/// pattern, so the month follows from the day of the year by a linear formula.
fn civil_from_days(days_since_epoch: u64) -> CivilDate {
    let days = days_since_epoch + DAYS_FROM_MARCH_YEAR_ZERO_TO_EPOCH;
    let era = days / DAYS_PER_ERA;
    let day_of_era = days % DAYS_PER_ERA;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / (DAYS_PER_ERA - 1))
        / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March (0) to February (11).
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    // January and February belong to the next calendar year of the March-based year.
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    CivilDate { year, month, day }
}

/// Formats `unix_seconds` as IMF-fixdate. Instants after [`IMF_FIXDATE_SECONDS_MAX`] are shown
/// as that instant.
pub fn format_imf_fixdate(unix_seconds: u64) -> [u8; IMF_FIXDATE_BYTES] {
    let seconds = unix_seconds.min(IMF_FIXDATE_SECONDS_MAX);
    let days = seconds / SECONDS_PER_DAY;
    let second_of_day = seconds % SECONDS_PER_DAY;
    let date = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4) % 7;

    let mut text = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    text[0..3].copy_from_slice(WEEKDAY_NAMES[weekday as usize]);
    write_two_digits(&mut text[5..7], date.day);
    text[8..11].copy_from_slice(MONTH_NAMES[(date.month - 1) as usize]);
    write_two_digits(&mut text[12..14], date.year / 100);
    write_two_digits(&mut text[14..16], date.year % 100);
    write_two_digits(&mut text[17..19], second_of_day / 3600);
    write_two_digits(&mut text[20..22], second_of_day / 60 % 60);
    write_two_digits(&mut text[23..25], second_of_day % 60);
    text
}

/// Writes `value` (below 100) as two ASCII digits.
fn write_two_digits(out: &mut [u8], value: u64) {
    out[0] = b'0' + (value / 10 % 10) as u8;
    out[1] = b'0' + (value % 10) as u8;
}

/// The current time in whole seconds since the Unix epoch; 0 if the clock is set before 1970.
pub fn now_unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The `Date` value of the current second, reformatted only when the second changes.
///
/// Meant to be owned by one thread (no locks, no atomics): the server keeps one per worker and
/// calls [`DateCache::get`] for every response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateCache {
    second: u64,
    text: [u8; IMF_FIXDATE_BYTES],
}

impl DateCache {
    /// A cache holding the epoch, so that it is consistent from the start.
    pub fn new() -> DateCache {
        DateCache {
            second: 0,
            text: format_imf_fixdate(0),
        }
    }

    /// The IMF-fixdate of `now_unix_seconds`.
    pub fn get(&mut self, now_unix_seconds: u64) -> &[u8; IMF_FIXDATE_BYTES] {
        if now_unix_seconds != self.second {
            self.second = now_unix_seconds;
            self.text = format_imf_fixdate(now_unix_seconds);
        }
        &self.text
    }
}

impl Default for DateCache {
    fn default() -> DateCache {
        DateCache::new()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn formatted(unix_seconds: u64) -> String {
        String::from_utf8(format_imf_fixdate(unix_seconds).to_vec()).unwrap()
    }

    #[test]
    fn known_instants_are_formatted() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
            (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
            (1_078_012_800, "Sun, 29 Feb 2004 00:00:00 GMT"),
            (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),
            (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 GMT"),
            // 2100 is not a leap year: February 28th is followed by March 1st.
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
            (946_684_799, "Fri, 31 Dec 1999 23:59:59 GMT"),
            (946_684_800, "Sat, 01 Jan 2000 00:00:00 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
            (253_370_764_800, "Fri, 01 Jan 9999 00:00:00 GMT"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(formatted(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn instants_beyond_year_9999_are_clamped() {
        let last = formatted(IMF_FIXDATE_SECONDS_MAX);
        assert_eq!(formatted(IMF_FIXDATE_SECONDS_MAX + 1), last);
        assert_eq!(formatted(u64::MAX), last);
    }

    #[test]
    fn cache_reformats_only_when_the_second_changes() {
        let mut cache = DateCache::new();
        assert_eq!(cache.get(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(cache.get(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        // Tamper with the cached text: a repeated second must serve it without reformatting.
        cache.text[0] = b'X';
        assert_eq!(cache.get(784_111_777)[0], b'X');
        assert_eq!(cache.get(784_111_778), b"Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(DateCache::default(), DateCache::new());
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        // 2024-01-01: a clock earlier than this is broken or the function is.
        assert!(now_unix_seconds() > 1_704_067_200);
    }

    fn is_leap_year(year: u64) -> bool {
        (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
    }

    /// Days in each month of `year`, January first.
    fn month_lengths(year: u64) -> [u64; 12] {
        let february = if is_leap_year(year) { 29 } else { 28 };
        [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    }

    /// Counts whole years, then whole months, then days: slow and obviously right.
    fn reference_civil_from_days(mut days: u64) -> CivilDate {
        let mut year = 1970;
        loop {
            let year_days = if is_leap_year(year) { 366 } else { 365 };
            if days < year_days {
                break;
            }
            days -= year_days;
            year += 1;
        }
        let month_days = month_lengths(year);
        let mut month = 1;
        for length in month_days {
            if days < length {
                break;
            }
            days -= length;
            month += 1;
        }
        CivilDate {
            year,
            month,
            day: days + 1,
        }
    }

    fn reference_format(unix_seconds: u64) -> String {
        let days = unix_seconds / SECONDS_PER_DAY;
        let date = reference_civil_from_days(days);
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][(date.month - 1) as usize];
        let second_of_day = unix_seconds % SECONDS_PER_DAY;
        format!(
            "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
            date.day,
            date.year,
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        )
    }

    #[test]
    fn every_day_of_the_first_two_eras_matches_the_reference() {
        let mut expected = CivilDate {
            year: 1970,
            month: 1,
            day: 1,
        };
        for days in 0..2 * DAYS_PER_ERA {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            let month_days = month_lengths(expected.year);
            expected.day += 1;
            if expected.day > month_days[(expected.month - 1) as usize] {
                expected.day = 1;
                expected.month += 1;
                if expected.month > 12 {
                    expected.month = 1;
                    expected.year += 1;
                }
            }
        }
    }

    proptest! {
        #[test]
        fn formatting_matches_the_reference(unix_seconds in 0..=IMF_FIXDATE_SECONDS_MAX) {
            prop_assert_eq!(formatted(unix_seconds), reference_format(unix_seconds));
        }

        #[test]
        fn cache_agrees_with_formatting(first in 0..=IMF_FIXDATE_SECONDS_MAX, step in 0u64..3) {
            let mut cache = DateCache::new();
            prop_assert_eq!(cache.get(first), &format_imf_fixdate(first));
            let second = first + step;
            prop_assert_eq!(cache.get(second), &format_imf_fixdate(second));
        }
    }
}
