//! `mutatingwebhookconfigurations` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is kept for compatibility and is always empty.

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct MutatingWebhookConfigurations;

impl Resource for MutatingWebhookConfigurations {
    type Obj = MutatingWebhookConfiguration;
    const NAME: &'static str = "mutatingwebhookconfigurations";

    fn identity(m: &MutatingWebhookConfiguration) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", m.metadata.namespace.clone().unwrap_or_default()),
            ("mutatingwebhookconfiguration", m.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<MutatingWebhookConfiguration>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<MutatingWebhookConfiguration>] = &[
    gauge("kube_mutatingwebhookconfiguration_info", "Information about the MutatingWebhookConfiguration.", Alpha, info),
    gauge("kube_mutatingwebhookconfiguration_created", "Unix creation timestamp.", Alpha, created),
    gauge(
        "kube_mutatingwebhookconfiguration_metadata_resource_version",
        "Resource version representing a specific version of the MutatingWebhookConfiguration.",
        Alpha,
        resource_version,
    ),
    gauge(
        "kube_mutatingwebhookconfiguration_webhook_clientconfig_service",
        "Service used by the apiserver to connect to a mutating webhook.",
        Alpha,
        clientconfig_service,
    ),
];

fn info(_: &MutatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[], 1.0);
}

fn created(m: &MutatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&m.metadata, s);
}

fn resource_version(m: &MutatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    util::resource_version(&m.metadata, s);
}

fn clientconfig_service(m: &MutatingWebhookConfiguration, _: &Ctx, s: &mut Samples<'_>) {
    for w in m.webhooks.iter().flatten() {
        // URL-based webhooks have no service: one sample with empty service labels.
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
