//! The resource types the simulator serves: built-ins plus whatever CRDs register.

use std::sync::Arc;

/// One served group/version/resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub has_status: bool,
    /// Accepts strategic merge patches (built-in types only, as in kube-apiserver).
    pub strategic: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
    /// Key identifying the table holding this resource's objects.
    pub fn key(&self) -> ResKey {
        Arc::from(format!("{}/{}/{}", self.group, self.version, self.plural))
    }
}

pub type ResKey = Arc<str>;

/// Split "apps/v1" into ("apps", "v1") and "v1" into ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

// (group, version, kind, plural, namespaced, short names, status subresource)
type Row = (&'static str, &'static str, &'static str, &'static str, bool, &'static str, bool);

const BUILTIN: &[Row] = &[
    ("", "v1", "Pod", "pods", true, "po", true),
    ("", "v1", "Node", "nodes", false, "no", true),
    ("", "v1", "Namespace", "namespaces", false, "ns", true),
    ("", "v1", "Service", "services", true, "svc", true),
    ("", "v1", "Endpoints", "endpoints", true, "ep", false),
    ("", "v1", "ConfigMap", "configmaps", true, "cm", false),
    ("", "v1", "Secret", "secrets", true, "", false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, "sa", false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, "pvc", true),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, "pv", true),
    ("", "v1", "ReplicationController", "replicationcontrollers", true, "rc", true),
    ("", "v1", "ResourceQuota", "resourcequotas", true, "quota", true),
    ("", "v1", "LimitRange", "limitranges", true, "limits", false),
    ("", "v1", "Event", "events", true, "ev", false),
    ("apps", "v1", "Deployment", "deployments", true, "deploy", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, "rs", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, "sts", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, "ds", true),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, "", false),
    ("batch", "v1", "Job", "jobs", true, "", true),
    ("batch", "v1", "CronJob", "cronjobs", true, "cj", true),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, "hpa", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, "ing", true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, "", false),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, "netpol", false),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, "pdb", true),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, "sc", false),
    ("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", false, "", true),
    ("storage.k8s.io", "v1", "CSIDriver", "csidrivers", false, "", false),
    ("storage.k8s.io", "v1", "CSINode", "csinodes", false, "", false),
    ("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false, "csr", true),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, "", false),
    ("apiregistration.k8s.io", "v1", "APIService", "apiservices", false, "", true),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        "",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        "",
        false,
    ),
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", false, "", true),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings",
        false,
        "",
        false,
    ),
    ("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", false, "", false),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingAdmissionPolicyBinding",
        "mutatingadmissionpolicybindings",
        false,
        "",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, "", false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, "", false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, "", false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, "", false),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true, "", false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, "crd,crds", true),
];

/// The newest Kubernetes minor version kube-sim speaks for, and the oldest it can pretend to be.
pub const NEWEST_MINOR: u32 = 36;
pub const OLDEST_MINOR: u32 = 28;

/// The first minor version whose kube-apiserver serves a built-in type with default flags (beta APIs
/// are off by default since 1.24): the admission policies went GA at admissionregistration.k8s.io/v1
/// in 1.30 (validating) and 1.36 (mutating); everything else in the table is served since 1.28 or
/// earlier.
fn served_since(kind: &str) -> u32 {
    match kind {
        "ValidatingAdmissionPolicy" | "ValidatingAdmissionPolicyBinding" => 30,
        "MutatingAdmissionPolicy" | "MutatingAdmissionPolicyBinding" => 36,
        _ => OLDEST_MINOR,
    }
}

/// Beta versions of built-in types, each with the first minor version that has it. kube-apiserver
/// serves a beta group/version only when `--runtime-config` turns it on (beta APIs are off by default
/// since 1.24). kube-sim keeps one table per group/version, so a beta version is served only where
/// the type's GA version is not (a real server serves both from one storage; a client that prefers
/// GA, as kube-state-metrics does, sees no difference).
const BETA: &[(Row, u32)] = &[
    (
        (
            "admissionregistration.k8s.io",
            "v1beta1",
            "ValidatingAdmissionPolicy",
            "validatingadmissionpolicies",
            false,
            "",
            true,
        ),
        28,
    ),
    (
        (
            "admissionregistration.k8s.io",
            "v1beta1",
            "ValidatingAdmissionPolicyBinding",
            "validatingadmissionpolicybindings",
            false,
            "",
            false,
        ),
        28,
    ),
    (
        (
            "admissionregistration.k8s.io",
            "v1beta1",
            "MutatingAdmissionPolicy",
            "mutatingadmissionpolicies",
            false,
            "",
            false,
        ),
        34,
    ),
    (
        (
            "admissionregistration.k8s.io",
            "v1beta1",
            "MutatingAdmissionPolicyBinding",
            "mutatingadmissionpolicybindings",
            false,
            "",
            false,
        ),
        34,
    ),
];

