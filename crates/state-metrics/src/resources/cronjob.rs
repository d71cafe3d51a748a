//! `cronjobs`: kube_cronjob_* families, plus the cron schedule evaluation behind
//! `kube_cronjob_next_schedule_time` (see [`schedule`]).

use std::sync::LazyLock;

use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;

use super::Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct CronJobs;

impl Resource for CronJobs {
    type Obj = CronJob;
    const NAME: &'static str = "cronjobs";

    fn identity(c: &CronJob) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", c.metadata.namespace.clone().unwrap_or_default()),
            ("cronjob", c.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<CronJob>] {
        FAMILIES
    }
}

use Stability::{Alpha, Stable};

#[rustfmt::skip]
static FAMILIES: &[Family<CronJob>] = &[
    gauge("kube_cronjob_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_cronjob_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    gauge("kube_cronjob_info", "Info about cronjob.", Stable, info),
    gauge("kube_cronjob_created", "Unix creation timestamp", Stable, created),
    gauge("kube_cronjob_status_active", "Active holds pointers to currently running jobs.", Stable, status_active),
    gauge("kube_cronjob_status_last_schedule_time", "LastScheduleTime keeps information of when was the last time the job was successfully scheduled.", Stable, last_schedule_time),
    gauge("kube_cronjob_status_last_successful_time", "LastSuccessfulTime keeps information of when was the last time the job was completed successfully.", Stable, last_successful_time),
    gauge("kube_cronjob_spec_suspend", "Suspend flag tells the controller to suspend subsequent executions.", Stable, spec_suspend),
    gauge("kube_cronjob_spec_starting_deadline_seconds", "Deadline in seconds for starting the job if it misses scheduled time for any reason.", Stable, starting_deadline_seconds),
    gauge("kube_cronjob_next_schedule_time", "Next time the cronjob should be scheduled. The time after lastScheduleTime, or after the cron job's creation time if it's never been scheduled. Use this to determine if the job is delayed.", Stable, next_schedule_time),
    gauge("kube_cronjob_schedule_invalid", "Emitted with value 1 for cronjobs whose schedule, in its configured timezone, cannot be parsed.", Alpha, schedule_invalid),
    gauge("kube_cronjob_metadata_resource_version", "Resource version representing a specific version of the cronjob.", Stable, resource_version),
    gauge("kube_cronjob_spec_successful_job_history_limit", "Successful job history limit tells the controller how many completed jobs should be preserved.", Alpha, successful_job_history_limit),
    gauge("kube_cronjob_spec_failed_job_history_limit", "Failed job history limit tells the controller how many failed jobs should be preserved.", Alpha, failed_job_history_limit),
];

fn annotations(c: &CronJob, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&c.metadata, &ctx.annotations, s)
}

fn labels(c: &CronJob, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&c.metadata, &ctx.labels, s)
}

fn info(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    let schedule = c.spec.schedule.as_str();
    let policy = c.spec.concurrency_policy.as_deref().unwrap_or_default();
    let tz = c.spec.time_zone.as_deref().unwrap_or("local");
    s.push(&[("schedule", schedule), ("concurrency_policy", policy), ("timezone", tz)], 1.0);
}

fn created(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&c.metadata, s)
}

fn status_active(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    let n = c.status.as_ref().and_then(|st| st.active.as_ref()).map_or(0, Vec::len);
    s.push(&[], n as f64);
}

fn last_schedule_time(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = c.status.as_ref().and_then(|st| st.last_schedule_time.as_ref()) {
        s.push(&[], util::unix_seconds(t));
    }
}

fn last_successful_time(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = c.status.as_ref().and_then(|st| st.last_successful_time.as_ref()) {
        s.push(&[], util::unix_seconds(t));
    }
}

fn suspended(c: &CronJob) -> bool {
    c.spec.suspend.unwrap_or(false)
}

fn spec_suspend(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], util::bool_f64(suspended(c)));
}

fn starting_deadline_seconds(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.starting_deadline_seconds {
        s.push(&[], v as f64);
    }
}

/// The zone a CronJob without `spec.timeZone` runs in: the process's local zone, as upstream (UTC in
/// the usual container without /etc/localtime or TZ).
static LOCAL_ZONE: LazyLock<TimeZone> = LazyLock::new(|| TimeZone::try_system().unwrap_or(TimeZone::UTC));

fn schedule_outcome(c: &CronJob) -> Result<i64, schedule::NextError> {
    let sched = c.spec.schedule.as_str();
    let tz = c.spec.time_zone.as_deref();
    let last = c.status.as_ref().and_then(|st| st.last_schedule_time.as_ref()).map(|t| t.0);
    let created = c.metadata.creation_timestamp.as_ref().map(|t| t.0);
    schedule::next_schedule_time(sched, tz, last, created, &LOCAL_ZONE)
}

