//! `validatingwebhookconfigurations` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is kept for compatibility and is always empty.

use super::common::{created, one, resource_version};
use super::mutatingwebhookconfiguration::webhook_services;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::ObjectMeta;
use crate::proj::admissionregistration::Webhook;
use crate::{message, object};

message! {
    /// `ValidatingWebhookConfiguration`: metadata and the webhooks' services.
    pub struct ValidatingWebhookConfiguration {
        1 => metadata: ObjectMeta,
        2 => webhooks: Option<Vec<Webhook>>,
    }
}
object!(ValidatingWebhookConfiguration);

pub struct ValidatingWebhookConfigurations;

impl Resource for ValidatingWebhookConfigurations {
    type Obj = ValidatingWebhookConfiguration;
    type Api = k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    const NAME: &'static str = "validatingwebhookconfigurations";
    const IDENTITY: Identity<ValidatingWebhookConfiguration> = Identity::namespaced("validatingwebhookconfiguration");

    fn families() -> &'static [Family<ValidatingWebhookConfiguration>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ValidatingWebhookConfiguration>] = &[
    Family::gauge("kube_validatingwebhookconfiguration_info", "Information about the ValidatingWebhookConfiguration.", Alpha, one),
    Family::gauge("kube_validatingwebhookconfiguration_created", "Unix creation timestamp.", Alpha, created),
    Family::gauge("kube_validatingwebhookconfiguration_metadata_resource_version", "Resource version representing a specific version of the ValidatingWebhookConfiguration.", Alpha, resource_version),
    Family::gauge("kube_validatingwebhookconfiguration_webhook_clientconfig_service", "Service used by the apiserver to connect to a validating webhook.", Alpha, clientconfig_service),
];

fn clientconfig_service(m: &ValidatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    webhook_services(m.webhooks.as_deref().unwrap_or_default(), s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::admissionregistration::testing::webhook;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let (hook, hook_json) = webhook();
        let url_hook = pb(|w| {
            w.string(1, "by-url");
            w.message(2, &pb(|c| c.string(3, "https://x")));
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &hook);
            w.message(2, &url_hook);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "webhooks": [{hook_json},
                {{"name": "by-url", "clientConfig": {{"url": "https://x"}}}}]}}"#
        );
        let o: ValidatingWebhookConfiguration = same(&encoded, &json);
        let hooks = o.webhooks.unwrap();
        assert_eq!((hooks.len(), hooks[1].client_config.service.as_ref()), (2, None));
    }
}
