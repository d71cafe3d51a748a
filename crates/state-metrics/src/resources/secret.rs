//! `secrets`: kube_secret_* families. Secret data is never read (nor decoded).

use super::common::{annotations, created, labels, one, owner, resource_version};
use super::{Identity, Resource};
use crate::family::Stability::{Alpha, Stable};
use crate::family::{Ctx, Family, Samples};
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `Secret`: metadata and type.
    pub struct Secret {
        1 => metadata: ObjectMeta,
        #[serde(rename = "type")]
        omitempty 3 => type_: Option<Str>,
    }
}
object!(Secret);

pub struct Secrets;

impl Resource for Secrets {
    type Obj = Secret;
    type Api = k8s_openapi::api::core::v1::Secret;
    const NAME: &'static str = "secrets";
    const IDENTITY: Identity<Secret> = Identity::namespaced("secret");

    fn families() -> &'static [Family<Secret>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<Secret>] = &[
    Family::gauge("kube_secret_info", "Information about secret.", Stable, one),
    Family::gauge("kube_secret_type", "Type about secret.", Stable, secret_type),
    Family::gauge("kube_secret_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_secret_labels", "Kubernetes labels converted to Prometheus labels.", Stable, labels),
    Family::gauge("kube_secret_created", "Unix creation timestamp", Stable, created),
    Family::gauge("kube_secret_metadata_resource_version", "Resource version representing a specific version of secret.", Alpha, resource_version),
    Family::gauge("kube_secret_owner", "Information about the Secret's owner.", Alpha, owner),
];

/// An unset type is the empty string, as Go's zero value (the API server defaults it to Opaque).
fn secret_type(o: &Secret, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("type", o.type_.as_deref().unwrap_or_default())], 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, entry, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let encoded = pb(|w| {
            w.message(1, &meta());
            let data = pb(|e| {
                e.string(1, "password");
                e.bytes(2, b"hunter2");
            });
            w.message(2, &data);
            w.string(3, "kubernetes.io/basic-auth");
            entry(w, 4, "user", "me");
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "data": {{"password": "aHVudGVyMg=="}}, "stringData": {{"user": "me"}},
                "type": "kubernetes.io/basic-auth"}}"#
        );
        let o: Secret = same(&encoded, &json);
        assert_eq!(o.type_.as_deref(), Some("kubernetes.io/basic-auth"));
    }
}
