//! `nodes`: kube_node_* families (cluster-scoped).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct Nodes;

impl Resource for Nodes {
    type Obj = Node;
    const NAME: &'static str = "nodes";

    fn identity(n: &Node) -> Vec<(&'static str, String)> {
        vec![("node", n.metadata.name.clone().unwrap_or_default())]
    }

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

fn annotations(n: &Node, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&n.metadata, &ctx.annotations, s)
}

fn created(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&n.metadata, s)
}

fn deletion_timestamp(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&n.metadata, s)
}

fn info(n: &Node, _: &Ctx, s: &mut Samples<'_>) {
    let node_info = n.status.as_ref().and_then(|st| st.node_info.as_ref());
    let ni = |f: fn(&k8s_openapi::api::core::v1::NodeSystemInfo) -> &String| node_info.map(f).map(String::as_str);
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

fn labels(n: &Node, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&n.metadata, &ctx.labels, s)
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
fn resource_list(list: Option<&BTreeMap<String, Quantity>>, s: &mut Samples<'_>) {
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

/// The unit label upstream gives a node resource, or `None` for resources it does not report.
fn resource_unit(name: &str) -> Option<&'static str> {
    match name {
        "cpu" => Some("core"),
        "memory" | "storage" | "ephemeral-storage" => Some("byte"),
        "pods" => Some("integer"),
        _ if name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") => Some("byte"),
        _ if is_extended_resource_name(name) => Some("integer"),
        _ => None,
    }
}

/// Kubernetes' rule for extended resources: a domain-prefixed name outside `kubernetes.io/`, not a quota
/// `requests.` name, and valid as a qualified name once prefixed with `requests.`.
fn is_extended_resource_name(name: &str) -> bool {
    if !name.contains('/') || name.contains("kubernetes.io/") || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}"))
}

fn is_qualified_name(value: &str) -> bool {
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    if name.contains('/') {
        return false;
    }
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return false;
    }
    let bytes = name.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 63
        && edge_ok(bytes[0])
        && edge_ok(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn is_dns1123_subdomain(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_resource_kind() {
        assert_eq!(resource_unit("cpu"), Some("core"));
        assert_eq!(resource_unit("ephemeral-storage"), Some("byte"));
        assert_eq!(resource_unit("hugepages-1Gi"), Some("byte"));
        assert_eq!(resource_unit("attachable-volumes-aws-ebs"), Some("byte"));
        assert_eq!(resource_unit("pods"), Some("integer"));
        assert_eq!(resource_unit("nvidia.com/gpu"), Some("integer"));
        assert_eq!(resource_unit("example.com/Fancy_Thing.v2"), Some("integer"));
        // Native-looking or invalid names are not reported.
        assert_eq!(resource_unit("kubernetes.io/something"), None);
        assert_eq!(resource_unit("requests.example.com/x"), None);
        assert_eq!(resource_unit("example.com/-bad"), None);
        assert_eq!(resource_unit("Example.com/x"), None);
        assert_eq!(resource_unit("unknown"), None);
    }
}
