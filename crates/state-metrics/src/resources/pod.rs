//! `pods`: the 60 families of kube-state-metrics v2.20 for `core/v1` Pod, in upstream's order.
//!
//! Where upstream reads a non-pointer `metav1.Time` that the object leaves unset (a running container
//! without `startedAt`, a condition without `lastTransitionTime`), Go sees the zero time and prints its
//! Unix value; [`unix_or_go_zero`] reproduces that so the output stays byte-identical.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use super::common::{self as util, annotations, created, deletion_timestamp, labels};
use super::naming::container_resource_unit as resource_unit;
use super::{Identity, Resource};
use crate::family::{Ctx, Family, KeyAllow, MetricType, Samples, Stability};
use crate::proj::{Message, ObjectMeta, Quantity, Str, Time};
use crate::{message, object};

message! {
    /// `core/v1 Pod`: what the pod families read.
    pub struct Pod {
        1 => metadata: ObjectMeta,
        2 => spec: Option<PodSpec>,
        3 => status: Option<PodStatus>,
    }
}
object!(Pod);

message! {
    pub struct PodSpec {
        1 => volumes: Option<Vec<Volume>>,
        2 => containers: Vec<Container>,
        omitempty 3 => restart_policy: Option<Str>,
        7 => node_selector: Option<BTreeMap<Str, Str>>,
        omitempty 8 => service_account_name: Option<Str>,
        omitempty 10 => node_name: Option<Str>,
        omitempty 11 => host_network: Option<bool>,
        omitempty 19 => scheduler_name: Option<Str>,
        20 => init_containers: Option<Vec<Container>>,
        22 => tolerations: Option<Vec<Toleration>>,
        omitempty 24 => priority_class_name: Option<Str>,
        29 => runtime_class_name: Option<Str>,
        32 => overhead: Option<BTreeMap<Str, Quantity>>,
        39 => resource_claims: Option<Vec<PodResourceClaim>>,
    }
}

message! {
    pub struct PodStatus {
        omitempty 1 => phase: Option<Str>,
        2 => conditions: Option<Vec<PodCondition>>,
        omitempty 3 => message: Option<Str>,
        omitempty 4 => reason: Option<Str>,
        #[serde(rename = "hostIP")]
        omitempty 5 => host_ip: Option<Str>,
        #[serde(rename = "podIP")]
        omitempty 6 => pod_ip: Option<Str>,
        7 => start_time: Option<Time>,
        8 => container_statuses: Option<Vec<ContainerStatus>>,
        omitempty 9 => qos_class: Option<Str>,
        10 => init_container_statuses: Option<Vec<ContainerStatus>>,
        omitempty 11 => nominated_node_name: Option<Str>,
        #[serde(rename = "podIPs")]
        12 => pod_ips: Option<Vec<PodIP>>,
        15 => resource_claim_statuses: Option<Vec<PodResourceClaimStatus>>,
    }
}

message! {
    pub struct Container {
        1 => name: Str,
        omitempty 2 => image: Option<Str>,
        8 => resources: Option<ResourceRequirements>,
        24 => restart_policy: Option<Str>,
    }
}

message! {
    pub struct ResourceRequirements {
        1 => limits: Option<BTreeMap<Str, Quantity>>,
        2 => requests: Option<BTreeMap<Str, Quantity>>,
    }
}

message! {
    pub struct ContainerStatus {
        1 => name: Str,
        2 => state: Option<ContainerState>,
        3 => last_state: Option<ContainerState>,
        4 => ready: bool,
        5 => restart_count: i32,
        6 => image: Str,
        #[serde(rename = "imageID")]
        7 => image_id: Str,
        #[serde(rename = "containerID")]
        omitempty 8 => container_id: Option<Str>,
        9 => started: Option<bool>,
    }
}

message! {
    pub struct ContainerState {
        1 => waiting: Option<ContainerStateWaiting>,
        2 => running: Option<ContainerStateRunning>,
        3 => terminated: Option<ContainerStateTerminated>,
    }
}

message! {
    pub struct ContainerStateWaiting {
        omitempty 1 => reason: Option<Str>,
        omitempty 2 => message: Option<Str>,
    }
}

message! {
    pub struct ContainerStateRunning {
        1 => started_at: Option<Time>,
    }
}

message! {
    pub struct ContainerStateTerminated {
        1 => exit_code: i32,
        omitempty 2 => signal: Option<i32>,
        omitempty 3 => reason: Option<Str>,
        omitempty 4 => message: Option<Str>,
        5 => started_at: Option<Time>,
        6 => finished_at: Option<Time>,
    }
}

message! {
    pub struct PodCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
        3 => last_probe_time: Option<Time>,
        4 => last_transition_time: Option<Time>,
        omitempty 5 => reason: Option<Str>,
        omitempty 6 => message: Option<Str>,
    }
}

