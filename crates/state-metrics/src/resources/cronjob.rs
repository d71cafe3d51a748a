//! `cronjobs`: kube_cronjob_* families. The schedule itself is evaluated by the `cron` crate; what is
//! kube-state-metrics' own is which reference time it starts from and what is printed when there is
//! no answer ([`next_schedule_time`]).

use std::sync::LazyLock;

use cron::TimeZone;

use super::common::{annotations, bool_f64, created, labels, resource_version, unix_seconds};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::core::ObjectReference;
use crate::proj::time::GO_ZERO_SECONDS;
use crate::proj::{ObjectMeta, Str, Time};
use crate::{message, object};

message! {
    /// `CronJob`: metadata, the spec's schedule and limits, the status.
    pub struct CronJob {
        1 => metadata: ObjectMeta,
        2 => spec: Option<CronJobSpec>,
        3 => status: Option<CronJobStatus>,
    }
}
object!(CronJob);

message! {
    pub struct CronJobSpec {
        1 => schedule: Str,
        2 => starting_deadline_seconds: Option<i64>,
        omitempty 3 => concurrency_policy: Option<Str>,
        4 => suspend: Option<bool>,
        6 => successful_jobs_history_limit: Option<i32>,
        7 => failed_jobs_history_limit: Option<i32>,
        8 => time_zone: Option<Str>,
    }
}

message! {
    pub struct CronJobStatus {
        1 => active: Option<Vec<ObjectReference>>,
        4 => last_schedule_time: Option<Time>,
        5 => last_successful_time: Option<Time>,
    }
}

pub struct CronJobs;

impl Resource for CronJobs {
    type Obj = CronJob;
    type Api = k8s_openapi::api::batch::v1::CronJob;
    const NAME: &'static str = "cronjobs";
    const IDENTITY: Identity<CronJob> = Identity::namespaced("cronjob");

    fn families() -> &'static [Family<CronJob>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<CronJob>] = &[
    Family::gauge("kube_cronjob_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_cronjob_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_cronjob_info", "Info about cronjob.", Stable, info),
    Family::gauge("kube_cronjob_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_cronjob_status_active", "Active holds pointers to currently running jobs.", Stable, status_active),
    Family::gauge("kube_cronjob_status_last_schedule_time", "LastScheduleTime keeps information of when was the last time the job was successfully scheduled.", Stable, last_schedule_time),
    Family::gauge("kube_cronjob_status_last_successful_time", "LastSuccessfulTime keeps information of when was the last time the job was completed successfully.", Stable, last_successful_time),
    Family::gauge("kube_cronjob_spec_suspend", "Suspend flag tells the controller to suspend subsequent executions.", Stable, spec_suspend),
    Family::gauge("kube_cronjob_spec_starting_deadline_seconds", "Deadline in seconds for starting the job if it misses scheduled time for any reason.", Stable, starting_deadline_seconds),
    Family::gauge("kube_cronjob_next_schedule_time", "Next time the cronjob should be scheduled. The time after lastScheduleTime, or after the cron job's creation time if it's never been scheduled. Use this to determine if the job is delayed.", Stable, next_schedule),
    Family::gauge("kube_cronjob_schedule_invalid", "Emitted with value 1 for cronjobs whose schedule, in its configured timezone, cannot be parsed.", Alpha, schedule_invalid),
    Family::gauge("kube_cronjob_metadata_resource_version", "Resource version representing a specific version of the cronjob.", Stable, resource_version),
    Family::gauge("kube_cronjob_spec_successful_job_history_limit", "Successful job history limit tells the controller how many completed jobs should be preserved.", Alpha, successful_job_history_limit),
    Family::gauge("kube_cronjob_spec_failed_job_history_limit", "Failed job history limit tells the controller how many failed jobs should be preserved.", Alpha, failed_job_history_limit),
];

fn status(c: &CronJob) -> Option<&CronJobStatus> {
    c.status.as_ref()
}

fn info(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    let sp = c.spec.as_ref();
    let schedule = sp.map_or("", |sp| sp.schedule.as_str());
    let policy = sp.and_then(|sp| sp.concurrency_policy.as_deref()).unwrap_or_default();
    let tz = sp.and_then(|sp| sp.time_zone.as_deref()).unwrap_or("local");
    s.push(&[("schedule", schedule), ("concurrency_policy", policy), ("timezone", tz)], 1.0);
}

fn status_active(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    let n = status(c).and_then(|st| st.active.as_ref()).map_or(0, Vec::len);
    s.push(&[], n as f64);
}

