//! `resourcequotas`: kube_resourcequota_* families.

use std::collections::BTreeMap;

use super::common::{annotations, created, labels, quantity_cores};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Quantity, Str};
use crate::{message, object};

message! {
    /// `ResourceQuota`: metadata and the enforced (status) hard limits and usage.
    pub struct ResourceQuota {
        1 => metadata: ObjectMeta,
        3 => status: Option<ResourceQuotaStatus>,
    }
}
object!(ResourceQuota);

message! {
    pub struct ResourceQuotaStatus {
        1 => hard: Option<BTreeMap<Str, Quantity>>,
        2 => used: Option<BTreeMap<Str, Quantity>>,
    }
}

pub struct ResourceQuotas;

impl Resource for ResourceQuotas {
    type Obj = ResourceQuota;
    type Api = k8s_openapi::api::core::v1::ResourceQuota;
    const NAME: &'static str = "resourcequotas";
    const IDENTITY: Identity<ResourceQuota> = Identity::namespaced("resourcequota");

    fn families() -> &'static [Family<ResourceQuota>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ResourceQuota>] = &[
    Family::gauge("kube_resourcequota_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_resourcequota", "Information about resource quota.", Stable, resourcequota),
    Family::gauge("kube_resourcequota_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_resourcequota_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
];

/// All `hard` entries, then all `used` ones, from the status (what the quota controller enforces).
/// Resource names are not sanitised (`requests.nvidia.com/gpu` stays as is); values are
/// [`quantity_cores`]; within a map upstream's order is random, here it is by resource.
fn resourcequota(o: &ResourceQuota, _: &Ctx, s: &mut Samples<'_>) {
    let status = o.status.as_ref();
    let lists = [("hard", status.and_then(|st| st.hard.as_ref())), ("used", status.and_then(|st| st.used.as_ref()))];
    for (type_, list) in lists {
        for (resource, q) in list.into_iter().flatten() {
            if let Some(v) = quantity_cores(q) {
                s.push(&[("resource", resource), ("type", type_)], v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry_msg, meta, pb, quantity, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let status = pb(|st| {
            entry_msg(st, 1, "pods", &quantity("10"));
            entry_msg(st, 1, "requests.cpu", &quantity("4"));
            entry_msg(st, 2, "pods", &quantity("3"));
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|sp| entry_msg(sp, 1, "pods", &quantity("12"))));
            w.message(3, &status);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"hard": {{"pods": "12"}}}},
                "status": {{"hard": {{"pods": "10", "requests.cpu": "4"}}, "used": {{"pods": "3"}}}}}}"#
        );
        let o: ResourceQuota = same(&encoded, &json);
        assert_eq!(o.status.unwrap().hard.unwrap().len(), 2);
    }
}