message! {
    pub struct PodIP {
        1 => ip: Str,
    }
}

message! {
    pub struct Toleration {
        omitempty 1 => key: Option<Str>,
        omitempty 2 => operator: Option<Str>,
        omitempty 3 => value: Option<Str>,
        omitempty 4 => effect: Option<Str>,
        5 => toleration_seconds: Option<i64>,
    }
}

message! {
    pub struct PodResourceClaim {
        1 => name: Str,
        3 => resource_claim_name: Option<Str>,
        4 => resource_claim_template_name: Option<Str>,
    }
}

message! {
    pub struct PodResourceClaimStatus {
        1 => name: Str,
        2 => resource_claim_name: Option<Str>,
    }
}

/// `core/v1 Volume`. Its `VolumeSource` is inline in JSON (`{"name": …, "persistentVolumeClaim": …}`)
/// but a message of its own (field 2) in protobuf.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Volume {
    #[serde(deserialize_with = "crate::proj::nullable")]
    pub name: Str,
    #[serde(deserialize_with = "crate::proj::nullable")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    #[serde(deserialize_with = "crate::proj::nullable")]
    pub ephemeral: Option<EphemeralVolumeSource>,
}

message! {
    /// The part of `core/v1 VolumeSource` the pod families read.
    pub struct VolumeSource {
        10 => persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
        29 => ephemeral: Option<EphemeralVolumeSource>,
    }
}

