//! `leases`: kube_lease_* families (coordination/v1). Identity is just the lease name; the namespace is
//! a family label placed after the family's own labels, as upstream does.

use k8s_openapi::api::coordination::v1::Lease;

use super::LegacyResource as Resource;
use crate::family::{Ctx, Family, MetricType, Samples, Stability};

pub struct Leases;

impl Resource for Leases {
    type Obj = Lease;
    const NAME: &'static str = "leases";

    fn identity(o: &Lease) -> Vec<(&'static str, String)> {
        vec![("lease", o.metadata.name.clone().unwrap_or_default())]
    }

    fn families() -> &'static [Family<Lease>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Lease>] = &[
    Family { name: "kube_lease_owner", help: "Information about the Lease's owner.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: owner },
    Family { name: "kube_lease_renew_time", help: "Kube lease renew time.", kind: MetricType::Gauge, stability: Stability::Alpha, deprecated_since: None, opt_in: false, generate: renew_time },
];

/// One series per owner reference, or one with empty owner labels when there is none.
fn owner(o: &Lease, _: &Ctx, s: &mut Samples<'_>) {
    let namespace = o.metadata.namespace.as_deref().unwrap_or_default();
    let holder = o.spec.as_ref().and_then(|sp| sp.holder_identity.as_deref()).unwrap_or_default();
    let owners = o.metadata.owner_references.as_deref().unwrap_or_default();
    if owners.is_empty() {
        s.push(&[("owner_kind", ""), ("owner_name", ""), ("namespace", namespace), ("lease_holder", holder)], 1.0);
    }
    for r in owners {
        s.push(
            &[("owner_kind", &r.kind), ("owner_name", &r.name), ("namespace", namespace), ("lease_holder", holder)],
            1.0,
        );
    }
}

fn renew_time(o: &Lease, _: &Ctx, s: &mut Samples<'_>) {
    if let Some(t) = o.spec.as_ref().and_then(|sp| sp.renew_time.as_ref()) {
        let namespace = o.metadata.namespace.as_deref().unwrap_or_default();
        s.push(&[("namespace", namespace)], crate::lenient::go_unix_seconds(&t.0) as f64);
    }
}
