//! `networkpolicies`: kube_networkpolicy_* families (networking/v1).

use super::common::{annotations, labels, unix_seconds};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::proj::time::GO_ZERO_SECONDS;
use crate::{message, object};

message! {
    /// `NetworkPolicy`: metadata and how many ingress and egress rules it has.
    pub struct NetworkPolicy {
        1 => metadata: ObjectMeta,
        2 => spec: Option<NetworkPolicySpec>,
    }
}
object!(NetworkPolicy);

message! {
    pub struct NetworkPolicySpec {
        2 => ingress: Option<Vec<NetworkPolicyIngressRule>>,
        3 => egress: Option<Vec<NetworkPolicyEgressRule>>,
    }
}

message! {
    /// Counted only: none of its fields is read.
    pub struct NetworkPolicyIngressRule {}
}

message! {
    /// Counted only: none of its fields is read.
    pub struct NetworkPolicyEgressRule {}
}

pub struct NetworkPolicies;

impl Resource for NetworkPolicies {
    type Obj = NetworkPolicy;
    type Api = k8s_openapi::api::networking::v1::NetworkPolicy;
    const NAME: &'static str = "networkpolicies";
    const IDENTITY: Identity<NetworkPolicy> = Identity::namespaced("networkpolicy");

    fn families() -> &'static [Family<NetworkPolicy>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<NetworkPolicy>] = &[
    Family::gauge("kube_networkpolicy_created", "Unix creation timestamp of network policy", Alpha, created),
    Family::gauge("kube_networkpolicy_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_networkpolicy_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
    Family::gauge("kube_networkpolicy_spec_ingress_rules", "Number of ingress rules on the networkpolicy", Alpha, spec_ingress_rules),
    Family::gauge("kube_networkpolicy_spec_egress_rules", "Number of egress rules on the networkpolicy", Alpha, spec_egress_rules),
];

/// Unlike other `_created` families this one has no zero check upstream, so an object without a
/// creationTimestamp reports Go's zero time.
fn created(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    let v = o.metadata.creation_timestamp.as_ref().map_or(GO_ZERO_SECONDS as f64, unix_seconds);
    s.push(&[], v);
}

fn spec_ingress_rules(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.spec.as_ref().and_then(|sp| sp.ingress.as_ref()).map_or(0, Vec::len) as f64);
}

fn spec_egress_rules(o: &NetworkPolicy, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], o.spec.as_ref().and_then(|sp| sp.egress.as_ref()).map_or(0, Vec::len) as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let rule = pb(|r| r.message(1, &pb(|p| p.varint(2, 443))));
        let spec = pb(|sp| {
            sp.message(1, &[]);
            sp.message(2, &rule);
            sp.message(2, &[]);
            sp.message(3, &rule);
            sp.string(4, "Ingress");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"podSelector": {{}}, "ingress": [{{"ports": [{{"port": 443}}]}}, {{}}],
                "egress": [{{"ports": [{{"port": 443}}]}}], "policyTypes": ["Ingress"]}}}}"#
        );
        let o: NetworkPolicy = same(&encoded, &json);
        let spec = o.spec.unwrap();
        assert_eq!((spec.ingress.unwrap().len(), spec.egress.unwrap().len()), (2, 1));
    }
}