impl Message for Volume {
    fn merge(&mut self, f: kwire::Field<'_>) -> Result<(), kwire::WireError> {
        match (f.number, f.value) {
            (1, v) => crate::proj::PbField::merge_value(&mut self.name, v),
            (2, kwire::Value::Bytes(b)) => {
                let src = VolumeSource::decode(b)?;
                self.persistent_volume_claim = src.persistent_volume_claim;
                self.ephemeral = src.ephemeral;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

message! {
    pub struct PersistentVolumeClaimVolumeSource {
        1 => claim_name: Str,
        omitempty 2 => read_only: Option<bool>,
    }
}

message! {
    /// Only whether it is there matters.
    pub struct EphemeralVolumeSource {}
}

/// Marker type for the `pods` resource.
pub struct Pods;

impl Resource for Pods {
    type Obj = Pod;
    type Api = k8s_openapi::api::core::v1::Pod;
    const NAME: &'static str = "pods";
    const IDENTITY: Identity<Pod> = Identity::namespaced("pod").with_uid();

    fn families() -> &'static [Family<Pod>] {
        FAMILIES
    }
}

const fn fam(
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    stability: Stability,
    generate: fn(&Pod, &Ctx, &mut Samples<'_>),
) -> Family<Pod> {
    Family { name, help, kind, stability, deprecated_since: None, opt_in: false, generate }
}

use MetricType::{Counter, Gauge};
use Stability::{Alpha, Stable};

static FAMILIES: &[Family<Pod>] = &[
    fam("kube_pod_completion_time", "Completion time in unix timestamp for a pod.", Gauge, Stable, completion_time),
    fam("kube_pod_container_info", "Information about a container in a pod.", Gauge, Stable, container_info),
    fam(
        "kube_pod_container_resource_limits",
        "The number of requested limit resource by a container. It is recommended to use the kube_pod_resource_limits metric exposed by kube-scheduler instead, as it is more precise.",
        Gauge,
        Stable,
        container_limits,
    ),
    fam(
        "kube_pod_container_resource_requests",
        "The number of requested request resource by a container. It is recommended to use the kube_pod_resource_requests metric exposed by kube-scheduler instead, as it is more precise.",
        Gauge,
        Stable,
        container_requests,
    ),
    fam(
        "kube_pod_container_state_started",
        "Start time in unix timestamp for a pod container.",
        Gauge,
        Stable,
        container_state_started,
    ),
    fam(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state.",
        Gauge,
        Alpha,
        container_last_terminated_reason,
    ),
    fam(
        "kube_pod_container_status_last_terminated_exitcode",
        "Describes the exit code for the last container in terminated state.",
        Gauge,
        Alpha,
        container_last_terminated_exitcode,
    ),
    fam(
        "kube_pod_container_status_last_terminated_timestamp",
        "Last terminated time for a pod container in unix timestamp.",
        Gauge,
        Alpha,
        container_last_terminated_timestamp,
    ),
    fam(
        "kube_pod_container_status_ready",
        "Describes whether the containers readiness check succeeded.",
        Gauge,
        Stable,
        container_ready,
    ),
    fam(
        "kube_pod_container_status_restarts_total",
        "The number of container restarts per container.",
        Counter,
        Stable,
        container_restarts,
    ),
    fam(
        "kube_pod_container_status_running",
        "Describes whether the container is currently in running state.",
        Gauge,
        Stable,
        container_running,
    ),
    fam(
        "kube_pod_container_status_terminated",
        "Describes whether the container is currently in terminated state.",
        Gauge,
        Stable,
        container_terminated,
    ),
    fam(
        "kube_pod_container_status_terminated_reason",
        "Describes the reason the container is currently in terminated state.",
        Gauge,
        Alpha,
        container_terminated_reason,
    ),
    fam(
        "kube_pod_container_status_waiting",
        "Describes whether the container is currently in waiting state.",
        Gauge,
        Stable,
        container_waiting,
    ),
    fam(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state.",
        Gauge,
        Stable,
        container_waiting_reason,
    ),
    fam("kube_pod_created", "Unix creation timestamp", Gauge, Stable, created),
    fam("kube_pod_deletion_timestamp", "Unix deletion timestamp", Gauge, Alpha, deletion_timestamp),
    fam("kube_pod_info", "Information about pod.", Gauge, Stable, info),
    fam("kube_pod_ips", "Pod IP addresses", Gauge, Alpha, ips),
    fam("kube_pod_init_container_info", "Information about an init container in a pod.", Gauge, Stable, init_info),
    fam(
        "kube_pod_init_container_resource_limits",
        "The number of requested limit resource by an init container.",
        Gauge,
        Alpha,
        init_limits,
    ),
    fam(
        "kube_pod_init_container_resource_requests",
        "The number of requested request resource by an init container.",
        Gauge,
        Alpha,
        init_requests,
    ),
    fam(
        "kube_pod_init_container_state_started",
        "Start time in unix timestamp for a pod init container.",
        Gauge,
        Alpha,
        init_state_started,
    ),
    fam(
        "kube_pod_init_container_status_last_terminated_reason",
        "Describes the last reason the init container was in terminated state.",
        Gauge,
        Alpha,
        init_last_terminated_reason,
    ),
    fam(
        "kube_pod_init_container_status_last_terminated_exitcode",
        "Describes the exit code for the last init container in terminated state.",
        Gauge,
        Alpha,
        init_last_terminated_exitcode,
    ),
    fam(
        "kube_pod_init_container_status_last_terminated_timestamp",
        "Last terminated time for a pod init container in unix timestamp.",
        Gauge,
        Alpha,
        init_last_terminated_timestamp,
    ),
    fam(
        "kube_pod_init_container_status_ready",
        "Describes whether the init containers readiness check succeeded.",
        Gauge,
        Stable,
        init_ready,
    ),
    fam(
        "kube_pod_init_container_status_restarts_total",
        "The number of restarts for the init container.",
        Counter,
        Stable,
        init_restarts,
    ),
    fam(
        "kube_pod_init_container_status_running",
        "Describes whether the init container is currently in running state.",
        Gauge,
        Stable,
        init_running,
    ),
    fam(
        "kube_pod_init_container_status_terminated",
        "Describes whether the init container is currently in terminated state.",
        Gauge,
        Stable,
        init_terminated,
    ),
    fam(
        "kube_pod_init_container_status_terminated_reason",
        "Describes the reason the init container is currently in terminated state.",
        Gauge,
        Alpha,
        init_terminated_reason,
    ),
    fam(
        "kube_pod_init_container_status_waiting",
        "Describes whether the init container is currently in waiting state.",
        Gauge,
        Stable,
        init_waiting,
    ),
    fam(
        "kube_pod_init_container_status_waiting_reason",
        "Describes the reason the init container is currently in waiting state.",
        Gauge,
        Alpha,
        init_waiting_reason,
    ),
    fam("kube_pod_annotations", "Kubernetes annotations converted to Prometheus labels.", Gauge, Alpha, annotations),
    fam("kube_pod_labels", "Kubernetes labels converted to Prometheus labels.", Gauge, Stable, labels),
    fam(
        "kube_pod_overhead_cpu_cores",
        "The pod overhead in regards to cpu cores associated with running a pod.",
        Gauge,
        Alpha,
        overhead_cpu_cores,
    ),
    fam(
        "kube_pod_overhead_memory_bytes",
        "The pod overhead in regards to memory associated with running a pod.",
        Gauge,
        Alpha,
        overhead_memory_bytes,
    ),
    fam("kube_pod_owner", "Information about the Pod's owner.", Gauge, Stable, owner),
    fam(
        "kube_pod_resourceclaim_info",
        "Information about a DRA ResourceClaim referenced by a pod, one series per pod.spec.resourceClaims entry; claim_name is the pod-local reference and resourceclaim_name is the resolved ResourceClaim object name.",
        Gauge,
        Alpha,
        resourceclaim_info,
    ),
    fam("kube_pod_restart_policy", "Describes the restart policy in use by this pod.", Gauge, Stable, restart_policy),
    fam("kube_pod_runtimeclass_name_info", "The runtimeclass associated with the pod.", Gauge, Alpha, runtimeclass),
    fam(
        "kube_pod_spec_volumes_persistentvolumeclaims_info",
        "Information about persistentvolumeclaim and ephemeral volumes in a pod.",
        Gauge,
        Stable,
        pvc_info,
    ),
    fam(
        "kube_pod_spec_volumes_persistentvolumeclaims_readonly",
        "Describes whether a persistentvolumeclaim is mounted read only. Ephemeral volumes always report 0 since the ephemeral volume source does not support a read-only flag.",
        Gauge,
        Stable,
        pvc_readonly,
    ),
    fam("kube_pod_start_time", "Start time in unix timestamp for a pod.", Gauge, Stable, start_time),
    fam("kube_pod_status_phase", "The pods current phase.", Gauge, Stable, status_phase),
    fam("kube_pod_status_qos_class", "The pods current qosClass.", Gauge, Alpha, status_qos_class),
    fam("kube_pod_status_ready", "Describes whether the pod is ready to serve requests.", Gauge, Stable, status_ready),
    fam(
        "kube_pod_status_ready_time",
        "Readiness achieved time in unix timestamp for a pod.",
        Gauge,
        Alpha,
        status_ready_time,
    ),
    fam(
        "kube_pod_status_initialized_time",
        "Initialized time in unix timestamp for a pod.",
        Gauge,
        Alpha,
        status_initialized_time,
    ),
    fam(
        "kube_pod_status_container_ready_time",
        "Readiness achieved time in unix timestamp for a pod containers.",
        Gauge,
        Alpha,
        status_container_ready_time,
    ),
    fam("kube_pod_status_reason", "The pod status reasons", Gauge, Alpha, status_reason),
    fam(
        "kube_pod_status_disruption_reason",
        "The pod disruption condition reason",
        Gauge,
        Alpha,
        status_disruption_reason,
    ),
    fam(
        "kube_pod_status_scheduled",
        "Describes the status of the scheduling process for the pod.",
        Gauge,
        Stable,
        status_scheduled,
    ),
    fam(
        "kube_pod_status_scheduled_time",
        "Unix timestamp when pod moved into scheduled status",
        Gauge,
        Stable,
        status_scheduled_time,
    ),
    fam(
        "kube_pod_status_unschedulable",
        "Describes the unschedulable status for the pod.",
        Gauge,
        Stable,
        status_unschedulable,
    ),
    fam(
        "kube_pod_status_unscheduled_time",
        "Unix timestamp when pod moved into unscheduled status",
        Gauge,
        Alpha,
        status_unscheduled_time,
    ),
    fam("kube_pod_tolerations", "Information about the pod tolerations", Gauge, Alpha, tolerations),
    Family {
        name: "kube_pod_nodeselectors",
        help: "Describes the Pod nodeSelectors.",
        kind: Gauge,
        stability: Alpha,
        deprecated_since: None,
        opt_in: true,
        generate: nodeselectors,
    },
    fam("kube_pod_service_account", "The service account for a pod.", Gauge, Alpha, service_account),
    fam("kube_pod_scheduler", "The scheduler for a pod.", Gauge, Alpha, scheduler),
];

// ---------------------------------------------------------------------------------------------------------
// Accessors: a pod may arrive without spec or status (e.g. a metadata-only fixture); treat those as empty,
// which is what Go's zero-valued structs give upstream.

fn spec(p: &Pod) -> Option<&PodSpec> {
    p.spec.as_ref()
}

fn status(p: &Pod) -> Option<&PodStatus> {
    p.status.as_ref()
}

fn containers(p: &Pod) -> &[Container] {
    spec(p).map_or(&[], |s| s.containers.as_slice())
}

fn init_containers(p: &Pod) -> &[Container] {
    spec(p).and_then(|s| s.init_containers.as_deref()).unwrap_or_default()
}

fn statuses(p: &Pod) -> &[ContainerStatus] {
    status(p).and_then(|s| s.container_statuses.as_deref()).unwrap_or_default()
}

fn init_statuses(p: &Pod) -> &[ContainerStatus] {
    status(p).and_then(|s| s.init_container_statuses.as_deref()).unwrap_or_default()
}

fn conditions(p: &Pod) -> &[PodCondition] {
    status(p).and_then(|s| s.conditions.as_deref()).unwrap_or_default()
}

fn node_name(p: &Pod) -> &str {
    spec(p).and_then(|s| s.node_name.as_deref()).unwrap_or_default()
}

fn or_empty(s: &Option<Str>) -> &str {
    s.as_deref().unwrap_or_default()
}

/// Unix seconds of a timestamp upstream holds by value: an unset one is Go's zero time.
fn unix_or_go_zero(t: Option<&Time>) -> f64 {
    t.map_or(util::GO_ZERO_TIME_UNIX, util::unix_seconds)
}

fn state(cs: &ContainerStatus) -> Option<&ContainerState> {
    cs.state.as_ref()
}

fn last_terminated(cs: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())
}

// ---------------------------------------------------------------------------------------------------------
// Container-status families, shared between regular and init containers.

fn state_started(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        let Some(st) = state(cs) else { continue };
        let started = if let Some(r) = &st.running {
            r.started_at.as_ref()
        } else if let Some(t) = &st.terminated {
            t.started_at.as_ref()
        } else {
            continue;
        };
        s.push(&[("container", &cs.name)], unix_or_go_zero(started));
    }
}

fn last_terminated_reason(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        if let Some(t) = last_terminated(cs) {
            s.push(&[("container", &cs.name), ("reason", or_empty(&t.reason))], 1.0);
        }
    }
}

fn last_terminated_exitcode(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        if let Some(t) = last_terminated(cs) {
            s.push(&[("container", &cs.name)], f64::from(t.exit_code));
        }
    }
}

