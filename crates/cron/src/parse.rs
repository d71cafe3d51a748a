//! From schedule text to the sets of allowed values (or a fixed delay) and a zone.

use jiff::tz::TimeZone;

use crate::{Kind, Schedule, Zone};

/// Bit 63 of a field's set: the field held a plain `*` or `?`. It decides how day-of-month and
/// day-of-week combine.
pub(crate) const STAR: u64 = 1 << 63;
/// Longer specs are refused before any work (upstream's limit too).
const MAX_SPEC_LEN: usize = 1024;
/// Longest zone name accepted after `TZ=`/`CRON_TZ=`.
const MAX_ZONE_LEN: usize = 64;

/// Why a schedule does not parse; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
#[rustfmt::skip]
const MONTHS: Bounds = Bounds { min: 1, max: 12, names: &[
    ("jan", 1), ("feb", 2), ("mar", 3), ("apr", 4), ("may", 5), ("jun", 6),
    ("jul", 7), ("aug", 8), ("sep", 9), ("oct", 10), ("nov", 11), ("dec", 12),
] };
#[rustfmt::skip]
const DOW: Bounds = Bounds { min: 0, max: 6, names: &[
    ("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6),
] };

/// The bits `low..=high` every `step` (callers keep `high` below 63 and `step` positive).
fn bits(low: u64, high: u64, step: u64) -> u64 {
    (low..=high).step_by(step as usize).fold(0, |acc, i| acc | (1 << i))
}

fn all(b: &Bounds) -> u64 {
    bits(b.min, b.max, 1) | STAR
}

/// Go's `strconv.Atoi` followed by the library's "no negatives" rule.
fn number(s: &str) -> Result<u64, ParseError> {
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n as u64),
        Ok(n) => err(format!("negative number ({n}) not allowed: {s}")),
        Err(_) => err(format!("failed to parse int from {s}")),
    }
}

