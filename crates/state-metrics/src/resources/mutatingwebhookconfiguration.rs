//! `mutatingwebhookconfigurations` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is kept for compatibility and is always empty.

use super::common::{created, one, resource_version};
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::proj::admissionregistration::Webhook;
use crate::{message, object};

message! {
    /// `MutatingWebhookConfiguration`: metadata and the webhooks' services.
    pub struct MutatingWebhookConfiguration {
        1 => metadata: ObjectMeta,
        2 => webhooks: Option<Vec<Webhook>>,
    }
}
object!(MutatingWebhookConfiguration);

pub struct MutatingWebhookConfigurations;

impl Resource for MutatingWebhookConfigurations {
    type Obj = MutatingWebhookConfiguration;
    type Api = k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
    const NAME: &'static str = "mutatingwebhookconfigurations";
    const IDENTITY: Identity<MutatingWebhookConfiguration> = Identity::namespaced("mutatingwebhookconfiguration");

    fn families() -> &'static [Family<MutatingWebhookConfiguration>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<MutatingWebhookConfiguration>] = &[
    Family::gauge("kube_mutatingwebhookconfiguration_info", "Information about the MutatingWebhookConfiguration.", Alpha, one),
    Family::gauge("kube_mutatingwebhookconfiguration_created", "Unix creation timestamp.", Alpha, created),
    Family::gauge("kube_mutatingwebhookconfiguration_metadata_resource_version", "Resource version representing a specific version of the MutatingWebhookConfiguration.", Alpha, resource_version),
    Family::gauge("kube_mutatingwebhookconfiguration_webhook_clientconfig_service", "Service used by the apiserver to connect to a mutating webhook.", Alpha, clientconfig_service),
];

fn clientconfig_service(m: &MutatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    webhook_services(m.webhooks.as_deref().unwrap_or_default(), s)
}

/// One sample per webhook with the service it calls; URL-based webhooks have no service and get empty
/// service labels. Shared with validatingwebhookconfigurations.
pub(super) fn webhook_services(webhooks: &[Webhook], s: &mut Samples<'_>) {
    for w in webhooks {
        let svc = w.client_config.service.as_ref();
        s.push(
            &[
                ("webhook_name", &w.name),
                ("service_name", svc.map_or("", |v| v.name.as_str())),
                ("service_namespace", svc.map_or("", |v| v.namespace.as_str())),
            ],
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::admissionregistration::testing::webhook;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let (hook, hook_json) = webhook();
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &hook);
        });
        let o: MutatingWebhookConfiguration =
            same(&encoded, &format!(r#"{{"metadata": {META_JSON}, "webhooks": [{hook_json}]}}"#));
        let hooks = o.webhooks.unwrap();
        assert_eq!(hooks[0].client_config.service.as_ref().unwrap().name, "svc");
    }
}