fn next_schedule_time(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    match schedule_outcome(c) {
        Ok(next) if !suspended(c) => s.push(&[], next as f64),
        Ok(_) => {}
        Err(schedule::NextError::Invalid(e)) => tracing::warn!(
            namespace = c.metadata.namespace.as_deref().unwrap_or_default(),
            cronjob = c.metadata.name.as_deref().unwrap_or_default(),
            error = %e,
            "cronjob schedule cannot be parsed; kube_cronjob_next_schedule_time skipped"
        ),
        Err(e @ schedule::NextError::NoReferenceTime) => tracing::debug!(
            namespace = c.metadata.namespace.as_deref().unwrap_or_default(),
            cronjob = c.metadata.name.as_deref().unwrap_or_default(),
            error = %e,
            "kube_cronjob_next_schedule_time skipped"
        ),
    }
}

fn schedule_invalid(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if matches!(schedule_outcome(c), Err(schedule::NextError::Invalid(_))) {
        s.push(&[], 1.0);
    }
}

fn resource_version(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&c.metadata, s)
}

fn successful_job_history_limit(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.successful_jobs_history_limit {
        s.push(&[], f64::from(v));
    }
}

fn failed_job_history_limit(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.failed_jobs_history_limit {
        s.push(&[], f64::from(v));
    }
}

/// Cron schedules as kube-state-metrics v2.20 evaluates them (its Go cron library's `ParseStandard`
/// plus `Next`), reimplemented so the edge cases match: five fields or an `@descriptor`, optional
/// `TZ=`/`CRON_TZ=` prefix, strict ranges (a step must be smaller than its range), day-of-month and
/// day-of-week combined with OR unless either is a plain `*`, a five-year search horizon, and the same
/// wall-clock arithmetic around DST changes. Everything here is pure: "now" only enters through the
/// reference time, the local zone is a parameter.
pub mod schedule {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

    /// `time.Time{}.Unix()` in Go: what upstream exports when no fire time exists within five years.
    pub const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

