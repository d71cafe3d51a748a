//! `validatingadmissionpolicies` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct ValidatingAdmissionPolicies;

impl Resource for ValidatingAdmissionPolicies {
    type Obj = ValidatingAdmissionPolicy;
    const NAME: &'static str = "validatingadmissionpolicies";

    fn identity(p: &ValidatingAdmissionPolicy) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", p.metadata.namespace.clone().unwrap_or_default()),
            ("validatingadmissionpolicy", p.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ValidatingAdmissionPolicy>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<ValidatingAdmissionPolicy>] = &[
    gauge("kube_validatingadmissionpolicy_info", "Information about the ValidatingAdmissionPolicy.", Alpha, info),
    gauge("kube_validatingadmissionpolicy_created", "Unix creation timestamp.", Alpha, created),
];

fn info(p: &ValidatingAdmissionPolicy, _: &Ctx, s: &mut Samples<'_>) {
    let spec = p.spec.as_ref();
    let param = spec.and_then(|sp| sp.param_kind.as_ref());
    s.push(
        &[
            ("param_api_version", param.and_then(|k| k.api_version.as_deref()).unwrap_or_default()),
            ("param_kind", param.and_then(|k| k.kind.as_deref()).unwrap_or_default()),
            ("failure_policy", spec.and_then(|sp| sp.failure_policy.as_deref()).unwrap_or_default()),
        ],
        1.0,
    );
}

fn created(p: &ValidatingAdmissionPolicy, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&p.metadata, s);
}
