//! The next fire time of whole schedules: fixed reference times and zones, the cases upstream tests,
//! DST changes, and a plain model of the CronJob controller for the day-of-month/day-of-week rule.
use cron::{Next, TimeZone, parse, parse_in_zone};
use jiff::Timestamp;

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn tz(name: &str) -> TimeZone {
    jiff::tz::db().get(name).unwrap()
}

/// Next fire time after `after` for `schedule` in `zone` (None: the given local zone); `None` when it
/// does not parse.
fn next(schedule: &str, zone: Option<&str>, after: i64, local: &TimeZone) -> Option<Next> {
    let parsed = match zone {
        Some(z) => parse_in_zone(schedule, z),
        None => parse(schedule),
    };
    Some(parsed.ok()?.next_after(after, local).unwrap_or_else(|e| panic!("{schedule}: {e}")))
}

fn next_utc(schedule: &str, zone: Option<&str>, after: i64) -> i64 {
    match next(schedule, zone, after, &TimeZone::UTC) {
        Some(Next::At(t)) => t,
        other => panic!("{schedule}: {other:?}"),
    }
}

// 2018-03-11T04:34:56Z, the reference time of upstream's own test.
const LAST: i64 = 1_520_742_896;

#[test]
fn upstream_reference_cases() {
    assert_eq!(next_utc("0 */6 * * *", Some("UTC"), LAST), 1_520_748_000);
    // 12:34:56 in Shanghai: next is 18:00 local = 10:00Z.
    assert_eq!(next_utc("0 */6 * * *", Some("Asia/Shanghai"), LAST), 1_520_762_400);
    assert_eq!(next_utc("25 * * * *", None, LAST), LAST - 56 - 34 * 60 + 3600 + 25 * 60);
}

#[test]
fn unset_zone_uses_the_given_local_zone() {
    let after = 1_767_225_600; // 2026-01-01T00:00Z = 09:00 in Tokyo
    assert_eq!(next("0 12 * * *", None, after, &tz("Asia/Tokyo")), Some(Next::At(1_767_236_400)));
    assert_eq!(next("0 12 * * *", None, after, &TimeZone::UTC), Some(Next::At(1_767_268_800)));
    // "Local" names the same zone explicitly.
    assert_eq!(next("0 12 * * *", Some("Local"), after, &tz("Asia/Tokyo")), Some(Next::At(1_767_236_400)));
}

#[test]
fn spring_forward_runs_a_skipped_hour_right_after_the_gap() {
    // 2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT. 02:30 does not exist; the library
    // runs it at 03:30 EDT.
    assert_eq!(next_utc("30 2 * * *", Some("America/New_York"), 1_772_884_800), 1_772_955_000);
    // An hourly job simply continues at 03:00 EDT after 01:30 EST.
    assert_eq!(next_utc("0 * * * *", Some("America/New_York"), 1_772_951_400), 1_772_953_200);
}

#[test]
fn fall_back_runs_a_repeated_wall_time_twice() {
    // 2026-11-01 in New York: 01:30 happens in EDT (05:30Z) and again in EST (06:30Z).
    let first = 1_793_511_000;
    assert_eq!(next_utc("30 1 * * *", Some("America/New_York"), first), 1_793_514_600);
    assert_eq!(next_utc("30 1 * * *", Some("America/New_York"), 1_793_514_600), 1_793_601_000);
}

#[test]
fn missing_midnight_skips_that_day() {
    // São Paulo, 2018-11-04: 00:00 -03 became 01:00 -02, so "midnight daily" next fires on the 5th.
    assert_eq!(next_utc("0 0 * * *", Some("America/Sao_Paulo"), 1_541_257_200), 1_541_383_200);
}