    const STAR: u64 = 1 << 63;
    const MAX_SPEC_LEN: usize = 1024;
    /// Far more steps than any real schedule needs within the five-year horizon; a guard, not a limit
    /// upstream has.
    const MAX_STEPS: u32 = 5_000_000;

    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("{0}")]
    pub struct ParseError(String);

    fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError(msg.into()))
    }

    /// Why no next schedule time could be computed.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum NextError {
        /// The schedule (with its time zone) does not parse: `kube_cronjob_schedule_invalid` is 1.
        #[error("invalid schedule: {0}")]
        Invalid(ParseError),
        /// Neither lastScheduleTime nor creationTimestamp is set.
        #[error("createdTime and lastScheduleTime are both zero")]
        NoReferenceTime,
    }

    #[derive(Debug, Clone)]
    enum Zone {
        Local,
        Named(TimeZone),
    }

    #[derive(Debug, Clone)]
    enum Kind {
        Fields { minute: u64, hour: u64, dom: u64, month: u64, dow: u64 },
        Every { seconds: i64 },
    }

    /// A parsed schedule.
    #[derive(Debug, Clone)]
    pub struct Schedule {
        zone: Zone,
        kind: Kind,
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

    fn range(expr: &str, b: &Bounds) -> Result<u64, ParseError> {
        let range_step: Vec<&str> = expr.split('/').collect();
        let low_high: Vec<&str> = range_step[0].split('-').collect();
        let single = low_high.len() == 1;
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

    fn field(f: &str, b: &Bounds) -> Result<u64, ParseError> {
        f.split(',').filter(|r| !r.is_empty()).try_fold(0, |acc, r| Ok(acc | range(r, b)?))
    }

    fn zone_by_name(name: &str) -> Result<Zone, ParseError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+' | ':');
        if name.is_empty() {
            return err("empty timezone string");
        }
        if name.len() > 64 {
            return err("timezone string too long (max 64 chars)");
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

    /// Parses a schedule exactly as Kubernetes CronJobs are evaluated upstream; `spec` may carry a
    /// `TZ=`/`CRON_TZ=` prefix.
    pub fn parse(spec: &str) -> Result<Schedule, ParseError> {
        if spec.is_empty() {
            return err("empty spec string");
        }
        if spec.len() > MAX_SPEC_LEN {
            return err(format!("spec too long: {} > {MAX_SPEC_LEN}", spec.len()));
        }
        let (zone, rest) = if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let Some(space) = spec.find(' ') else {
                return err(format!("missing fields after timezone in spec {spec:?}"));
            };
            let eq = spec.find('=').unwrap_or(0);
            let zone = zone_by_name(&spec[eq + 1..space])?;
            let rest = spec[space..].trim();
            if rest.is_empty() {
                return err("missing fields after timezone in spec");
            }
            (zone, rest)
        } else {
            (Zone::Local, spec)
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

    /// Wall-clock fields of an instant in a zone.
    #[derive(Clone, Copy)]
    struct Civil {
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
        weekday: i64,
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
    }

    /// A zone plus Go's `time` arithmetic on it, on whole unix seconds.
    struct Clock<'a> {
        tz: &'a TimeZone,
    }

    impl Clock<'_> {
        fn offset(&self, unix: i64) -> Option<i64> {
            let ts = Timestamp::from_second(unix).ok()?;
            Some(i64::from(self.tz.to_offset(ts).seconds()))
        }

        fn civil(&self, unix: i64) -> Option<Civil> {
            let local = unix + self.offset(unix)?;
            let days = local.div_euclid(86_400);
            let secs = local.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(days);
            Some(Civil {
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
        fn date(&self, y: i64, m: i64, d: i64, h: i64, min: i64, s: i64) -> Option<i64> {
            let m0 = m - 1;
            let (y, m) = (y + m0.div_euclid(12), m0.rem_euclid(12) + 1);
            let local = (days_from_civil(y, m, 1) + d - 1) * 86_400 + h * 3600 + min * 60 + s;
            let guess = self.offset(local)?;
            if guess == 0 {
                return Some(local);
            }
            Some(local - self.offset(local - guess)?)
        }

        /// `t.AddDate(0, months, days)`.
        fn add_date(&self, unix: i64, months: i64, days: i64) -> Option<i64> {
            let c = self.civil(unix)?;
            self.date(c.year, c.month + months, c.day + days, c.hour, c.minute, c.second)
        }
    }

    fn has(set: u64, v: i64) -> bool {
        (0..63).contains(&v) && set & (1 << v) != 0
    }

    impl Schedule {
        /// The first fire time strictly after `after` (whole seconds; sub-second parts are dropped
        /// first), or `None` when there is none within five years. `local` is the zone of schedules
        /// without a time zone.
        pub fn next(&self, after: Timestamp, local: &TimeZone) -> Option<Timestamp> {
            let mut secs = after.as_second();
            if after.subsec_nanosecond() < 0 {
                secs -= 1;
            }
            let next = match &self.kind {
                Kind::Every { seconds } => secs.checked_add(*seconds),
                Kind::Fields { .. } => {
                    let tz = match &self.zone {
                        Zone::Local => local,
                        Zone::Named(tz) => tz,
                    };
                    self.next_fields(secs + 1, &Clock { tz })
                }
            };
            next.and_then(|s| Timestamp::from_second(s).ok())
        }

        fn next_fields(&self, start: i64, clock: &Clock<'_>) -> Option<i64> {
            let Kind::Fields { minute, hour, dom, month, dow } = self.kind else {
                return None;
            };
            let day_matches = |c: &Civil| {
                let d = has(dom, c.day);
                let w = has(dow, c.weekday);
                if (dom | dow) & STAR != 0 { d && w } else { d || w }
            };
            let mut t = start;
            let mut added = false;
            let year_limit = clock.civil(t)?.year + 5;
            let mut steps = 0u32;
            let mut step = || {
                steps += 1;
                (steps <= MAX_STEPS).then_some(())
            };
            'wrap: loop {
                step()?;
                if clock.civil(t)?.year > year_limit {
                    return None;
                }
                while !has(month, clock.civil(t)?.month) {
                    step()?;
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
                while !day_matches(&clock.civil(t)?) {
                    step()?;
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
                while !has(hour, clock.civil(t)?.hour) {
                    step()?;
                    if !added {
                        added = true;
                        let c = clock.civil(t)?;
                        t = clock.date(c.year, c.month, c.day, c.hour, 0, 0)?;
                    }
                    let prev = clock.civil(t)?.hour;
                    t += 3600;
                    let now = clock.civil(t)?.hour;
                    // An hour skipped by a DST jump still fires, at the first wall time after it.
                    if now - prev == 2 && has(hour, now - 1) {
                        break;
                    }
                    if now == 0 {
                        continue 'wrap;
                    }
                }
                while !has(minute, clock.civil(t)?.minute) {
                    step()?;
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
                    step()?;
                    added = true;
                    t += 1;
                    if clock.civil(t)?.second == 0 {
                        continue 'wrap;
                    }
                }
                return Some(t);
            }
        }
    }

    fn is_go_zero(t: Timestamp) -> bool {
        t.as_second() == GO_ZERO_TIME_UNIX && t.subsec_nanosecond() == 0
    }

    /// `kube_cronjob_next_schedule_time` in unix seconds: the next fire time of `schedule` (in
    /// `time_zone`, or `local` when unset) after `last_schedule`, or after `created` when the CronJob
    /// never ran. When no fire time exists within five years upstream exports Go's zero time, so this
    /// returns [`GO_ZERO_TIME_UNIX`].
    pub fn next_schedule_time(
        schedule: &str,
        time_zone: Option<&str>,
        last_schedule: Option<Timestamp>,
        created: Option<Timestamp>,
        local: &TimeZone,
    ) -> Result<i64, NextError> {
        let parsed = match time_zone {
            Some(tz) => parse(&format!("CRON_TZ={tz} {schedule}")),
            None => parse(schedule),
        }
        .map_err(NextError::Invalid)?;
        let reference = last_schedule
            .filter(|t| !is_go_zero(*t))
            .or(created.filter(|t| !is_go_zero(*t)))
            .ok_or(NextError::NoReferenceTime)?;
        Ok(parsed.next(reference, local).map_or(GO_ZERO_TIME_UNIX, |t| t.as_second()))
    }
}
