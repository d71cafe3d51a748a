//! Cron schedules as Kubernetes CronJobs write them (`spec.schedule`, `spec.timeZone`): parsing, and the
//! first fire time after a given instant. Pure: "now" only enters as the reference time, and the zone
//! of schedules without one is a parameter.
//!
//! The accepted syntax and the answers are those of the Go cron library kube-state-metrics v2.20
//! evaluates `kube_cronjob_next_schedule_time` with (its `ParseStandard` and `Next`), so edge cases
//! print the same numbers:
//!
//! - five fields, minute hour day-of-month month day-of-week, each a comma list of `*`, `?`, `N`,
//!   `N-M`, `*/S`, `N/S` (from N to the end of the field) or `N-M/S`; month and weekday names
//!   (`jan`, `MON`) in any case; a step must be smaller than its range (`*/60` in the minute field is
//!   an error), and no negative numbers;
//! - or a descriptor: `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`,
//!   `@every <Go duration>` (at least one second; lower case only);
//! - an optional `TZ=<zone> ` or `CRON_TZ=<zone> ` prefix naming an IANA zone (case-sensitive, as Go
//!   reads zone files), `UTC` or `Local`;
//! - the search gives up after five years ([`Next::Never`]), and wall-clock arithmetic around DST
//!   changes is Go's: an hour skipped by a spring-forward jump still fires right after the gap, a
//!   repeated wall time fires twice, a day whose midnight does not exist is skipped by a daily
//!   midnight schedule.
//!
//! One deliberate difference: a restricted day-of-month and a restricted day-of-week combine with OR
//! (either may match) unless either field holds a plain `*` or `?` (`*/1` counts as one, `*/2` does
//! not) — the rule of the CronJob controller that actually starts the jobs (and of Vixie cron). The library behind kube-state-metrics v2.20 ANDs them
//! and so predicts runs that never happen (docs/compatibility.md).
//!
//! Invalid input is an error, never a panic; every input is bounded (the spec's length, the number of
//! search steps), so a hostile schedule costs little.
//!
//! ```
//! let s = cron::parse("CRON_TZ=Asia/Shanghai 0 */6 * * *").unwrap();
//! // 2018-03-11T04:34:56Z is 12:34:56 in Shanghai: next is 18:00 there, 10:00Z.
//! assert_eq!(s.next_after(1_520_742_896, &cron::TimeZone::UTC), Ok(cron::Next::At(1_520_762_400)));
//! assert!(cron::parse("*/60 * * * *").is_err());
//! ```

mod next;
mod parse;

pub use jiff::tz::TimeZone;
pub use parse::{ParseError, parse, parse_in_zone};

/// The number of years after the reference time within which a fire time is searched.
pub const HORIZON_YEARS: i64 = 5;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: Zone,
    kind: Kind,
}

/// The zone a schedule's wall-clock fields are read in.
#[derive(Debug, Clone)]
enum Zone {
    /// The zone the caller passes for schedules without their own.
    Local,
    Named(TimeZone),
}

#[derive(Debug, Clone)]
enum Kind {
    /// One bit per allowed value of each field (bit 63: the field started with `*` or `?`).
    Fields { minute: u64, hour: u64, dom: u64, month: u64, dow: u64 },
    /// `@every`: a fixed delay in whole seconds.
    Every { seconds: i64 },
}

/// The outcome of [`Schedule::next_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The first fire time, in Unix seconds.
    At(i64),
    /// No fire time within [`HORIZON_YEARS`] (e.g. `0 0 30 2 *`, February 30th).
    Never,
}

/// The search left the range of times with a four-digit year (beyond 9999-12-30 or before year 1 in
/// some zone), where no wall-clock time can be named; the library behind upstream would go on into
/// year 10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the next fire time is beyond the representable range of times")]
pub struct OutOfRange;

impl Schedule {
    /// The first fire time strictly after `after` (Unix seconds; a sub-second part of the reference
    /// time must be dropped towards minus infinity by the caller, as `floor`). `local` is the zone of
    /// schedules without a `TZ=`/`CRON_TZ=` prefix (or with `Local`).
    pub fn next_after(&self, after: i64, local: &TimeZone) -> Result<Next, OutOfRange> {
        match &self.kind {
            Kind::Every { seconds } => {
                let at = after.checked_add(*seconds).ok_or(OutOfRange)?;
                jiff::Timestamp::from_second(at).map_err(|_| OutOfRange)?;
                Ok(Next::At(at))
            }
            Kind::Fields { minute, hour, dom, month, dow } => {
                let tz = match &self.zone {
                    Zone::Local => local,
                    Zone::Named(tz) => tz,
                };
                let sets = next::Sets { minute: *minute, hour: *hour, dom: *dom, month: *month, dow: *dow };
                next::search(&sets, after.checked_add(1).ok_or(OutOfRange)?, tz)
            }
        }
    }
}
