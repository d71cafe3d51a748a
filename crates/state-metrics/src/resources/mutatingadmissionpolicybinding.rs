//! `mutatingadmissionpolicybindings` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use super::common::created;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::admissionregistration::ParamRef;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `MutatingAdmissionPolicyBinding`: metadata, the policy and its parameter.
    pub struct MutatingAdmissionPolicyBinding {
        1 => metadata: ObjectMeta,
        2 => spec: Option<MutatingAdmissionPolicyBindingSpec>,
    }
}
object!(MutatingAdmissionPolicyBinding);

message! {
    pub struct MutatingAdmissionPolicyBindingSpec {
        omitempty 1 => policy_name: Option<Str>,
        2 => param_ref: Option<ParamRef>,
    }
}

pub struct MutatingAdmissionPolicyBindings;

impl Resource for MutatingAdmissionPolicyBindings {
    type Obj = MutatingAdmissionPolicyBinding;
    type Api = k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding;
    const NAME: &'static str = "mutatingadmissionpolicybindings";
    const IDENTITY: Identity<MutatingAdmissionPolicyBinding> = Identity::namespaced("mutatingadmissionpolicybinding");
    /// Kubernetes 1.34–1.35 serve it at v1beta1 only (when `--runtime-config` turns that API on),
    /// with the same fields.
    const OLDER_VERSIONS: &'static [&'static str] = &["admissionregistration.k8s.io/v1beta1"];

    fn families() -> &'static [Family<MutatingAdmissionPolicyBinding>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<MutatingAdmissionPolicyBinding>] = &[
    Family::gauge("kube_mutatingadmissionpolicybinding_info", "Information about the MutatingAdmissionPolicyBinding.", Alpha, info),
    Family::gauge("kube_mutatingadmissionpolicybinding_created", "Unix creation timestamp.", Alpha, created),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let param = pb(|p| {
            p.string(1, "defaults");
            p.string(2, "policies");
            p.string(4, "Allow");
        });
        let spec = pb(|s| {
            s.string(1, "add-labels");
            s.message(2, &param);
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"policyName": "add-labels",
                "paramRef": {{"name": "defaults", "namespace": "policies", "parameterNotFoundAction": "Allow"}}}}}}"#
        );
        let o: MutatingAdmissionPolicyBinding = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().policy_name.as_deref(), Some("add-labels"));
    }
}
