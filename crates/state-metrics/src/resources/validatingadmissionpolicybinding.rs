//! `validatingadmissionpolicybindings` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use super::common::created;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::admissionregistration::ParamRef;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `ValidatingAdmissionPolicyBinding`: metadata, the policy, its parameter and actions.
    pub struct ValidatingAdmissionPolicyBinding {
        1 => metadata: ObjectMeta,
        2 => spec: ValidatingAdmissionPolicyBindingSpec,
    }
}
object!(ValidatingAdmissionPolicyBinding);

message! {
    pub struct ValidatingAdmissionPolicyBindingSpec {
        1 => policy_name: Str,
        2 => param_ref: Option<ParamRef>,
        4 => validation_actions: Vec<Str>,
    }
}

pub struct ValidatingAdmissionPolicyBindings;

impl Resource for ValidatingAdmissionPolicyBindings {
    type Obj = ValidatingAdmissionPolicyBinding;
    type Api = k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;
    const NAME: &'static str = "validatingadmissionpolicybindings";
    const IDENTITY: Identity<ValidatingAdmissionPolicyBinding> =
        Identity::namespaced("validatingadmissionpolicybinding");
    /// Kubernetes 1.28–1.29 serve it at v1beta1 only (when `--runtime-config` turns that API on),
    /// with the same fields.
    const OLDER_VERSIONS: &'static [&'static str] = &["admissionregistration.k8s.io/v1beta1"];

    fn families() -> &'static [Family<ValidatingAdmissionPolicyBinding>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ValidatingAdmissionPolicyBinding>] = &[
    Family::gauge("kube_validatingadmissionpolicybinding_info", "Information about the ValidatingAdmissionPolicyBinding.", Alpha, info),
    Family::gauge("kube_validatingadmissionpolicybinding_created", "Unix creation timestamp.", Alpha, created),
    Family::gauge("kube_validatingadmissionpolicybinding_validation_action", "Validation actions for the ValidatingAdmissionPolicyBinding.", Alpha, validation_action),
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

fn validation_action(b: &ValidatingAdmissionPolicyBinding, _: &Ctx, s: &mut Samples<'_>) {
    for action in &b.spec.validation_actions {
        s.push(&[("action", action)], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let param = pb(|p| {
            p.string(1, "limits");
            p.string(2, "policies");
            p.string(4, "Deny");
        });
        let spec = pb(|s| {
            s.string(1, "replica-limit");
            s.message(2, &param);
            s.string(4, "Deny");
            s.string(4, "Audit");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"policyName": "replica-limit",
                "paramRef": {{"name": "limits", "namespace": "policies", "parameterNotFoundAction": "Deny"}},
                "validationActions": ["Deny", "Audit"]}}}}"#
        );
        let o: ValidatingAdmissionPolicyBinding = same(&encoded, &json);
        assert_eq!(o.spec.validation_actions, ["Deny", "Audit"]);
    }
}
