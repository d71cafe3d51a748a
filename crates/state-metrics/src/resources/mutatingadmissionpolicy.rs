//! `mutatingadmissionpolicies` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct MutatingAdmissionPolicies;

impl Resource for MutatingAdmissionPolicies {
    type Obj = MutatingAdmissionPolicy;
    const NAME: &'static str = "mutatingadmissionpolicies";

    fn identity(p: &MutatingAdmissionPolicy) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", p.metadata.namespace.clone().unwrap_or_default()),
            ("mutatingadmissionpolicy", p.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<MutatingAdmissionPolicy>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<MutatingAdmissionPolicy>] = &[
    gauge("kube_mutatingadmissionpolicy_info", "Information about the MutatingAdmissionPolicy.", Alpha, info),
    gauge("kube_mutatingadmissionpolicy_created", "Unix creation timestamp.", Alpha, created),
];

fn info(p: &MutatingAdmissionPolicy, _: &Ctx, s: &mut Samples<'_>) {
    let spec = p.spec.as_ref();
    let param = spec.and_then(|sp| sp.param_kind.as_ref());
    s.push(
        &[
            ("param_api_version", param.and_then(|k| k.api_version.as_deref()).unwrap_or_default()),
            ("param_kind", param.and_then(|k| k.kind.as_deref()).unwrap_or_default()),
            ("failure_policy", spec.and_then(|sp| sp.failure_policy.as_deref()).unwrap_or_default()),
            ("reinvocation_policy", spec.and_then(|sp| sp.reinvocation_policy.as_deref()).unwrap_or_default()),
        ],
        1.0,
    );
}

fn created(p: &MutatingAdmissionPolicy, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&p.metadata, s);
}
