//! `mutatingadmissionpolicybindings` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct MutatingAdmissionPolicyBindings;

impl Resource for MutatingAdmissionPolicyBindings {
    type Obj = MutatingAdmissionPolicyBinding;
    const NAME: &'static str = "mutatingadmissionpolicybindings";

    fn identity(b: &MutatingAdmissionPolicyBinding) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", b.metadata.namespace.clone().unwrap_or_default()),
            ("mutatingadmissionpolicybinding", b.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<MutatingAdmissionPolicyBinding>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<MutatingAdmissionPolicyBinding>] = &[
    gauge(
        "kube_mutatingadmissionpolicybinding_info",
        "Information about the MutatingAdmissionPolicyBinding.",
        Alpha,
        info,
    ),
    gauge("kube_mutatingadmissionpolicybinding_created", "Unix creation timestamp.", Alpha, created),
];

fn info(b: &MutatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    let spec = b.spec.as_ref();
    let param = spec.and_then(|sp| sp.param_ref.as_ref());
    s.push(
        &[
            ("policy_name", spec.and_then(|sp| sp.policy_name.as_deref()).unwrap_or_default()),
            ("param_name", param.and_then(|p| p.name.as_deref()).unwrap_or_default()),
            ("param_namespace", param.and_then(|p| p.namespace.as_deref()).unwrap_or_default()),
            ("param_not_found_action", param.and_then(|p| p.parameter_not_found_action.as_deref()).unwrap_or_default()),
        ],
        1.0,
    );
}

fn created(b: &MutatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&b.metadata, s);
}
