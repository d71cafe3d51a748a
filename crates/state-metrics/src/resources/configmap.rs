//! `configmaps`: kube_configmap_* families.

use k8s_openapi::api::core::v1::ConfigMap;

use super::{Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct ConfigMaps;

impl Resource for ConfigMaps {
    type Obj = ConfigMap;
    const NAME: &'static str = "configmaps";

    fn identity(c: &ConfigMap) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", c.metadata.namespace.clone().unwrap_or_default()),
            ("configmap", c.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ConfigMap>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ConfigMap>] = &[
    Family { name: "kube_configmap_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_configmap_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_configmap_info", help: "Information about configmap.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_configmap_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_configmap_metadata_resource_version", help: "Resource version representing a specific version of the configmap.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: metadata_resource_version },
];

fn annotations(c: &ConfigMap, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&c.metadata, &ctx.annotations, s)
}

fn labels(c: &ConfigMap, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&c.metadata, &ctx.labels, s)
}

fn info(_: &ConfigMap, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0)
}

fn created(c: &ConfigMap, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&c.metadata, s)
}

fn metadata_resource_version(c: &ConfigMap, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&c.metadata, s)
}
