//! `serviceaccounts` (core/v1 ServiceAccount). Identity includes the `uid`.

use super::common::{annotations, created, deletion_timestamp, labels, opt_bool_str};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::core::ObjectReference;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `ServiceAccount`: metadata, the secrets it references and the token automount setting.
    pub struct ServiceAccount {
        1 => metadata: ObjectMeta,
        2 => secrets: Option<Vec<ObjectReference>>,
        3 => image_pull_secrets: Option<Vec<LocalObjectReference>>,
        4 => automount_service_account_token: Option<bool>,
    }
}
object!(ServiceAccount);

message! {
    pub struct LocalObjectReference {
        1 => name: Str,
    }
}

pub struct ServiceAccounts;

impl Resource for ServiceAccounts {
    type Obj = ServiceAccount;
    type Api = k8s_openapi::api::core::v1::ServiceAccount;
    const NAME: &'static str = "serviceaccounts";
    const IDENTITY: Identity<ServiceAccount> = Identity::namespaced("serviceaccount").with_uid();

    fn families() -> &'static [Family<ServiceAccount>] {
        FAMILIES
    }
}

// `kube_serviceaccount_deleted` is named so upstream, but it is the deletion timestamp.
#[rustfmt::skip]
static FAMILIES: &[Family<ServiceAccount>] = &[
    Family::gauge("kube_serviceaccount_info", "Information about a service account", Alpha, info),
    Family::gauge("kube_serviceaccount_created", "Unix creation timestamp", Alpha, created),
    Family::gauge("kube_serviceaccount_deleted", "Unix deletion timestamp", Alpha, deletion_timestamp),
    Family::gauge("kube_serviceaccount_secret", "Secret being referenced by a service account", Alpha, secret),
    Family::gauge("kube_serviceaccount_image_pull_secret", "Secret being referenced by a service account for the purpose of pulling images", Alpha, image_pull_secret),
    Family::gauge("kube_serviceaccount_annotations", "Kubernetes annotations converted to Prometheus labels.", Alpha, annotations),
    Family::gauge("kube_serviceaccount_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("automount_token", opt_bool_str(sa.automount_service_account_token))], 1.0);
}

fn secret(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    for r in sa.secrets.iter().flatten() {
        s.push(&[("name", r.name.as_deref().unwrap_or_default())], 1.0);
    }
}

fn image_pull_secret(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    for r in sa.image_pull_secrets.iter().flatten() {
        s.push(&[("name", &r.name)], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &pb(|r| r.string(3, "token")));
            w.message(3, &pb(|r| r.string(1, "registry")));
            w.varint(4, 0);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "secrets": [{{"name": "token"}}], "imagePullSecrets": [{{"name": "registry"}}],
                "automountServiceAccountToken": false}}"#
        );
        let o: ServiceAccount = same(&encoded, &json);
        assert_eq!(o.automount_service_account_token, Some(false));
        assert_eq!(o.image_pull_secrets.unwrap()[0].name, "registry");
    }
}
