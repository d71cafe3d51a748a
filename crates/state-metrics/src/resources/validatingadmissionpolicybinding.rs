//! `validatingadmissionpolicybindings` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;

use super::LegacyResource as Resource;
use super::util::{self, gauge};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};

pub struct ValidatingAdmissionPolicyBindings;

impl Resource for ValidatingAdmissionPolicyBindings {
    type Obj = ValidatingAdmissionPolicyBinding;
    const NAME: &'static str = "validatingadmissionpolicybindings";

    fn identity(b: &ValidatingAdmissionPolicyBinding) -> Vec<(&'static str, String)> {
        vec![
            ("namespace", b.metadata.namespace.clone().unwrap_or_default()),
            ("validatingadmissionpolicybinding", b.metadata.name.clone().unwrap_or_default()),
        ]
    }

    fn families() -> &'static [Family<ValidatingAdmissionPolicyBinding>] {
        FAMILIES
    }
}

static FAMILIES: &[Family<ValidatingAdmissionPolicyBinding>] = &[
    gauge(
        "kube_validatingadmissionpolicybinding_info",
        "Information about the ValidatingAdmissionPolicyBinding.",
        Alpha,
        info,
    ),
    gauge("kube_validatingadmissionpolicybinding_created", "Unix creation timestamp.", Alpha, created),
    gauge(
        "kube_validatingadmissionpolicybinding_validation_action",
        "Validation actions for the ValidatingAdmissionPolicyBinding.",
        Alpha,
        validation_action,
    ),
];

fn info(b: &ValidatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    let param = b.spec.param_ref.as_ref();
    s.push(
        &[
            ("policy_name", &b.spec.policy_name),
            ("param_name", param.and_then(|p| p.name.as_deref()).unwrap_or_default()),
            ("param_namespace", param.and_then(|p| p.namespace.as_deref()).unwrap_or_default()),
            ("param_not_found_action", param.and_then(|p| p.parameter_not_found_action.as_deref()).unwrap_or_default()),
        ],
        1.0,
    );
}

fn created(b: &ValidatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    util::created(&b.metadata, s);
}

fn validation_action(b: &ValidatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    for action in &b.spec.validation_actions {
        s.push(&[("action", action)], 1.0);
    }
}
