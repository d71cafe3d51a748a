//! `jobs`: kube_job_* families.

use super::common::{annotations, bool_f64, condition_values, created, labels, one, owner, unix_seconds};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str, Time};
use crate::{message, object};

message! {
    /// `Job`: metadata, the spec's parallelism, completions and deadline, the status.
    pub struct Job {
        1 => metadata: ObjectMeta,
        2 => spec: Option<JobSpec>,
        3 => status: Option<JobStatus>,
    }
}
object!(Job);

message! {
    pub struct JobSpec {
        1 => parallelism: Option<i32>,
        2 => completions: Option<i32>,
        3 => active_deadline_seconds: Option<i64>,
    }
}

message! {
    pub struct JobStatus {
        1 => conditions: Option<Vec<JobCondition>>,
        2 => start_time: Option<Time>,
        3 => completion_time: Option<Time>,
        omitempty 4 => active: Option<i32>,
        omitempty 5 => succeeded: Option<i32>,
        omitempty 6 => failed: Option<i32>,
        9 => ready: Option<i32>,
    }
}

message! {
    pub struct JobCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
        omitempty 5 => reason: Option<Str>,
    }
}

pub struct Jobs;

impl Resource for Jobs {
    type Obj = Job;
    type Api = k8s_openapi::api::batch::v1::Job;
    const NAME: &'static str = "jobs";
    const IDENTITY: Identity<Job> = Identity::namespaced("job_name");

    fn families() -> &'static [Family<Job>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Job>] = &[
    Family::gauge("kube_job_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_job_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_job_info", "Information about job.", Stable, one),
    Family::gauge("kube_job_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_job_spec_parallelism", "The maximum desired number of pods the job should run at any given time.", Stable, spec_parallelism),
    Family::gauge("kube_job_spec_completions", "The desired number of successfully finished pods the job should be run with.", Stable, spec_completions),
    Family::gauge("kube_job_spec_active_deadline_seconds", "The duration in seconds relative to the startTime that the job may be active before the system tries to terminate it.", Stable, spec_active_deadline_seconds),
    Family::gauge("kube_job_status_succeeded", "The number of pods which reached Phase Succeeded.", Stable, status_succeeded),
    Family::gauge("kube_job_status_failed", "The number of pods which reached Phase Failed and the reason for failure.", Stable, status_failed),
    Family::gauge("kube_job_status_active", "The number of actively running pods.", Stable, status_active),
    Family::gauge("kube_job_status_ready", "The number of ready pods that belong to this Job.", Alpha, status_ready),
    Family::gauge("kube_job_complete", "The job has completed its execution.", Stable, complete),
    Family::gauge("kube_job_failed", "The job has failed its execution.", Stable, failed),
    Family::gauge("kube_job_status_start_time", "StartTime represents time when the job was acknowledged by the Job Manager.", Stable, start_time),
    Family::gauge("kube_job_status_completion_time", "CompletionTime represents time when the job was completed.", Stable, completion_time),
    Family::gauge("kube_job_status_suspended", "The number of pods which reached Phase Suspended.", Alpha, status_suspended),
    Family::gauge("kube_job_owner", "Information about the Job's owner.", Stable, owner),
];

/// Failure reasons that get their own 0/1 series in `kube_job_status_failed`, in export order.
const FAILURE_REASONS: &[&str] = &["BackoffLimitExceeded", "DeadlineExceeded", "Evicted"];

fn spec_parallelism(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = j.spec.as_ref().and_then(|sp| sp.parallelism) {
        s.push(&[], f64::from(v));
    }
}

fn spec_completions(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = j.spec.as_ref().and_then(|sp| sp.completions) {
        s.push(&[], f64::from(v));
    }
}

fn spec_active_deadline_seconds(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = j.spec.as_ref().and_then(|sp| sp.active_deadline_seconds) {
        s.push(&[], v as f64);
    }
}

/// A status counter; an absent status or field counts as 0 like the Go zero value.
fn count(j: &Job, f: fn(&JobStatus) -> Option<i32>) -> f64 {
    f64::from(j.status.as_ref().and_then(f).unwrap_or(0))
}

fn conditions(j: &Job) -> &[JobCondition] {
    j.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default()
}

fn status_succeeded(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], count(j, |st| st.succeeded))
}

fn status_failed(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    let failed = count(j, |st| st.failed);
    if failed == 0.0 {
        s.push(&[], 0.0);
        return;
    }
    let mut reason_known = false;
    for c in conditions(j).iter().filter(|c| c.type_ == "Failed") {
        let reason = c.reason.as_deref();
        for known in FAILURE_REASONS {
            let hit = reason == Some(*known);
            reason_known |= hit;
            s.push(&[("reason", known)], bool_f64(hit));
        }
    }
    if !reason_known {
        s.push(&[("reason", "")], failed);
    }
}

fn status_active(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], count(j, |st| st.active))
}

fn status_ready(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], count(j, |st| st.ready))
}

/// One true/false/unknown triple per condition of `type_`.
fn condition_family(j: &Job, type_: &str, s: &mut Samples<'_>) {
    for c in conditions(j).iter().filter(|c| c.type_ == type_) {
        for (status, v) in condition_values(&c.status) {
            s.push(&[("condition", status)], v);
        }
    }
}

fn complete(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    condition_family(j, "Complete", s)
}

fn failed(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    condition_family(j, "Failed", s)
}

fn push_time(t: Option<&Time>, s: &mut Samples<'_>) {
    if let Some(t) = t {
        s.push(&[], unix_seconds(t));
    }
}

fn start_time(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    push_time(j.status.as_ref().and_then(|st| st.start_time.as_ref()), s)
}

fn completion_time(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    push_time(j.status.as_ref().and_then(|st| st.completion_time.as_ref()), s)
}

fn status_suspended(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    for c in conditions(j).iter().filter(|c| c.type_ == "Suspended") {
        // Unlike the condition families, only the exact status "True" counts here.
        s.push(&[], bool_f64(c.status == "True"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same, time};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let spec = pb(|sp| {
            sp.varint(1, 2);
            sp.varint(2, 4);
            sp.int64(3, 600);
            sp.varint(7, 6);
        });
        let condition = pb(|c| {
            c.string(1, "Failed");
            c.string(2, "True");
            c.message(4, &time(1_700_000_300));
            c.string(5, "DeadlineExceeded");
        });
        let status = pb(|st| {
            st.message(1, &condition);
            st.message(2, &time(1_700_000_100));
            st.message(3, &time(1_700_000_200));
            for (field, v) in [(4, 1), (5, 2), (6, 3), (9, 1)] {
                st.varint(field, v);
            }
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"parallelism": 2, "completions": 4, "activeDeadlineSeconds": 600,
                "backoffLimit": 6}}, "status": {{"conditions": [{{"type": "Failed", "status": "True",
                "lastTransitionTime": "2023-11-14T22:18:20Z", "reason": "DeadlineExceeded"}}],
                "startTime": "2023-11-14T22:15:00Z", "completionTime": "2023-11-14T22:16:40Z", "active": 1,
                "succeeded": 2, "failed": 3, "ready": 1}}}}"#
        );
        let o: Job = same(&encoded, &json);
        let status = o.status.unwrap();
        assert_eq!(status.conditions.unwrap()[0].reason.as_deref(), Some("DeadlineExceeded"));
        assert_eq!(status.completion_time.map(|t| t.unix()), Some(1_700_000_200));
    }
}
