//! The search for the next fire time of a five-field schedule, with Go's `time` arithmetic on wall
//! clocks (normalisation of out-of-range dates, the offset chosen for wall times that do not exist
//! or exist twice), so DST changes give the answers upstream gives.

use gocompat::civil::{civil_from_days, days_from_civil};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::parse::STAR;
use crate::{HORIZON_YEARS, Next, OutOfRange};

/// Far more steps than any real schedule needs within the horizon; a guard, not a limit upstream has.
const MAX_STEPS: u32 = 5_000_000;

/// The allowed values of each field, one bit each.
pub(crate) struct Sets {
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
}

impl Sets {
    /// Whether any instant can match: a field with no value at all (`,,` parses to nothing) can never
    /// match, and neither can the day when day-of-month and day-of-week must both match and one is
    /// empty, or either may and both are. The search would reach the same answer only after walking
    /// five years minute by minute.
    fn can_match(&self) -> bool {
        let values = |set: u64| set & !STAR != 0;
        let days = if (self.dom | self.dow) & STAR != 0 {
            values(self.dom) && values(self.dow)
        } else {
            values(self.dom) || values(self.dow)
        };
        values(self.minute) && values(self.hour) && values(self.month) && days
    }

    /// Day-of-month and day-of-week: AND when either is a star, OR when both are restricted.
    fn day_matches(&self, c: &Civil) -> bool {
        let d = has(self.dom, c.day);
        let w = has(self.dow, c.weekday);
        if (self.dom | self.dow) & STAR != 0 { d && w } else { d || w }
    }
}

fn has(set: u64, v: i64) -> bool {
    (0..63).contains(&v) && set & (1 << v) != 0
}

/// Wall-clock fields of an instant in a zone.
#[derive(Clone, Copy)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// 0 is Sunday.
    weekday: i64,
}

/// A zone plus Go's `time` arithmetic on it, on whole Unix seconds. Every method fails outside the
/// range of representable instants.
struct Clock<'a> {
    tz: &'a TimeZone,
}

impl Clock<'_> {
    fn offset(&self, unix: i64) -> Result<i64, OutOfRange> {
        let ts = Timestamp::from_second(unix).map_err(|_| OutOfRange)?;
        Ok(i64::from(self.tz.to_offset(ts).seconds()))
    }

    fn civil(&self, unix: i64) -> Result<Civil, OutOfRange> {
        let local = unix + self.offset(unix)?;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Ok(Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
            weekday: (days + 4).rem_euclid(7),
        })
    }

    /// Go's `time.Date` in this zone, including its normalisation of out-of-range fields and its
    /// choice of offset for wall times that do not exist or exist twice.
    fn date(&self, y: i64, m: i64, d: i64, h: i64, min: i64, s: i64) -> Result<i64, OutOfRange> {
        let m0 = m - 1;
        let (y, m) = (y + m0.div_euclid(12), m0.rem_euclid(12) + 1);
        let local = (days_from_civil(y, m, 1) + d - 1) * 86_400 + h * 3600 + min * 60 + s;
        let guess = self.offset(local)?;
        if guess == 0 {
            return Ok(local);
        }
        Ok(local - self.offset(local - guess)?)
    }

    /// `t.AddDate(0, months, days)`.
    fn add_date(&self, unix: i64, months: i64, days: i64) -> Result<i64, OutOfRange> {
        let c = self.civil(unix)?;
        self.date(c.year, c.month + months, c.day + days, c.hour, c.minute, c.second)
    }
}