fn push_time(t: Option<&Time>, s: &mut Samples<'_>) {
    if let Some(t) = t {
        s.push(&[], unix_seconds(t));
    }
}

fn last_schedule_time(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    push_time(status(c).and_then(|st| st.last_schedule_time.as_ref()), s)
}

fn last_successful_time(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    push_time(status(c).and_then(|st| st.last_successful_time.as_ref()), s)
}

fn suspended(c: &CronJob) -> bool {
    c.spec.as_ref().and_then(|sp| sp.suspend).unwrap_or(false)
}

fn spec_suspend(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], bool_f64(suspended(c)));
}

fn starting_deadline_seconds(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.as_ref().and_then(|sp| sp.starting_deadline_seconds) {
        s.push(&[], v as f64);
    }
}

fn successful_job_history_limit(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.as_ref().and_then(|sp| sp.successful_jobs_history_limit) {
        s.push(&[], f64::from(v));
    }
}

fn failed_job_history_limit(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = c.spec.as_ref().and_then(|sp| sp.failed_jobs_history_limit) {
        s.push(&[], f64::from(v));
    }
}

/// The zone a CronJob without `spec.timeZone` runs in: the process's local zone, as upstream (UTC in
/// the usual container without /etc/localtime or TZ).
static LOCAL_ZONE: LazyLock<TimeZone> = LazyLock::new(|| TimeZone::try_system().unwrap_or(TimeZone::UTC));

/// `time.Time{}.Unix()` in Go: what upstream exports when no fire time exists within five years.
pub const GO_ZERO_TIME_UNIX: i64 = GO_ZERO_SECONDS;

/// Why `kube_cronjob_next_schedule_time` has no sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NextError {
    /// The schedule (with its time zone) does not parse: `kube_cronjob_schedule_invalid` is 1.
    #[error("invalid schedule: {0}")]
    Invalid(cron::ParseError),
    /// Neither lastScheduleTime nor creationTimestamp is set.
    #[error("createdTime and lastScheduleTime are both zero")]
    NoReferenceTime,
    /// The next fire time lies beyond year 9999; upstream prints one in year 10000, we print none
    /// rather than a wrong one.
    #[error(transparent)]
    OutOfRange(#[from] cron::OutOfRange),
}

/// `kube_cronjob_next_schedule_time` in Unix seconds: the next fire time of `schedule` (in
/// `time_zone`, or `local` when unset) after `last_schedule`, or after `created` when the CronJob
/// never ran (Go's zero time counts as unset). When no fire time exists within five years upstream
/// exports Go's zero time, so this returns [`GO_ZERO_TIME_UNIX`].
pub fn next_schedule_time(
    schedule: &str,
    time_zone: Option<&str>,
    last_schedule: Option<Time>,
    created: Option<Time>,
    local: &TimeZone,
) -> Result<i64, NextError> {
    let parsed = match time_zone {
        Some(tz) => cron::parse_in_zone(schedule, tz),
        None => cron::parse(schedule),
    }
    .map_err(NextError::Invalid)?;
    let reference = last_schedule
        .filter(|t| !t.is_go_zero())
        .or(created.filter(|t| !t.is_go_zero()))
        .ok_or(NextError::NoReferenceTime)?;
    Ok(match parsed.next_after(reference.unix(), local)? {
        cron::Next::At(t) => t,
        cron::Next::Never => GO_ZERO_TIME_UNIX,
    })
}

fn schedule_outcome(c: &CronJob) -> Result<i64, NextError> {
    let sp = c.spec.as_ref();
    let schedule = sp.map_or("", |sp| sp.schedule.as_str());
    let time_zone = sp.and_then(|sp| sp.time_zone.as_deref());
    let last = status(c).and_then(|st| st.last_schedule_time);
    next_schedule_time(schedule, time_zone, last, c.metadata.creation_timestamp, &LOCAL_ZONE)
}

fn next_schedule(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    let (namespace, cronjob) = (c.metadata.namespace.as_deref(), c.metadata.name.as_deref());
    match schedule_outcome(c) {
        Ok(next) if !suspended(c) => s.push(&[], next as f64),
        Ok(_) => {}
        Err(NextError::Invalid(e)) => tracing::warn!(
            namespace = namespace.unwrap_or_default(),
            cronjob = cronjob.unwrap_or_default(),
            error = %e,
            "cronjob schedule cannot be parsed; kube_cronjob_next_schedule_time skipped"
        ),
        Err(e) => tracing::debug!(
            namespace = namespace.unwrap_or_default(),
            cronjob = cronjob.unwrap_or_default(),
            error = %e,
            "kube_cronjob_next_schedule_time skipped"
        ),
    }
}