fn last_terminated_timestamp(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        if let Some(finished) = last_terminated(cs).and_then(|t| t.finished_at.as_ref()) {
            s.push(&[("container", &cs.name)], util::unix_seconds(finished));
        }
    }
}

fn per_status(list: &[ContainerStatus], s: &mut Samples<'_>, value: fn(&ContainerStatus) -> f64) {
    for cs in list {
        s.push(&[("container", &cs.name)], value(cs));
    }
}

fn is_ready(cs: &ContainerStatus) -> f64 {
    util::bool_f64(cs.ready)
}

fn restart_count(cs: &ContainerStatus) -> f64 {
    f64::from(cs.restart_count)
}

fn is_running(cs: &ContainerStatus) -> f64 {
    util::bool_f64(state(cs).is_some_and(|s| s.running.is_some()))
}

fn is_terminated(cs: &ContainerStatus) -> f64 {
    util::bool_f64(state(cs).is_some_and(|s| s.terminated.is_some()))
}

fn is_waiting(cs: &ContainerStatus) -> f64 {
    util::bool_f64(state(cs).is_some_and(|s| s.waiting.is_some()))
}

fn terminated_reason(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        if let Some(t) = state(cs).and_then(|st| st.terminated.as_ref()) {
            s.push(&[("container", &cs.name), ("reason", or_empty(&t.reason))], 1.0);
        }
    }
}