#[test]
fn day_of_month_and_week_combine_with_or_unless_one_is_a_star() {
    let after = 1_793_491_200; // Sunday 2026-11-01T00:00Z
    assert_eq!(next_utc("0 0 13 * 5", None, after), 1_793_923_200); // Friday the 6th
    assert_eq!(next_utc("0 0 13 * *", None, after), 1_794_528_000); // the 13th
    assert_eq!(next_utc("0 0 13 * FRI", None, after), 1_793_923_200);
    // "*/1" keeps the star semantics, "*/2" drops them (day-of-week 0,2,4,6 OR the 13th).
    assert_eq!(next_utc("0 0 13 * */1", None, after), 1_794_528_000);
    assert_eq!(next_utc("0 0 13 * */2", None, after + 1), 1_793_664_000); // Tuesday the 3rd
}

#[test]
fn descriptors_names_and_steps() {
    assert_eq!(next_utc("@hourly", None, LAST), LAST - 56 - 34 * 60 + 3600);
    assert_eq!(next_utc("@every 90m", None, LAST), LAST + 5400);
    assert_eq!(next_utc("@every 1.5h", Some("Asia/Shanghai"), LAST), LAST + 5400);
    assert_eq!(next_utc("@daily", Some("UTC"), LAST), LAST - (4 * 3600 + 34 * 60 + 56) + 86_400);
    assert_eq!(next_utc("0 0 1 jan *", None, LAST), 1_546_300_800); // 2019-01-01
    assert_eq!(next_utc("@yearly", None, LAST), 1_546_300_800);
    // "N/step" runs from N to the end of the range.
    assert_eq!(next_utc("50/5 * * * *", None, LAST), LAST - 56 - 34 * 60 + 50 * 60);
    // A schedule written with its own TZ= prefix (no spec.timeZone) is accepted.
    assert_eq!(next_utc("TZ=Asia/Shanghai 0 */6 * * *", None, LAST), 1_520_762_400);
}

#[test]
fn impossible_dates_never_fire() {
    assert_eq!(next("0 0 30 2 *", None, LAST, &TimeZone::UTC), Some(Next::Never));
}

#[test]
fn invalid_schedules_and_zones_are_errors_not_panics() {
    for bad in [
        "",
        "* * * *",
        "* * * * * *",
        "*/60 * * * *",
        "*/120 4-22 * * *",
        "0 1 */32,1-7 * 3",
        "5/55 * * * *",
        "0 0 * * 7",
        "60 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * 13 *",
        "5-1 * * * *",
        "1-2-3 * * * *",
        "*/0 * * * *",
        "*/-1 * * * *",
        "x * * * *",
        "0 0 * foo *",
        "1/2/3 * * * *",
        "@every 500ms",
        "@every -1h",
        "@every 5",
        "@Hourly",
        "@fortnightly",
        " @hourly",
        "TZ=UTC",
        "CRON_TZ=Nowhere/City 0 * * * *",
        "0 0 L * *",
        "0 0 ? * 1#2",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} must not parse");
        assert_eq!(next(bad, None, LAST, &TimeZone::UTC), None, "{bad:?} is invalid");
    }
    for zone in ["Invalid/Zone", "asia/shanghai", "", "/etc/localtime", "Europe/../UTC"] {
        assert!(next("0 * * * *", Some(zone), LAST, &TimeZone::UTC).is_none(), "zone {zone:?} is invalid");
    }
    // A schedule carrying its own prefix plus spec.timeZone has six fields after the prefix.
    assert_eq!(next("TZ=UTC 0 * * * *", Some("UTC"), LAST, &TimeZone::UTC), None);
}

#[test]
fn odd_but_valid_syntax() {
    for ok in ["*/1 * * * *", "0-59/59 * * * *", "? * * * ?", "0 0 1,,15 * *", "+5 * * * *", "@every 1s", "@every +2m"]
    {
        assert!(parse(ok).is_ok(), "{ok:?} must parse");
    }
    assert_eq!(next_utc("*-5 * * * *", None, LAST), LAST + 4); // "*-5" is a plain star
    // Backward-compatible link names and Etc zones resolve like any other IANA name.
    for zone in ["US/Pacific", "Etc/GMT+5", "EST5EDT", "UTC", "Europe/Berlin"] {
        assert!(next("0 * * * *", Some(zone), LAST, &TimeZone::UTC).is_some(), "zone {zone:?} is valid");
    }
    // The zone name ends at the first space, so a trailing space in spec.timeZone is harmless.
    assert_eq!(next_utc("0 */6 * * *", Some("Asia/Shanghai "), LAST), 1_520_762_400);
}

