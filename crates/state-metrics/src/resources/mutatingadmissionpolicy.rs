//! `mutatingadmissionpolicies` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use super::common::created;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::admissionregistration::ParamKind;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `MutatingAdmissionPolicy`: metadata and the spec's parameter kind and policies.
    pub struct MutatingAdmissionPolicy {
        1 => metadata: ObjectMeta,
        2 => spec: Option<MutatingAdmissionPolicySpec>,
    }
}
object!(MutatingAdmissionPolicy);

message! {
    pub struct MutatingAdmissionPolicySpec {
        1 => param_kind: Option<ParamKind>,
        5 => failure_policy: Option<Str>,
        omitempty 7 => reinvocation_policy: Option<Str>,
    }
}

pub struct MutatingAdmissionPolicies;

impl Resource for MutatingAdmissionPolicies {
    type Obj = MutatingAdmissionPolicy;
    type Api = k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy;
    const NAME: &'static str = "mutatingadmissionpolicies";
    const IDENTITY: Identity<MutatingAdmissionPolicy> = Identity::namespaced("mutatingadmissionpolicy");
    /// Kubernetes 1.34–1.35 serve it at v1beta1 only (when `--runtime-config` turns that API on),
    /// with the same fields.
    const OLDER_VERSIONS: &'static [&'static str] = &["admissionregistration.k8s.io/v1beta1"];

    fn families() -> &'static [Family<MutatingAdmissionPolicy>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<MutatingAdmissionPolicy>] = &[
    Family::gauge("kube_mutatingadmissionpolicy_info", "Information about the MutatingAdmissionPolicy.", Alpha, info),
    Family::gauge("kube_mutatingadmissionpolicy_created", "Unix creation timestamp.", Alpha, created),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proj::testing::{META_JSON, meta, pb, same};

    #[test]
    fn decodes_alike_from_json_and_protobuf() {
        let kind = pb(|k| {
            k.string(1, "v1");
            k.string(2, "ConfigMap");
        });
        let spec = pb(|s| {
            s.message(1, &kind);
            s.string(5, "Ignore");
            s.string(7, "IfNeeded");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"paramKind": {{"apiVersion": "v1", "kind": "ConfigMap"}},
                "failurePolicy": "Ignore", "reinvocationPolicy": "IfNeeded", "mutations": []}}}}"#
        );
        let o: MutatingAdmissionPolicy = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().reinvocation_policy.as_deref(), Some("IfNeeded"));
    }
}