/// The first instant at or after `start` whose wall clock in `tz` matches `sets` (seconds 0), walking
/// field by field from the month down as the Go library does, each level resetting the ones below it
/// the first time it moves and starting over when it wraps into the next unit above.
pub(crate) fn search(sets: &Sets, start: i64, tz: &TimeZone) -> Result<Next, OutOfRange> {
    if !sets.can_match() {
        return Ok(Next::Never);
    }
    let clock = Clock { tz };
    let mut t = start;
    let mut added = false;
    let year_limit = clock.civil(t)?.year + HORIZON_YEARS;
    let mut steps = 0u32;
    let mut step = || {
        steps += 1;
        steps <= MAX_STEPS
    };
    'wrap: loop {
        if !step() || clock.civil(t)?.year > year_limit {
            return Ok(Next::Never);
        }
        while !has(sets.month, clock.civil(t)?.month) {
            if !step() {
                return Ok(Next::Never);
            }
            if !added {
                added = true;
                let c = clock.civil(t)?;
                t = clock.date(c.year, c.month, 1, 0, 0, 0)?;
            }
            t = clock.add_date(t, 1, 0)?;
            if clock.civil(t)?.month == 1 {
                continue 'wrap;
            }
        }
        while !sets.day_matches(&clock.civil(t)?) {
            if !step() {
                return Ok(Next::Never);
            }
            if !added {
                added = true;
                let c = clock.civil(t)?;
                t = clock.date(c.year, c.month, c.day, 0, 0, 0)?;
            }
            t = clock.add_date(t, 0, 1)?;
            // Midnight may not exist on a DST day: go back to hour 0 or forward to the next day.
            let h = clock.civil(t)?.hour;
            if h != 0 {
                t += if h > 12 { (24 - h) * 3600 } else { -h * 3600 };
            }
            if clock.civil(t)?.day == 1 {
                continue 'wrap;
            }
        }
        while !has(sets.hour, clock.civil(t)?.hour) {
            if !step() {
                return Ok(Next::Never);
            }
            if !added {
                added = true;
                let c = clock.civil(t)?;
                t = clock.date(c.year, c.month, c.day, c.hour, 0, 0)?;
            }
            let prev = clock.civil(t)?.hour;
            t += 3600;
            let now = clock.civil(t)?.hour;
            // An hour skipped by a DST jump still fires, at the first wall time after it.
            if now - prev == 2 && has(sets.hour, now - 1) {
                break;
            }
            if now == 0 {
                continue 'wrap;
            }
        }
        while !has(sets.minute, clock.civil(t)?.minute) {
            if !step() {
                return Ok(Next::Never);
            }
            if !added {
                added = true;
                t = t.div_euclid(60) * 60;
            }
            t += 60;
            if clock.civil(t)?.minute == 0 {
                continue 'wrap;
            }
        }
        // Seconds are always 0 in a five-field schedule.
        while clock.civil(t)?.second != 0 {
            if !step() {
                return Ok(Next::Never);
            }
            added = true;
            t += 1;
            if clock.civil(t)?.second == 0 {
                continue 'wrap;
            }
        }
        return Ok(Next::At(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_date_normalises_out_of_range_fields() {
        let utc = Clock { tz: &TimeZone::UTC };
        // Month 13 is January of the next year; day 0 is the last day of the previous month.
        assert_eq!(utc.date(2025, 13, 1, 0, 0, 0), utc.date(2026, 1, 1, 0, 0, 0));
        assert_eq!(utc.date(2024, 3, 0, 0, 0, 0), utc.date(2024, 2, 29, 0, 0, 0));
        // Adding a month to January 31st lands in March, as Go's AddDate does.
        let jan31 = utc.date(2025, 1, 31, 0, 0, 0).unwrap();
        assert_eq!(utc.add_date(jan31, 1, 0), utc.date(2025, 3, 3, 0, 0, 0));
    }

    #[test]
    fn instants_beyond_four_digit_years_are_out_of_range() {
        let utc = Clock { tz: &TimeZone::UTC };
        assert_eq!(utc.civil(i64::MAX).err(), Some(OutOfRange));
        assert_eq!(utc.civil(253_402_300_800).err(), Some(OutOfRange)); // 10000-01-01
        assert!(utc.civil(0).is_ok());
    }
}
