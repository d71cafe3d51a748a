//! Resource names → type-erased handles built from the generic [`Resource`] trait.
//!
//! Adding a resource is one line in [`available`].

use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::family::Family;
use crate::resources::{self as r, Resource};
use crate::watch::WatchSpec;

/// Every resource this build implements. Keep it sorted by store name; one line per resource.
pub fn available() -> Vec<Arc<dyn ResourceHandle>> {
    vec![
        handle::<r::certificatesigningrequest::CertificateSigningRequests>(),
        handle::<r::clusterrolebinding::ClusterRoleBindings>(),
        handle::<r::clusterrole::ClusterRoles>(),
        handle::<r::configmap::ConfigMaps>(),
        handle::<r::cronjob::CronJobs>(),
        handle::<r::daemonset::DaemonSets>(),
        handle::<r::deployment::Deployments>(),
        handle::<r::endpoint::EndpointsResource>(),
        handle::<r::endpointslice::EndpointSlices>(),
        handle::<r::horizontalpodautoscaler::HorizontalPodAutoscalers>(),
        handle::<r::ingressclass::IngressClasses>(),
        handle::<r::ingress::Ingresses>(),
        handle::<r::job::Jobs>(),
        handle::<r::mutatingadmissionpolicy::MutatingAdmissionPolicies>(),
        handle::<r::mutatingadmissionpolicybinding::MutatingAdmissionPolicyBindings>(),
        handle::<r::mutatingwebhookconfiguration::MutatingWebhookConfigurations>(),
        handle::<r::namespace::Namespaces>(),
        handle::<r::node::Nodes>(),
        handle::<r::persistentvolumeclaim::PersistentVolumeClaims>(),
        handle::<r::persistentvolume::PersistentVolumes>(),
        handle::<r::pod::Pods>(),
        handle::<r::replicaset::ReplicaSets>(),
        handle::<r::rolebinding::RoleBindings>(),
        handle::<r::role::Roles>(),
        handle::<r::secret::Secrets>(),
        handle::<r::serviceaccount::ServiceAccounts>(),
        handle::<r::service::Services>(),
        handle::<r::statefulset::StatefulSets>(),
        handle::<r::storageclass::StorageClasses>(),
        handle::<r::validatingadmissionpolicy::ValidatingAdmissionPolicies>(),
        handle::<r::validatingadmissionpolicybinding::ValidatingAdmissionPolicyBindings>(),
        handle::<r::validatingwebhookconfiguration::ValidatingWebhookConfigurations>(),
        handle::<r::volumeattachment::VolumeAttachments>(),
    ]
}

/// A resource with its concrete object type erased.
pub trait ResourceHandle: Send + Sync + 'static {
    /// Store name as in `--resources` (e.g. `pods`).
    fn name(&self) -> &'static str;
    /// The plural in API paths (e.g. `pods`), used to attribute list/watch calls.
    fn api_plural(&self) -> String;
    /// Upstream's `resource` telemetry label: the Go type string, e.g. `*v1.Pod`.
    fn type_label(&self) -> String;
    /// Number of rows in the family table.
    fn family_count(&self) -> usize;
    fn family_name(&self, i: usize) -> &'static str;
    fn family_opt_in(&self, i: usize) -> bool;
    /// `# HELP` / `# TYPE` lines of family `i`.
    fn header(&self, i: usize, openmetrics: bool) -> Vec<u8>;
    /// Watches the resource into `spec.store` until dropped.
    fn watch(&self, spec: WatchSpec) -> BoxFuture<'static, ()>;
}

struct Typed<R>(PhantomData<fn() -> R>);

/// The handle of resource `R`.
pub fn handle<R: Resource>() -> Arc<dyn ResourceHandle> {
    Arc::new(Typed::<R>(PhantomData))
}

fn family<R: Resource>(i: usize) -> &'static Family<R::Obj> {
    &R::families()[i]
}

impl<R: Resource> ResourceHandle for Typed<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }
    fn api_plural(&self) -> String {
        <R::Obj as kube::Resource>::plural(&()).into_owned()
    }
    fn type_label(&self) -> String {
        format!("*{}.{}", <R::Obj as kube::Resource>::version(&()), <R::Obj as kube::Resource>::kind(&()))
    }
    fn family_count(&self) -> usize {
        R::families().len()
    }
    fn family_name(&self, i: usize) -> &'static str {
        family::<R>(i).name
    }
    fn family_opt_in(&self, i: usize) -> bool {
        family::<R>(i).opt_in
    }
    fn header(&self, i: usize, openmetrics: bool) -> Vec<u8> {
        let mut out = Vec::new();
        family::<R>(i).write_header(&mut out, openmetrics);
        out
    }
    fn watch(&self, spec: WatchSpec) -> BoxFuture<'static, ()> {
        Box::pin(crate::watch::run::<R>(spec))
    }
}

/// The enabled families of a resource, as indexes into its table. Opt-in families stay off until the
/// opt-in list is implemented; allow/deny lists will filter here too.
pub fn enabled_families(h: &dyn ResourceHandle) -> Vec<usize> {
    (0..h.family_count()).filter(|&i| !h.family_opt_in(i)).collect()
}

/// Splits the requested names into implemented handles (in the order given) and names without one.
pub fn resolve(names: &[String], available: &[Arc<dyn ResourceHandle>]) -> (Vec<Arc<dyn ResourceHandle>>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for n in names {
        match available.iter().find(|h| h.name() == n) {
            Some(h) => found.push(h.clone()),
            None => missing.push(n.clone()),
        }
    }
    (found, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{DEFAULT_RESOURCES, OPT_IN_RESOURCES};

    #[test]
    fn every_handle_has_a_known_unique_name_and_families() {
        let all = available();
        let mut names: Vec<&str> = all.iter().map(|h| h.name()).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort();
            s
        };
        assert_eq!(names, sorted, "keep available() sorted by name");
        names.dedup();
        assert_eq!(names.len(), all.len());
        for h in &all {
            assert!(
                DEFAULT_RESOURCES.contains(&h.name()) || OPT_IN_RESOURCES.contains(&h.name()),
                "{} is not an upstream resource name",
                h.name()
            );
            assert!(h.family_count() > 0, "{}", h.name());
            assert!(h.type_label().starts_with("*v"), "{}", h.type_label());
            let head = String::from_utf8(h.header(0, false)).unwrap();
            assert!(head.starts_with(&format!("# HELP {} ", h.family_name(0))), "{head}");
        }
    }

    #[test]
    fn resolve_reports_unimplemented_names() {
        let all = available();
        let want = vec!["configmaps".to_owned(), "no-such-module".to_owned()];
        let (found, missing) = resolve(&want, &all);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name(), "configmaps");
        assert_eq!(found[0].type_label(), "*v1.ConfigMap");
        assert_eq!(found[0].api_plural(), "configmaps");
        assert_eq!(missing, vec!["no-such-module"]);
    }
}