/// The Kubernetes CronJob controller's idea of a five-field schedule in UTC, written as plainly as
/// possible: walk day by day and fire at the first listed hour:minute after the reference time on a
/// day whose month matches and where day-of-month AND day-of-week match if either field is `*`, and
/// either one matches otherwise (the rule of the cron library the controller parses `spec.schedule`
/// with, and of Vixie cron). The sets are given directly, so the model shares nothing with the parser
/// under test.
struct ControllerModel {
    /// `(hour, minute)` fire times within a day, ascending.
    times: &'static [(i8, i8)],
    /// `None` is `*`.
    days_of_month: Option<std::ops::RangeInclusive<i8>>,
    months: Option<&'static [i8]>,
    /// `None` is `*`; 0 is Sunday.
    days_of_week: Option<&'static [i8]>,
}

impl ControllerModel {
    fn next_after(&self, after: i64) -> i64 {
        let mut date = ts(after).to_zoned(TimeZone::UTC).date();
        loop {
            let dom = self.days_of_month.as_ref().is_none_or(|r| r.contains(&date.day()));
            let dow = self.days_of_week.is_none_or(|w| w.contains(&date.weekday().to_sunday_zero_offset()));
            let day = if self.days_of_month.is_none() || self.days_of_week.is_none() { dom && dow } else { dom || dow };
            if day && self.months.is_none_or(|m| m.contains(&date.month())) {
                for &(h, m) in self.times {
                    let t = date.at(h, m, 0, 0).to_zoned(TimeZone::UTC).unwrap().timestamp().as_second();
                    if t > after {
                        return t;
                    }
                }
            }
            date = date.tomorrow().unwrap();
        }
    }
}

/// `kube_cronjob_next_schedule_time` must say when the controller will start the job. Upstream
/// v2.20's cron library ANDs a restricted day-of-month with a restricted day-of-week (`0 9 1-7 * MON`
/// = "the first Monday"), which predicts runs on days the controller skips and skips days it runs:
/// we follow the controller (docs/compatibility.md).
#[test]
fn restricted_day_of_month_and_week_follow_the_cronjob_controller() {
    let cases: [(&str, ControllerModel); 3] = [
        (
            "0 9 1-7 * MON",
            ControllerModel { times: &[(9, 0)], days_of_month: Some(1..=7), months: None, days_of_week: Some(&[1]) },
        ),
        (
            "0 0 13 * 5",
            ControllerModel { times: &[(0, 0)], days_of_month: Some(13..=13), months: None, days_of_week: Some(&[5]) },
        ),
        (
            "0 12 29 2 MON",
            ControllerModel {
                times: &[(12, 0)],
                days_of_month: Some(29..=29),
                months: Some(&[2]),
                days_of_week: Some(&[1]),
            },
        ),
    ];
    // Every 31 hours 7 minutes over three years from 2026-01-01 (including 2028-02-29): every weekday,
    // day of the month and hour of the day is hit, on both sides of each fire time.
    let start = 1_767_225_600;
    for (schedule, model) in &cases {
        for i in 0..850 {
            let after = start + i * (31 * 3600 + 7 * 60);
            assert_eq!(next_utc(schedule, Some("UTC"), after), model.next_after(after), "{schedule} after {after}");
        }
    }
    // The cases named in the compatibility document, by hand.
    let after = 1_793_491_200; // Sunday 2026-11-01T00:00Z
    assert_eq!(next_utc("0 9 1-7 * MON", None, after), 1_793_523_600); // Sunday the 1st, 09:00
    assert_eq!(next_utc("0 0 13 * 5", None, after), 1_793_923_200); // Friday the 6th, not Friday the 13th
    // Every Monday in February runs; upstream's AND would wait for a Monday the 29th (2044), beyond
    // its five-year horizon, and print Go's zero time.
    assert_eq!(next_utc("0 12 29 2 MON", None, after), 1_801_483_200); // Monday 2027-02-01, 12:00
}

