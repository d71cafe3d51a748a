//! `secrets`: kube_secret_* families. Secret data is never read.

use k8s_openapi::api::core::v1::Secret;

use super::{LegacyResource as Resource, util};
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct Secrets;

impl Resource for Secrets {
    type Obj = Secret;
    const NAME: &'static str = "secrets";

    fn identity(o: &Secret) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", o.metadata.namespace.clone().unwrap_or_default()),
            ("secret", o.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<Secret>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Secret>] = &[
    Family { name: "kube_secret_info", help: "Information about secret.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: info },
    Family { name: "kube_secret_type", help: "Type about secret.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: secret_type },
    Family { name: "kube_secret_annotations", help: "Kubernetes annotations converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: annotations },
    Family { name: "kube_secret_labels", help: "Kubernetes labels converted to Prometheus labels.", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: labels },
    Family { name: "kube_secret_created", help: "Unix creation timestamp", kind: MetricType::Gauge, stability: Stability::Stable, deprecated_since: None, opt_in: false, generate: created },
    Family { name: "kube_secret_metadata_resource_version", help: "Resource version representing a specific version of secret.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: metadata_resource_version },
    Family { name: "kube_secret_owner", help: "Information about the Secret's owner.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: owner },
];

fn info(_: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0)
}

/// An unset type is the empty string, as Go's zero value (the API server defaults it to Opaque).
fn secret_type(o: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("type", o.type_.as_deref().unwrap_or_default())], 1.0)
}

fn annotations(o: &Secret, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&o.metadata, &ctx.annotations, s)
}

fn labels(o: &Secret, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&o.metadata, &ctx.labels, s)
}

fn created(o: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&o.metadata, s)
}

fn metadata_resource_version(o: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&o.metadata, s)
}

fn owner(o: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    util::owner_refs_family(&o.metadata, true, s)
}