/// The beta group/versions `--runtime-config` can turn on, sorted, each once.
pub fn beta_group_versions() -> Vec<String> {
    let mut gvs: Vec<String> = BETA.iter().map(|((g, v, ..), _)| format!("{g}/{v}")).collect();
    gvs.sort();
    gvs.dedup();
    gvs
}

/// Every built-in resource type, in a stable order.
pub fn builtin() -> Vec<ResourceType> {
    builtin_for(NEWEST_MINOR, &[])
}

/// The built-in types a kube-apiserver of Kubernetes 1.`minor` serves with its default flags plus
/// the beta group/versions in `betas` (as `--runtime-config` names them: `admissionregistration.k8s.io/v1beta1`).
pub fn builtin_for(minor: u32, betas: &[String]) -> Vec<ResourceType> {
    let ga = BUILTIN.iter().filter(|row| served_since(row.2) <= minor);
    let beta = BETA
        .iter()
        .filter(|((g, v, k, ..), since)| {
            *since <= minor && served_since(k) > minor && betas.iter().any(|b| *b == format!("{g}/{v}"))
        })
        .map(|(row, _)| row);
    ga.chain(beta)
        .map(|&(g, v, k, p, ns, short, status)| ResourceType {
            group: g.to_string(),
            version: v.to_string(),
            kind: k.to_string(),
            plural: p.to_string(),
            singular: k.to_ascii_lowercase(),
            namespaced: ns,
            short_names: short.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            has_status: status,
            strategic: true,
        })
        .collect()
}

/// Resource types a CustomResourceDefinition object declares (one per served version).
pub fn from_crd(crd: &serde_json::Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let (Some(kind), Some(plural)) = (names["kind"].as_str(), names["plural"].as_str()) else {
        return Vec::new();
    };
    let singular = names["singular"].as_str().map(str::to_string).unwrap_or_else(|| kind.to_ascii_lowercase());
    let short_names: Vec<String> = names["shortNames"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for v in spec["versions"].as_array().map(Vec::as_slice).unwrap_or_default() {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        let Some(version) = v["name"].as_str() else {
            continue;
        };
        out.push(ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: singular.clone(),
            namespaced,
            short_names: short_names.clone(),
            has_status: v["subresources"]["status"].is_object(),
            strategic: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(minor: u32, betas: &[&str]) -> Vec<String> {
        let betas: Vec<String> = betas.iter().map(|b| (*b).to_owned()).collect();
        builtin_for(minor, &betas)
            .into_iter()
            .filter(|rt| rt.kind.contains("AdmissionPolicy"))
            .map(|rt| format!("{}/{}", rt.version, rt.plural))
            .collect()
    }

    #[test]
    fn admission_policies_by_version_and_runtime_config() {
        let beta = ["admissionregistration.k8s.io/v1beta1"];
        // Off by default before GA, as on a real server.
        assert!(served(28, &[]).is_empty());
        assert_eq!(
            served(28, &beta),
            ["v1beta1/validatingadmissionpolicies", "v1beta1/validatingadmissionpolicybindings"]
        );
        assert_eq!(
            served(30, &beta),
            ["v1/validatingadmissionpolicies", "v1/validatingadmissionpolicybindings"],
            "GA from 1.30: the beta table is not kept beside it"
        );
        assert_eq!(served(34, &beta).len(), 4);
        assert!(served(34, &beta).contains(&"v1beta1/mutatingadmissionpolicies".to_owned()));
        assert!(served(36, &beta).iter().all(|s| s.starts_with("v1/")));
        assert_eq!(beta_group_versions(), beta);
    }
}
