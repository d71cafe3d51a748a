//! `resourcequotas`: kube_resourcequota_* families.

use k8s_openapi::api::core::v1::ResourceQuota;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct ResourceQuotas;

impl Resource for ResourceQuotas {
    type Obj = ResourceQuota;
    const NAME: &'static str = "resourcequotas";

    fn identity(o: &ResourceQuota) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("resourcequota", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ResourceQuota>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ResourceQuota>] = &[
    Family { name: "kube_resourcequota_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_resourcequota", help: "Information about resource quota.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: resourcequota },
    Family { name: "kube_resourcequota_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_resourcequota_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
];

fn created(o: &ResourceQuota, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

/// All `hard` entries, then all `used` ones, from the status (what the quota controller enforces).
/// Resource names are not sanitised (`requests.nvidia.com/gpu` stays as is); values are
/// [`util::quantity_cores`]; within a map upstream's order is random, here it is by resource.
fn resourcequota(o: &ResourceQuota, _: &Ctx, s: &mut Samples<'_>) {
    let status = o.status.as_ref();
    let lists = [("hard", status.and_then(|st| st.hard.as_ref())), ("used", status.and_then(|st| st.used.as_ref()))];
    for (type_, list) in lists {
        for (resource, q) in list.into_iter().flatten() {
            if let Some(v) = util::quantity_cores(q) {
                s.push(&[("resource", resource), ("type", type_)], v);
            }
        }
    }
}

fn annotations(o: &ResourceQuota, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &ResourceQuota, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}