fn waiting_reason(list: &[ContainerStatus], s: &mut Samples<'_>) {
    for cs in list {
        if let Some(w) = state(cs).and_then(|st| st.waiting.as_ref()) {
            s.push(&[("container", &cs.name), ("reason", or_empty(&w.reason))], 1.0);
        }
    }
}

/// `*_info`: one series per spec container that has a status of the same name (a container without a
/// status yet has nothing to report).
fn container_info_series(
    specs: &[Container],
    list: &[ContainerStatus],
    with_restart_policy: bool,
    s: &mut Samples<'_>,
) {
    for c in specs {
        for cs in list.iter().filter(|cs| cs.name == c.name) {
            let mut labels = vec![
                ("container", cs.name.as_str()),
                ("image_spec", or_empty(&c.image)),
                ("image", cs.image.as_str()),
                ("image_id", cs.image_id.as_str()),
                ("container_id", or_empty(&cs.container_id)),
            ];
            if with_restart_policy {
                labels.push(("restart_policy", or_empty(&c.restart_policy)));
            }
            s.push(&labels, 1.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Resource requests/limits.

fn resource_series(
    p: &Pod,
    specs: &[Container],
    pick: fn(&ResourceRequirements) -> Option<&BTreeMap<Str, Quantity>>,
    s: &mut Samples<'_>,
) {
    let node = node_name(p);
    for c in specs {
        let Some(map) = c.resources.as_ref().and_then(pick) else { continue };
        for (name, q) in map {
            let Some(unit) = resource_unit(name) else { continue };
            let Some(v) = util::quantity_value(name, q) else { continue };
            let resource = util::sanitize_resource_name(name);
            s.push(&[("container", &c.name), ("node", node), ("resource", &resource), ("unit", unit)], v);
        }
    }
}

fn limits_of(r: &ResourceRequirements) -> Option<&BTreeMap<Str, Quantity>> {
    r.limits.as_ref()
}

fn requests_of(r: &ResourceRequirements) -> Option<&BTreeMap<Str, Quantity>> {
    r.requests.as_ref()
}

// ---------------------------------------------------------------------------------------------------------
// Generators, in table order.

fn completion_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    // Upstream keeps the first finish time it sees (even the zero time) and then the maximum, and only
    // reports a positive result.
    let mut last = 0.0_f64;
    for cs in statuses(p) {
        if let Some(t) = state(cs).and_then(|st| st.terminated.as_ref()) {
            let finished = unix_or_go_zero(t.finished_at.as_ref());
            if last == 0.0 || last < finished {
                last = finished;
            }
        }
    }
    if last > 0.0 {
        s.push(&[], last);
    }
}

fn container_info(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    container_info_series(containers(p), statuses(p), false, s);
}

fn container_limits(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    resource_series(p, containers(p), limits_of, s);
}

fn container_requests(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    resource_series(p, containers(p), requests_of, s);
}

fn container_state_started(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    state_started(statuses(p), s);
}

fn container_last_terminated_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_reason(statuses(p), s);
}

fn container_last_terminated_exitcode(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_exitcode(statuses(p), s);
}

fn container_last_terminated_timestamp(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_timestamp(statuses(p), s);
}

fn container_ready(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(statuses(p), s, is_ready);
}

fn container_restarts(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(statuses(p), s, restart_count);
}

fn container_running(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(statuses(p), s, is_running);
}

fn container_terminated(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(statuses(p), s, is_terminated);
}

fn container_terminated_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    terminated_reason(statuses(p), s);
}

fn container_waiting(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(statuses(p), s, is_waiting);
}

fn container_waiting_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    waiting_reason(statuses(p), s);
}