fn number_or_name(s: &str, b: &Bounds) -> Result<u64, ParseError> {
    let lower = s.to_lowercase();
    match b.names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => number(s),
    }
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each optionally `/step`.
fn range(expr: &str, b: &Bounds) -> Result<u64, ParseError> {
    let range_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_step[0].split('-').collect();
    let single = low_high.len() == 1;
    // "*-5" is a plain star: the part after the star is never read (upstream's quirk).
    let (start, mut end, mut extra) = if low_high[0] == "*" || low_high[0] == "?" {
        (b.min, b.max, STAR)
    } else {
        let start = number_or_name(low_high[0], b)?;
        match low_high.len() {
            1 => (start, start, 0),
            2 => (start, number_or_name(low_high[1], b)?, 0),
            _ => return err(format!("too many hyphens: {expr}")),
        }
    };
    let step = match range_step.len() {
        1 => 1,
        2 => {
            let step = number(range_step[1])?;
            // "N/step" runs from N to the end of the field.
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return err(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return err(format!("beginning of range ({start}) below minimum ({}): {expr}", b.min));
    }
    if end > b.max {
        return err(format!("end of range ({end}) above maximum ({}): {expr}", b.max));
    }
    if start > end {
        return err(format!("beginning of range ({start}) beyond end of range ({end}): {expr}"));
    }
    if step == 0 {
        return err(format!("step of range should be a positive number: {expr}"));
    }
    if step > 1 && step > end - start {
        return err(format!("step ({step}) must be less than range size ({}): {expr}", end - start + 1));
    }
    Ok(bits(start, end, step) | extra)
}

/// A whole field; empty parts (`1,,15`) are skipped.
fn field(f: &str, b: &Bounds) -> Result<u64, ParseError> {
    f.split(',').filter(|r| !r.is_empty()).try_fold(0, |acc, r| Ok(acc | range(r, b)?))
}

fn zone_by_name(name: &str) -> Result<Zone, ParseError> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+' | ':');
    if name.is_empty() {
        return err("empty timezone string");
    }
    if name.len() > MAX_ZONE_LEN {
        return err(format!("timezone string too long (max {MAX_ZONE_LEN} chars)"));
    }
    if let Some(c) = name.chars().find(|c| !valid_char(*c)) {
        return err(format!("invalid character {c:?} in timezone {name:?}"));
    }
    match name {
        "Local" => return Ok(Zone::Local),
        "UTC" => return Ok(Zone::Named(TimeZone::UTC)),
        _ => {}
    }
    if name.starts_with('/') {
        return err(format!("provided bad location {name}"));
    }
    // Zone files are looked up case-sensitively upstream; jiff's lookup ignores case.
    match jiff::tz::db().get(name) {
        Ok(tz) if tz.iana_name().is_none_or(|n| n == name) => Ok(Zone::Named(tz)),
        _ => err(format!("provided bad location {name}")),
    }
}

fn descriptor(spec: &str, zone: Zone) -> Result<Schedule, ParseError> {
    let one = |b: &Bounds| 1u64 << b.min;
    let fields = |hour, dom, month, dow| Kind::Fields { minute: one(&MINUTES), hour, dom, month, dow };
    let kind = match spec {
        "@yearly" | "@annually" => fields(one(&HOURS), one(&DOM), one(&MONTHS), all(&DOW)),
        "@monthly" => fields(one(&HOURS), one(&DOM), all(&MONTHS), all(&DOW)),
        "@weekly" => fields(one(&HOURS), all(&DOM), all(&MONTHS), one(&DOW)),
        "@daily" | "@midnight" => fields(one(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => fields(all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => match spec.strip_prefix("@every ") {
            Some(d) => {
                let nanos = gocompat::parse_duration_nanos(d).or_else(|e| err(e.to_string()))?;
                if nanos < 1_000_000_000 {
                    return err(format!("@every duration must be at least 1s: {spec}"));
                }
                Kind::Every { seconds: nanos / 1_000_000_000 }
            }
            None => return err(format!("unrecognized descriptor: {spec}")),
        },
    };
    Ok(Schedule { zone, kind })
}

/// Parses a schedule: five fields or a descriptor, optionally after a `TZ=<zone> ` or
/// `CRON_TZ=<zone> ` prefix.
pub fn parse(spec: &str) -> Result<Schedule, ParseError> {
    if spec.is_empty() {
        return err("empty spec string");
    }
    if spec.len() > MAX_SPEC_LEN {
        return err(format!("spec too long: {} > {MAX_SPEC_LEN}", spec.len()));
    }
    let (zone, rest) = match spec.strip_prefix("TZ=").or_else(|| spec.strip_prefix("CRON_TZ=")) {
        Some(after_eq) => {
            // The zone name ends at the first space.
            let Some((name, rest)) = after_eq.split_once(' ') else {
                return err(format!("missing fields after timezone in spec {spec:?}"));
            };
            let zone = zone_by_name(name)?;
            let rest = rest.trim();
            if rest.is_empty() {
                return err("missing fields after timezone in spec");
            }
            (zone, rest)
        }
        None => (Zone::Local, spec),
    };
    if rest.starts_with('@') {
        return descriptor(rest, zone);
    }
    let f: Vec<&str> = rest.split_whitespace().collect();
    if f.len() != 5 {
        return err(format!("expected exactly 5 fields, found {}: {f:?}", f.len()));
    }
    let kind = Kind::Fields {
        minute: field(f[0], &MINUTES)?,
        hour: field(f[1], &HOURS)?,
        dom: field(f[2], &DOM)?,
        month: field(f[3], &MONTHS)?,
        dow: field(f[4], &DOW)?,
    };
    Ok(Schedule { zone, kind })
}

/// Parses `schedule` to run in the zone `time_zone` (a CronJob's `spec.timeZone`), as the CronJob
/// controller does: `CRON_TZ=<time_zone> <schedule>`. A schedule with its own prefix then no longer
/// parses, as upstream.
pub fn parse_in_zone(schedule: &str, time_zone: &str) -> Result<Schedule, ParseError> {
    parse(&format!("CRON_TZ={time_zone} {schedule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(spec: &str) -> [u64; 5] {
        match parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}")).kind {
            Kind::Fields { minute, hour, dom, month, dow } => [minute, hour, dom, month, dow],
            Kind::Every { .. } => panic!("{spec} is @every"),
        }
    }

    fn values(set: u64) -> Vec<u64> {
        (0..63).filter(|i| set & (1 << i) != 0).collect()
    }

    #[test]
    fn ranges_steps_lists_and_names() {
        let [minute, hour, dom, month, dow] = sets("0-10/5,30 */6 1,15 jan-mar MON-fri");
        assert_eq!(values(minute), [0, 5, 10, 30]);
        assert_eq!(values(hour), [0, 6, 12, 18]);
        assert_eq!(hour & STAR, 0, "a step above 1 drops the star");
        assert_eq!(values(dom), [1, 15]);
        assert_eq!(values(month), [1, 2, 3]);
        assert_eq!(values(dow), [1, 2, 3, 4, 5]);
        // "N/step" runs from N to the end of the field; "*/1" and "?" keep the star.
        assert_eq!(values(sets("50/5 * * * *")[0]), [50, 55]);
        let [_, hour, dom, _, dow] = sets("0 */1 ? * ?");
        assert_eq!((hour & STAR, dom & STAR, dow & STAR), (STAR, STAR, STAR));
        assert_eq!(values(hour & !STAR), (0..24).collect::<Vec<_>>());
    }

    #[test]
    fn descriptors_are_fixed_field_sets() {
        assert_eq!(sets("@hourly"), sets("0 * * * *"));
        assert_eq!(sets("@daily"), sets("0 0 * * *"));
        assert_eq!(sets("@midnight"), sets("0 0 * * *"));
        assert_eq!(sets("@weekly"), sets("0 0 * * 0"));
        assert_eq!(sets("@monthly"), sets("0 0 1 * *"));
        assert_eq!(sets("@yearly"), sets("0 0 1 1 *"));
        assert_eq!(sets("@annually"), sets("0 0 1 1 *"));
        assert!(matches!(parse("@every 1h30m").unwrap().kind, Kind::Every { seconds: 5400 }));
        // Sub-second parts of the delay are dropped.
        assert!(matches!(parse("@every 1.9s").unwrap().kind, Kind::Every { seconds: 1 }));
    }

    #[test]
    fn zone_prefixes() {
        assert!(matches!(parse("TZ=UTC 0 * * * *").unwrap().zone, Zone::Named(_)));
        assert!(matches!(parse("CRON_TZ=Local @hourly").unwrap().zone, Zone::Local));
        assert!(matches!(parse("CRON_TZ=Europe/Berlin @every 5m").unwrap().zone, Zone::Named(_)));
        assert!(matches!(parse("0 * * * *").unwrap().zone, Zone::Local));
        for bad in ["TZ=", "TZ=UTC", "TZ=UTC ", "TZ= 0 * * * *", "CRON_TZ=Europe/berlin 0 * * * *"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("TZ={} 0 * * * *", "A".repeat(MAX_ZONE_LEN + 1));
        assert!(parse(&long).unwrap_err().to_string().contains("too long"));
        assert!(parse("TZ=Europe/Ber lin 0 * * * *").is_err());
        assert!(parse("TZ=Europe/Ber\u{e9}lin 0 * * * *").unwrap_err().to_string().contains("invalid character"));
    }

    #[test]
    fn errors_name_the_problem() {
        let msg = |s: &str| parse(s).unwrap_err().to_string();
        assert_eq!(msg(""), "empty spec string");
        assert!(msg("* * * *").starts_with("expected exactly 5 fields, found 4"));
        assert!(msg("*/60 * * * *").contains("step (60) must be less than range size (60)"));
        assert!(msg("0 24 * * *").contains("end of range (24) above maximum (23)"));
        assert!(msg("0 0 0 * *").contains("beginning of range (0) below minimum (1)"));
        assert!(msg("5-1 * * * *").contains("beyond end of range"));
        assert!(msg("*/-1 * * * *").contains("negative number"));
        assert!(msg("x * * * *").contains("failed to parse int from x"));
        assert!(msg("@fortnightly").contains("unrecognized descriptor"));
        assert!(msg(&"* ".repeat(600)).contains("spec too long"));
    }

    #[test]
    fn parse_in_zone_is_the_prefixed_form() {
        assert!(matches!(parse_in_zone("0 * * * *", "UTC").unwrap().zone, Zone::Named(_)));
        assert!(parse_in_zone("0 * * * *", "Nowhere/City").is_err());
        assert!(parse_in_zone("TZ=UTC 0 * * * *", "UTC").is_err());
    }
}
