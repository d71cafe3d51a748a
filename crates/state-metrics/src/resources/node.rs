//! `nodes`: kube_node_* families (cluster-scoped).

use std::collections::BTreeMap;

use super::common::{self as util, annotations, created, deletion_timestamp, labels};
use super::naming::node_resource_unit as resource_unit;
use super::{Identity, Resource};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};
use crate::proj::{ObjectMeta, Quantity, Str, Time};
use crate::{message, object};

message! {
    /// `core/v1 Node`: what the node families read.
    pub struct Node {
        1 => metadata: ObjectMeta,
        2 => spec: Option<NodeSpec>,
        3 => status: Option<NodeStatus>,
    }
}
object!(Node);

message! {
    pub struct NodeSpec {
        #[serde(rename = "podCIDR")]
        omitempty 1 => pod_cidr: Option<Str>,
        #[serde(rename = "providerID")]
        omitempty 3 => provider_id: Option<Str>,
        omitempty 4 => unschedulable: Option<bool>,
        5 => taints: Option<Vec<Taint>>,
        #[serde(rename = "podCIDRs")]
        7 => pod_cidrs: Option<Vec<Str>>,
    }
}

message! {
    pub struct Taint {
        1 => key: Str,
        omitempty 2 => value: Option<Str>,
        3 => effect: Str,
        4 => time_added: Option<Time>,
    }
}

message! {
    pub struct NodeStatus {
        1 => capacity: Option<BTreeMap<Str, Quantity>>,
        2 => allocatable: Option<BTreeMap<Str, Quantity>>,
        4 => conditions: Option<Vec<NodeCondition>>,
        5 => addresses: Option<Vec<NodeAddress>>,
        7 => node_info: Option<NodeSystemInfo>,
    }
}

message! {
    pub struct NodeCondition {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => status: Str,
    }
}

message! {
    pub struct NodeAddress {
        #[serde(rename = "type")]
        1 => type_: Str,
        2 => address: Str,
    }
}

message! {
    pub struct NodeSystemInfo {
        #[serde(rename = "systemUUID")]
        2 => system_uuid: Str,
        4 => kernel_version: Str,
        5 => os_image: Str,
        6 => container_runtime_version: Str,
        7 => kubelet_version: Str,
    }
}

pub struct Nodes;

impl Resource for Nodes {
    type Obj = Node;
    type Api = k8s_openapi::api::core::v1::Node;
    const NAME: &'static str = "nodes";
    const IDENTITY: Identity<Node> = Identity::cluster("node");