fn info(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let controller = p.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    let (kind, name) = controller.map_or(("", ""), |o| (o.kind.as_str(), o.name.as_str()));
    let st = status(p);
    let sp = spec(p);
    let host_network = if sp.and_then(|s| s.host_network).unwrap_or(false) { "true" } else { "false" };
    s.push(
        &[
            ("host_ip", st.and_then(|s| s.host_ip.as_deref()).unwrap_or_default()),
            ("pod_ip", st.and_then(|s| s.pod_ip.as_deref()).unwrap_or_default()),
            ("node", node_name(p)),
            ("created_by_kind", kind),
            ("created_by_name", name),
            ("priority_class", sp.and_then(|s| s.priority_class_name.as_deref()).unwrap_or_default()),
            ("host_network", host_network),
        ],
        1.0,
    );
}

/// Parses dotted-quad IPv4 the lenient way Kubernetes does (`ParseIPSloppy`: leading zeros allowed and
/// read as decimal).
fn is_sloppy_ipv4(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let mut v: u32 = 0;
        for b in part.bytes() {
            v = v * 10 + u32::from(b - b'0');
            if v > 255 {
                return false;
            }
        }
    }
    n == 4
}

/// `"4"`, `"6"` or `None` when the address does not parse. IPv4-mapped IPv6 addresses count as IPv4.
fn ip_family(ip: &str) -> Option<&'static str> {
    if is_sloppy_ipv4(ip) {
        return Some("4");
    }
    let v6: Ipv6Addr = ip.parse().ok()?;
    Some(if v6.to_ipv4_mapped().is_some() { "4" } else { "6" })
}

fn ips(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    for ip in status(p).and_then(|st| st.pod_ips.as_deref()).unwrap_or_default() {
        if let Some(family) = ip_family(&ip.ip) {
            s.push(&[("ip", &ip.ip), ("ip_family", family)], 1.0);
        }
    }
}

fn init_info(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    container_info_series(init_containers(p), init_statuses(p), true, s);
}

fn init_limits(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    resource_series(p, init_containers(p), limits_of, s);
}

fn init_requests(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    resource_series(p, init_containers(p), requests_of, s);
}

fn init_state_started(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    state_started(init_statuses(p), s);
}

fn init_last_terminated_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_reason(init_statuses(p), s);
}

fn init_last_terminated_exitcode(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_exitcode(init_statuses(p), s);
}

fn init_last_terminated_timestamp(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    last_terminated_timestamp(init_statuses(p), s);
}

fn init_ready(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(init_statuses(p), s, is_ready);
}

fn init_restarts(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(init_statuses(p), s, restart_count);
}

fn init_running(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(init_statuses(p), s, is_running);
}

fn init_terminated(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(init_statuses(p), s, is_terminated);
}

fn init_terminated_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    terminated_reason(init_statuses(p), s);
}

fn init_waiting(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    per_status(init_statuses(p), s, is_waiting);
}

fn init_waiting_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    waiting_reason(init_statuses(p), s);
}

fn overhead(p: &Pod, resource: &str) -> Option<f64> {
    let q = spec(p)?.overhead.as_ref()?.get(resource)?;
    util::quantity_value(resource, q)
}

fn overhead_cpu_cores(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = overhead(p, "cpu") {
        s.push(&[], v);
    }
}

