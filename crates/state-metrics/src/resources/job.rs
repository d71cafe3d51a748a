//! `jobs`: kube_job_* families.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::{Ctx, Family, Samples, Stability};

pub struct Jobs;

impl Resource for Jobs {
    type Obj = Job;
    const NAME: &'static str = "jobs";

    fn identity(j: &Job) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", j.metadata.namespace.clone().unwrap_or_default()),
            ("job_name", j.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Job>] {
        FAMILIES
    }
}

use Stability::{Alpha, Stable};

#[rustfmt::skip]
static FAMILIES: &[Family<Job>] = &[
    gauge("kube_job_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    gauge("kube_job_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    gauge("kube_job_info", "Information about job.", Stable, info),
    gauge("kube_job_created", "Unix creation timestamp", Stable, created),
    gauge("kube_job_spec_parallelism", "The maximum desired number of pods the job should run at any given time.", Stable, spec_parallelism),
    gauge("kube_job_spec_completions", "The desired number of successfully finished pods the job should be run with.", Stable, spec_completions),
    gauge("kube_job_spec_active_deadline_seconds", "The duration in seconds relative to the startTime that the job may be active before the system tries to terminate it.", Stable, spec_active_deadline_seconds),
    gauge("kube_job_status_succeeded", "The number of pods which reached Phase Succeeded.", Stable, status_succeeded),
    gauge("kube_job_status_failed", "The number of pods which reached Phase Failed and the reason for failure.", Stable, status_failed),
    gauge("kube_job_status_active", "The number of actively running pods.", Stable, status_active),
    gauge("kube_job_status_ready", "The number of ready pods that belong to this Job.", Alpha, status_ready),
    gauge("kube_job_complete", "The job has completed its execution.", Stable, complete),
    gauge("kube_job_failed", "The job has failed its execution.", Stable, failed),
    gauge("kube_job_status_start_time", "StartTime represents time when the job was acknowledged by the Job Manager.", Stable, start_time),
    gauge("kube_job_status_completion_time", "CompletionTime represents time when the job was completed.", Stable, completion_time),
    gauge("kube_job_status_suspended", "The number of pods which reached Phase Suspended.", Alpha, status_suspended),
    gauge("kube_job_owner", "Information about the Job's owner.", Stable, owner),
];

/// Failure reasons that get their own 0/1 series in `kube_job_status_failed`, in export order.
const FAILURE_REASONS: &[&str] = &["BackoffLimitExceeded", "DeadlineExceeded", "Evicted"];

fn annotations(j: &Job, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&j.metadata, &ctx.annotations, s)
}

fn labels(j: &Job, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&j.metadata, &ctx.labels, s)
}

fn info(_: &Job, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0)
}

fn created(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&j.metadata, s)
}

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
            s.push(&[("reason", known)], util::bool_f64(hit));
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
        for (status, v) in util::condition_values(&c.status) {
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
        s.push(&[], util::unix_seconds(t));
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
        s.push(&[], util::bool_f64(c.status == "True"));
    }
}

fn owner(j: &Job, _: &Ctx, s: &mut Samples<'_>) {
    util::owner_refs_family(&j.metadata, true, s)
}
