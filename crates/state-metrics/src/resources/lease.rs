//! `leases`: kube_lease_* families (coordination/v1). Identity is just the lease name; the namespace is
//! a family label placed after the family's own labels, as upstream does.

use super::common::unix_seconds;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str, Time};
use crate::{message, object};

message! {
    /// `Lease`: metadata, holder and renew time.
    pub struct Lease {
        1 => metadata: ObjectMeta,
        2 => spec: Option<LeaseSpec>,
    }
}
object!(Lease);

message! {
    pub struct LeaseSpec {
        1 => holder_identity: Option<Str>,
        4 => renew_time: Option<Time>,
    }
}

pub struct Leases;

impl Resource for Leases {
    type Obj = Lease;
    type Api = k8s_openapi::api::coordination::v1::Lease;
    const NAME: &'static str = "leases";
    const IDENTITY: Identity<Lease> = Identity::cluster("lease");

    fn families() -> &'static [Family<Lease>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Lease>] = &[
    Family::gauge("kube_lease_owner", "Information about the Lease's owner.", Alpha, owner),
    Family::gauge("kube_lease_renew_time", "Kube lease renew time.", Alpha, renew_time),
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
        s.push(&[("namespace", namespace)], unix_seconds(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let renew = pb(|t| {
            t.int64(1, 1_700_000_123);
            t.varint(2, 456_000);
        });
        let spec = pb(|sp| {
            sp.string(1, "node-1");
            sp.varint(2, 40);
            sp.message(4, &renew);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                "renewTime": "2023-11-14T22:15:23.000456Z"}}}}"#
        );
        let o: Lease = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().renew_time.unwrap().unix(), 1_700_000_123);
    }
}