fn overhead_memory_bytes(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(v) = overhead(p, "memory") {
        s.push(&[], v);
    }
}

fn owner(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let owners = p.metadata.owner_references.as_deref().unwrap_or_default();
    if owners.is_empty() {
        s.push(&[("owner_kind", ""), ("owner_name", ""), ("owner_is_controller", "")], 1.0);
        return;
    }
    for o in owners {
        let is_controller = if o.controller == Some(true) { "true" } else { "false" };
        s.push(&[("owner_kind", &o.kind), ("owner_name", &o.name), ("owner_is_controller", is_controller)], 1.0);
    }
}

fn resourceclaim_info(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let claim_statuses = status(p).and_then(|st| st.resource_claim_statuses.as_deref()).unwrap_or_default();
    for claim in spec(p).and_then(|sp| sp.resource_claims.as_deref()).unwrap_or_default() {
        let (name, template) = match (&claim.resource_claim_name, &claim.resource_claim_template_name) {
            (Some(n), _) => (n.as_str(), ""),
            // The claim generated from a template is named in the status once the controller created it.
            (None, Some(t)) => {
                let generated = claim_statuses
                    .iter()
                    .find(|cs| cs.name == claim.name)
                    .and_then(|cs| cs.resource_claim_name.as_deref())
                    .unwrap_or_default();
                (generated, t.as_str())
            }
            // The API requires one of the two; an entry with neither refers to nothing.
            (None, None) => continue,
        };
        s.push(
            &[("claim_name", &claim.name), ("resourceclaim_name", name), ("resourceclaim_template_name", template)],
            1.0,
        );
    }
}

fn restart_policy(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("type", spec(p).and_then(|sp| sp.restart_policy.as_deref()).unwrap_or_default())], 1.0);
}

fn runtimeclass(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(rc) = spec(p).and_then(|sp| sp.runtime_class_name.as_deref()) {
        s.push(&[("runtimeclass_name", rc)], 1.0);
    }
}

/// Every volume backed by a claim: `(volume, claim name, "true"/"false" ephemeral, read-only)`.
/// Generic ephemeral volumes get a claim named `<pod>-<volume>` by the ephemeral-volume controller.
fn claim_volumes(p: &Pod) -> Vec<(&str, String, &'static str, bool)> {
    let pod_name = p.metadata.name.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for v in spec(p).and_then(|sp| sp.volumes.as_deref()).unwrap_or_default() {
        if let Some(pvc) = &v.persistent_volume_claim {
            out.push((v.name.as_str(), pvc.claim_name.to_string(), "false", pvc.read_only.unwrap_or(false)));
        } else if v.ephemeral.is_some() {
            out.push((v.name.as_str(), format!("{pod_name}-{}", v.name), "true", false));
        }
    }
    out
}

fn pvc_info(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    for (volume, claim, ephemeral, _) in claim_volumes(p) {
        s.push(&[("volume", volume), ("persistentvolumeclaim", &claim), ("ephemeral", ephemeral)], 1.0);
    }
}

fn pvc_readonly(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    for (volume, claim, ephemeral, read_only) in claim_volumes(p) {
        s.push(
            &[("volume", volume), ("persistentvolumeclaim", &claim), ("ephemeral", ephemeral)],
            util::bool_f64(read_only),
        );
    }
}

fn start_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = status(p).and_then(|st| st.start_time.as_ref()) {
        s.push(&[], util::unix_seconds(t));
    }
}

/// One 0/1 series per value of `all`, in that order; nothing when `current` is empty.
fn state_set(label: &str, all: &[&str], current: &str, s: &mut Samples<'_>) {
    if current.is_empty() {
        return;
    }
    for v in all {
        s.push(&[(label, v)], util::bool_f64(*v == current));
    }
}

fn status_phase(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let phase = status(p).and_then(|st| st.phase.as_deref()).unwrap_or_default();
    state_set("phase", &["Pending", "Succeeded", "Failed", "Unknown", "Running"], phase, s);
}

fn status_qos_class(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let class = status(p).and_then(|st| st.qos_class.as_deref()).unwrap_or_default();
    state_set("qos_class", &["BestEffort", "Burstable", "Guaranteed"], class, s);
}

/// `condition=true|false|unknown` for every condition of the given type.
fn condition_series(p: &Pod, type_: &str, s: &mut Samples<'_>) {
    for c in conditions(p).iter().filter(|c| c.type_ == type_) {
        for (label, v) in util::condition_values(&c.status) {
            s.push(&[("condition", label)], v);
        }
    }
}

/// The transition time of every condition of `type_` whose status is exactly `status`.
fn condition_time(p: &Pod, type_: &str, status: &str, s: &mut Samples<'_>) {
    for c in conditions(p).iter().filter(|c| c.type_ == type_ && c.status == status) {
        s.push(&[], unix_or_go_zero(c.last_transition_time.as_ref()));
    }
}