    fn families() -> &'static [Family<Node>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Node>] = &[
    Family { name: "kube_node_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_node_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_node_deletion_timestamp", help: "Unix deletion timestamp", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: deletion_timestamp },
    Family { name: "kube_node_info", help: "Information about a cluster node.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_node_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_node_role", help: "The role of a cluster node.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: role },
    Family { name: "kube_node_spec_pod_cidrs", help: "The pod CIDRs of a cluster node.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: spec_pod_cidrs },
    Family { name: "kube_node_spec_taint", help: "The taint of a cluster node.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_taint },
    Family { name: "kube_node_spec_unschedulable", help: "Whether a node can schedule new pods.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: spec_unschedulable },
    Family { name: "kube_node_status_allocatable", help: "The allocatable for different resources of a node that are available for scheduling.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_allocatable },
    Family { name: "kube_node_status_capacity", help: "The capacity for different resources of a node.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_capacity },
    Family { name: "kube_node_status_condition", help: "The condition of a cluster node.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: status_condition },
    Family { name: "kube_node_status_addresses", help: "Node address information.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: status_addresses },
];

const ROLE_PREFIX: &str = "node-role.kubernetes.io/";

fn info(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    let node_info = n.status.as_ref().and_then(|st| st.node_info.as_ref());
    let ni = |f: fn(&NodeSystemInfo) -> &Str| node_info.map(f).map(Str::as_str);
    let spec = n.spec.as_ref();
    // With several InternalIP entries (dual stack) upstream keeps overwriting, so the last one wins.
    let internal_ip = n
        .status
        .as_ref()
        .and_then(|st| st.addresses.as_deref())
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.as_str());
    s.push(
        &[
            ("kernel_version", ni(|i| &i.kernel_version).unwrap_or_default()),
            ("os_image", ni(|i| &i.os_image).unwrap_or_default()),
            ("container_runtime_version", ni(|i| &i.container_runtime_version).unwrap_or_default()),
            ("kubelet_version", ni(|i| &i.kubelet_version).unwrap_or_default()),
            // The kubelet stopped reporting kube-proxy's version; upstream keeps the label with a fixed value.
            ("kubeproxy_version", "deprecated"),
            ("provider_id", spec.and_then(|sp| sp.provider_id.as_deref()).unwrap_or_default()),
            ("pod_cidr", spec.and_then(|sp| sp.pod_cidr.as_deref()).unwrap_or_default()),
            ("system_uuid", ni(|i| &i.system_uuid).unwrap_or_default()),
            ("internal_ip", internal_ip.unwrap_or_default()),
        ],
        1.0,
    );
}

/// Upstream walks a Go map (random order); label keys sorted is the deterministic equivalent.
fn role(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    for key in n.metadata.labels.iter().flat_map(|l| l.keys()) {
        if let Some(role) = key.strip_prefix(ROLE_PREFIX) {
            s.push(&[("role", role)], 1.0);
        }
    }
}

fn spec_pod_cidrs(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    for cidr in n.spec.as_ref().and_then(|sp| sp.pod_cidrs.as_deref()).unwrap_or_default() {
        s.push(&[("pod_cidr", cidr)], 1.0);
    }
}

fn spec_taint(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    for t in n.spec.as_ref().and_then(|sp| sp.taints.as_deref()).unwrap_or_default() {
        s.push(&[("key", &t.key), ("value", t.value.as_deref().unwrap_or_default()), ("effect", &t.effect)], 1.0);
    }
}

fn spec_unschedulable(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], util::bool_f64(n.spec.as_ref().and_then(|sp| sp.unschedulable).unwrap_or(false)));
}

fn status_allocatable(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    resource_list(n.status.as_ref().and_then(|st| st.allocatable.as_ref()), s)
}

fn status_capacity(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    resource_list(n.status.as_ref().and_then(|st| st.capacity.as_ref()), s)
}

fn status_condition(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    for c in n.status.as_ref().and_then(|st| st.conditions.as_deref()).unwrap_or_default() {
        for (status, v) in util::condition_values(&c.status) {
            s.push(&[("condition", &c.type_), ("status", status)], v);
        }
    }
}

fn status_addresses(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    for a in n.status.as_ref().and_then(|st| st.addresses.as_deref()).unwrap_or_default() {
        s.push(&[("type", &a.type_), ("address", &a.address)], 1.0);
    }
}

/// One `resource`/`unit` sample per known resource of a capacity/allocatable list; unknown native
/// resources are skipped. Every value goes through [`util::quantity_cores`] (milli precision, so bytes
/// can be fractional; the plain value beyond the milli range).
fn resource_list(list: Option<&BTreeMap<Str, Quantity>>, s: &mut Samples<'_>) {
    for (name, q) in list.into_iter().flatten() {
        let Some(unit) = resource_unit(name) else {
            continue;
        };
        let Some(v) = util::quantity_cores(q) else {
            tracing::debug!(resource = %name, quantity = %q.0, "skipping unparsable node quantity");
            continue;
        };
        // Only invalid characters are replaced here (no snake-casing): `hugepages-2Mi` → `hugepages_2Mi`.
        s.push(&[("resource", &exposition::sanitize_name(name)), ("unit", unit)], v);
    }
}
