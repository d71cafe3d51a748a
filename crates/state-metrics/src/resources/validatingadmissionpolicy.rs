//! `validatingadmissionpolicies` (admissionregistration.k8s.io/v1), cluster-scoped: the `namespace`
//! identity label is always empty.

use super::common::created;
use super::{Identity, Resource};
use crate::family::Stability::Alpha;
use crate::family::{Ctx, Family, Samples};
use crate::proj::admissionregistration::ParamKind;
use crate::proj::{ObjectMeta, Str};
use crate::{message, object};

message! {
    /// `ValidatingAdmissionPolicy`: metadata and the spec's parameter kind and failure policy.
    pub struct ValidatingAdmissionPolicy {
        1 => metadata: ObjectMeta,
        2 => spec: Option<ValidatingAdmissionPolicySpec>,
    }
}
object!(ValidatingAdmissionPolicy);

message! {
    pub struct ValidatingAdmissionPolicySpec {
        1 => param_kind: Option<ParamKind>,
        4 => failure_policy: Option<Str>,
    }
}

pub struct ValidatingAdmissionPolicies;

impl Resource for ValidatingAdmissionPolicies {
    type Obj = ValidatingAdmissionPolicy;
    type Api = k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
    const NAME: &'static str = "validatingadmissionpolicies";
    const IDENTITY: Identity<ValidatingAdmissionPolicy> = Identity::namespaced("validatingadmissionpolicy");
    /// Kubernetes 1.28–1.29 serve it at v1beta1 only (when `--runtime-config` turns that API on),
    /// with the same fields.
    const OLDER_VERSIONS: &'static [&'static str] = &["admissionregistration.k8s.io/v1beta1"];

    fn families() -> &'static [Family<ValidatingAdmissionPolicy>] {
        FAMILIES
    }
}

#[rustfmt::skip]
static FAMILIES: &[Family<ValidatingAdmissionPolicy>] = &[
    Family::gauge("kube_validatingadmissionpolicy_info", "Information about the ValidatingAdmissionPolicy.", Alpha, info),
    Family::gauge("kube_validatingadmissionpolicy_created", "Unix creation timestamp.", Alpha, created),
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
            s.string(4, "Fail");
        });
        let encoded = pb(|w| {
            w.message(1, &meta());
            w.message(2, &spec);
        });
        let json = format!(
            r#"{{"metadata": {META_JSON}, "spec": {{"paramKind": {{"apiVersion": "v1", "kind": "ConfigMap"}},
                "failurePolicy": "Fail", "validations": [{{"expression": "true"}}]}}}}"#
        );
        let o: ValidatingAdmissionPolicy = same(&encoded, &json);
        assert_eq!(o.spec.unwrap().failure_policy.as_deref(), Some("Fail"));
    }
}