fn status_ready(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_series(p, "Ready", s);
}

fn status_ready_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_time(p, "Ready", "True", s);
}

fn status_initialized_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_time(p, "Initialized", "True", s);
}

fn status_container_ready_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_time(p, "ContainersReady", "True", s);
}

/// Reasons `kube_pod_status_reason` names; anything else in `status.reason` is reported as `Other`.
const POD_STATUS_REASONS: &[&str] = &[
    "Evicted",
    "NodeAffinity",
    "NodeLost",
    "PreemptionByScheduler",
    "SchedulingGated",
    "Shutdown",
    "TerminationByKubelet",
    "UnexpectedAdmissionError",
];

fn status_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let pod_reason = status(p).and_then(|st| st.reason.as_deref()).unwrap_or_default();
    let present = |reason: &str| {
        pod_reason == reason
            || conditions(p).iter().any(|c| c.reason.as_deref() == Some(reason))
            || statuses(p).iter().any(|cs| {
                state(cs).and_then(|st| st.terminated.as_ref()).and_then(|t| t.reason.as_deref()) == Some(reason)
            })
    };
    for reason in POD_STATUS_REASONS.iter().filter(|r| present(r)) {
        s.push(&[("reason", reason)], 1.0);
    }
    if !pod_reason.is_empty() && !POD_STATUS_REASONS.contains(&pod_reason) {
        s.push(&[("reason", "Other")], 1.0);
    }
}

const DISRUPTION_REASONS: &[&str] = &[
    "PreemptionByScheduler",
    "DeletionByTaintManager",
    "EvictionByEvictionAPI",
    "DeletionByPodGC",
    "TerminationByKubelet",
];

fn status_disruption_reason(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    for c in conditions(p).iter().filter(|c| c.type_ == "DisruptionTarget") {
        let reason = c.reason.as_deref().unwrap_or_default();
        let label = if DISRUPTION_REASONS.contains(&reason) { reason } else { "Other" };
        s.push(&[("reason", label)], 1.0);
    }
}

fn status_scheduled(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_series(p, "PodScheduled", s);
}

fn status_scheduled_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_time(p, "PodScheduled", "True", s);
}

fn status_unschedulable(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    for _ in conditions(p).iter().filter(|c| c.type_ == "PodScheduled" && c.status == "False") {
        s.push(&[], 1.0);
    }
}

fn status_unscheduled_time(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    condition_time(p, "PodScheduled", "False", s);
}

fn tolerations(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    let mut seen: Vec<[String; 5]> = Vec::new();
    for t in spec(p).and_then(|sp| sp.tolerations.as_deref()).unwrap_or_default() {
        let row = [
            or_empty(&t.key).to_owned(),
            or_empty(&t.operator).to_owned(),
            or_empty(&t.value).to_owned(),
            or_empty(&t.effect).to_owned(),
            t.toleration_seconds.map(|v| v.to_string()).unwrap_or_default(),
        ];
        if seen.contains(&row) {
            continue;
        }
        s.push(
            &[
                ("key", &row[0]),
                ("operator", &row[1]),
                ("value", &row[2]),
                ("effect", &row[3]),
                ("toleration_seconds", &row[4]),
            ],
            1.0,
        );
        seen.push(row);
    }
}

fn nodeselectors(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    // Not subject to the label allowlist: every nodeSelector entry is exported.
    let selector = spec(p).and_then(|sp| sp.node_selector.as_ref());
    s.push_owned(&util::kube_map_labels("nodeselector", selector, &KeyAllow::All), 1.0);
}

fn service_account(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("service_account", spec(p).and_then(|sp| sp.service_account_name.as_deref()).unwrap_or_default())], 1.0);
}

fn scheduler(p: &Pod, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("name", spec(p).and_then(|sp| sp.scheduler_name.as_deref()).unwrap_or_default())], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_families() {
        assert_eq!(ip_family("10.0.0.1"), Some("4"));
        assert_eq!(ip_family("010.001.0.1"), Some("4"));
        assert_eq!(ip_family("fd00::1"), Some("6"));
        assert_eq!(ip_family("::ffff:10.1.2.3"), Some("4"));
        assert_eq!(ip_family("::"), Some("6"));
        assert_eq!(ip_family("256.1.1.1"), None);
        assert_eq!(ip_family("1.2.3"), None);
        assert_eq!(ip_family("not-an-ip"), None);
        assert_eq!(ip_family(""), None);
        assert_eq!(ip_family("fe80::1%eth0"), None);
    }

    #[test]
    fn go_zero_time_for_unset_timestamps() {
        assert_eq!(unix_or_go_zero(None), -62_135_596_800.0);
    }
}