/// Schedules of the kind upstream's parser tests use, each with its next fire time after LAST
/// (Sunday 2018-03-11T04:34:56Z) in UTC.
#[test]
fn more_upstream_style_schedules() {
    let day = |d: i64, h: i64, m: i64| 1_520_726_400 + (d - 11) * 86_400 + h * 3600 + m * 60; // 2018-03-d h:m
    for (schedule, want) in [
        ("5 * * * *", day(11, 5, 5)),
        ("0-4,8-12 * * * *", day(11, 5, 0)),
        ("*/15 4 * * *", day(11, 4, 45)),
        ("0 0 * * MON-FRI", day(12, 0, 0)),
        ("0 0 * * sun", day(18, 0, 0)),
        ("0 12 * MAR SUN", day(11, 12, 0)),
        ("0 0 1 */3 *", 1_522_540_800), // 2018-04-01
        ("@weekly", day(18, 0, 0)),
        ("@monthly", 1_522_540_800),
        ("@midnight", day(12, 0, 0)),
        ("@annually", 1_546_300_800),
        ("CRON_TZ=UTC @every 1h", LAST + 3600),
        ("TZ=Asia/Tokyo 0 9 * * *", day(12, 0, 0)), // 09:00 in Tokyo is 00:00Z
    ] {
        assert_eq!(next_utc(schedule, None, LAST), want, "{schedule}");
    }
}

/// The reference time's second is dropped: the next fire time is strictly after it, also when the
/// reference is itself a fire time.
#[test]
fn next_is_strictly_after_the_reference() {
    let on_the_hour = 1_520_744_400; // 05:00:00Z
    assert_eq!(next_utc("0 * * * *", None, on_the_hour), on_the_hour + 3600);
    assert_eq!(next_utc("0 * * * *", None, on_the_hour - 1), on_the_hour);
    // Before 1970 too.
    assert_eq!(next_utc("0 0 1 1 *", None, -1), 0);
}

/// Near the end of the representable range there is no wall clock to name: an error, not a panic or
/// a wrong date.
#[test]
fn the_edge_of_time_is_out_of_range() {
    let s = parse("0 0 * * *").unwrap();
    for after in [253_402_214_400, i64::MAX, i64::MAX - 1, i64::MIN] {
        assert_eq!(s.next_after(after, &TimeZone::UTC), Err(cron::OutOfRange), "{after}");
    }
    assert_eq!(parse("@every 1h").unwrap().next_after(i64::MAX, &TimeZone::UTC), Err(cron::OutOfRange));
    // Within range, a five-year search still ends.
    assert_eq!(parse("0 0 30 2 *").unwrap().next_after(0, &TimeZone::UTC), Ok(Next::Never));
}

/// A field that parses to no value at all (only commas) can never match: no fire time, answered at
/// once rather than after a five-year walk (found by the fuzz target). With day-of-month and
/// day-of-week both restricted, an empty one leaves the other to decide.
#[test]
fn empty_fields_never_fire() {
    for schedule in [",, * * * *", "0 , * * *", "0 0 * ,,, *", "0 0 , * *", "0 0 * * ,", "0 0 , * ,"] {
        assert_eq!(next(schedule, None, LAST, &TimeZone::UTC), Some(Next::Never), "{schedule}");
        assert_eq!(next(schedule, Some("America/New_York"), LAST, &TimeZone::UTC), Some(Next::Never), "{schedule}");
    }
    // Restricted day-of-month (none) OR Friday: every Friday.
    assert_eq!(next_utc("0 0 , * 5", None, LAST), 1_520_553_600 + 7 * 86_400); // Friday 2018-03-16
    assert_eq!(next_utc("0 0 13 * ,", None, LAST), 1_520_899_200); // Tuesday 2018-03-13
}
