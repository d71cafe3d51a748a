//! `serviceaccounts` (core/v1 ServiceAccount). Identity includes the `uid`.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct ServiceAccounts;

impl Resource for ServiceAccounts {
    type Obj = ServiceAccount;
    const NAME: &'static str = "serviceaccounts";

    fn identity(sa: &ServiceAccount) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", sa.metadata.namespace.clone().unwrap_or_default()),
            ("serviceaccount", sa.metadata.name.clone().unwrap_or_default()),
            ("uid", sa.metadata.uid.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ServiceAccount>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<ServiceAccount>] = &[
    gauge("kube_serviceaccount_info", "Information about a service account", Alpha, info),
    gauge("kube_serviceaccount_created", "Unix creation timestamp", Alpha, created),
    gauge("kube_serviceaccount_deleted", "Unix deletion timestamp", Alpha, deleted),
    gauge("kube_serviceaccount_secret", "Secret being referenced by a service account", Alpha, secret),
    gauge(
        "kube_serviceaccount_image_pull_secret",
        "Secret being referenced by a service account for the purpose of pulling images",
        Alpha,
        image_pull_secret,
    ),
    gauge(
        "kube_serviceaccount_annotations",
        "Kubernetes annotations converted to Prometheus labels.",
        Alpha,
        annotations,
    ),
    gauge("kube_serviceaccount_labels", "Kubernetes labels converted to Prometheus labels.", Alpha, labels),
];

fn info(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    s.push(&[("automount_token", util::opt_bool_str(sa.automount_service_account_token))], 1.0);
}

fn created(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&sa.metadata, s);
}

/// Named "deleted" upstream, but it is the deletion timestamp of a terminating account.
fn deleted(sa: &ServiceAccount, _: &Ctx, s: &mut Samples<'_>) {
    util::deletion_timestamp(&sa.metadata, s);
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

fn annotations(sa: &ServiceAccount, ctx: &Ctx, s: &mut Samples<'_>) {
    util::annotations_family(&sa.metadata, &ctx.annotations, s);
}

fn labels(sa: &ServiceAccount, ctx: &Ctx, s: &mut Samples<'_>) {
    util::labels_family(&sa.metadata, &ctx.labels, s);
}