fn schedule_invalid(c: &CronJob, _: &Ctx, s: &mut Samples<'_>) {
    if matches!(schedule_outcome(c), Err(NextError::Invalid(_))) {
        s.push(&[], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same, time};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let template = pb(|t| t.message(1, &pb(|m| m.string(1, "ignored"))));
        let spec = pb(|sp| {
            sp.string(1, "0 */6 * * *");
            sp.int64(2, 300);
            sp.string(3, "Forbid");
            sp.varint(4, 1);
            sp.message(5, &template);
            sp.varint(6, 3);
            sp.varint(7, 1);
            sp.string(8, "Asia/Shanghai");
        });
        let active = pb(|a| {
            a.string(1, "Job");
            a.string(2, "ns");
            a.string(3, "obj-1");
        });
        let status = pb(|st| {
            st.message(1, &active);
            st.message(1, &active);
            st.message(4, &time(1_700_000_100));
            st.message(5, &time(1_700_000_200));
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"schedule": "0 */6 * * *", "startingDeadlineSeconds": 300,
                "concurrencyPolicy": "Forbid", "suspend": true, "jobTemplate": {{"metadata": {{"name": "ignored"}}}},
                "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1, "timeZone": "Asia/Shanghai"}},
                "status": {{"active": [{{"kind": "Job", "namespace": "ns", "name": "obj-1"}},
                {{"kind": "Job", "namespace": "ns", "name": "obj-1"}}],
                "lastScheduleTime": "2023-11-14T22:15:00Z", "lastSuccessfulTime": "2023-11-14T22:16:40Z"}}}}"#
        );
        let o: CronJob = same(&encoded, &json);
        let sp = o.spec.unwrap();
        assert_eq!(
            (sp.time_zone.as_deref(), sp.suspend, sp.failed_jobs_history_limit),
            (Some("Asia/Shanghai"), Some(true), Some(1))
        );
        let st = o.status.unwrap();
        assert_eq!(st.active.map(|a| a.len()), Some(2));
        assert_eq!(st.last_successful_time.map(|t| t.unix()), Some(1_700_000_200));
    }

    fn t(seconds: i64) -> Option<Time> {
        Some(Time { seconds, nanos: 0 })
    }

    // 2018-03-11T04:34:56Z, the reference time of upstream's own test.
    const LAST: i64 = 1_520_742_896;

    #[test]
    fn last_schedule_wins_over_creation_and_one_is_required() {
        let utc = &TimeZone::UTC;
        let created = t(LAST - 86_400 * 10);
        assert_eq!(next_schedule_time("0 */6 * * *", Some("UTC"), t(LAST), created, utc), Ok(1_520_748_000));
        assert_eq!(next_schedule_time("0 */6 * * *", Some("UTC"), None, t(LAST), utc), Ok(1_520_748_000));
        assert_eq!(next_schedule_time("0 */6 * * *", None, None, None, utc), Err(NextError::NoReferenceTime));
        // Go's zero time counts as unset.
        let zero = t(GO_ZERO_TIME_UNIX);
        assert_eq!(next_schedule_time("0 */6 * * *", None, zero, zero, utc), Err(NextError::NoReferenceTime));
        assert_eq!(next_schedule_time("0 */6 * * *", None, zero, t(LAST), utc), Ok(1_520_748_000));
    }

    #[test]
    fn no_fire_time_is_go_zero_and_the_edge_of_time_is_no_answer() {
        let utc = &TimeZone::UTC;
        assert_eq!(next_schedule_time("0 0 30 2 *", None, t(LAST), None, utc), Ok(GO_ZERO_TIME_UNIX));
        // 9999-12-31T00:00:00Z: the next midnight is in year 10000.
        let far = next_schedule_time("0 0 * * *", Some("UTC"), t(253_402_214_400), None, utc);
        assert_eq!(far, Err(NextError::OutOfRange(cron::OutOfRange)));
        assert!(matches!(next_schedule_time("0 0 * *", None, t(LAST), None, utc), Err(NextError::Invalid(_))));
        // spec.timeZone plus a prefix of the schedule's own is invalid, as upstream.
        let both = next_schedule_time("TZ=UTC 0 * * * *", Some("UTC"), t(LAST), None, utc);
        assert!(matches!(both, Err(NextError::Invalid(_))));
    }
}
