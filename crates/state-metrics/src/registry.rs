//! The one list of built-in resources ([`RESOURCES`]) and the type-erased handles built from the
//! generic [`Resource`] trait. The default resource set (`--resources` empty), the names `--resources`
//! accepts and the names the allowlist flags know are all derived from the list; a test checks it
//! against the spec table (spec/families.tsv).

use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::family::{Ctx, Family, Form, MetricType, Rendered, Stability};
use crate::filter::FamilyFilter;
use crate::ingest::WatchSpec;
use crate::resources::{self as r, Resource};

/// Whether a resource is watched when `--resources` is empty or must be named there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enabled {
    /// In upstream's default set.
    ByDefault,
    /// Only when `--resources` names it.
    OptIn,
}

/// One row of [`RESOURCES`].
pub struct Entry {
    /// The name used by `--resources` and `?resources=` (the resource's [`Resource::NAME`]).
    pub name: &'static str,
    pub enabled: Enabled,
    make: fn() -> Arc<dyn ResourceHandle>,
}

impl Entry {
    /// The resource's handle.
    pub fn handle(&self) -> Arc<dyn ResourceHandle> {
        (self.make)()
    }
}

const fn default<R: Resource>() -> Entry {
    Entry { name: R::NAME, enabled: Enabled::ByDefault, make: handle::<R> }
}

const fn opt_in<R: Resource>() -> Entry {
    Entry { name: R::NAME, enabled: Enabled::OptIn, make: handle::<R> }
}

/// Every built-in resource, one line each, sorted by name; upstream v2.20's default set is marked
/// `default`, the rest `opt_in`.
#[rustfmt::skip]
pub static RESOURCES: &[Entry] = &[
    default::<r::certificatesigningrequest::CertificateSigningRequests>(),
    opt_in::<r::clusterrolebinding::ClusterRoleBindings>(),
    opt_in::<r::clusterrole::ClusterRoles>(),
    default::<r::configmap::ConfigMaps>(),
    default::<r::cronjob::CronJobs>(),
    default::<r::daemonset::DaemonSets>(),
    default::<r::deployment::Deployments>(),
    opt_in::<r::endpoint::EndpointsResource>(),
    default::<r::endpointslice::EndpointSlices>(),
    default::<r::horizontalpodautoscaler::HorizontalPodAutoscalers>(),
    opt_in::<r::ingressclass::IngressClasses>(),
    default::<r::ingress::Ingresses>(),
    default::<r::job::Jobs>(),
    default::<r::lease::Leases>(),
    default::<r::limitrange::LimitRanges>(),
    default::<r::mutatingadmissionpolicy::MutatingAdmissionPolicies>(),
    default::<r::mutatingadmissionpolicybinding::MutatingAdmissionPolicyBindings>(),
    default::<r::mutatingwebhookconfiguration::MutatingWebhookConfigurations>(),
    default::<r::namespace::Namespaces>(),
    default::<r::networkpolicy::NetworkPolicies>(),
    default::<r::node::Nodes>(),
    default::<r::persistentvolumeclaim::PersistentVolumeClaims>(),
    default::<r::persistentvolume::PersistentVolumes>(),
    default::<r::poddisruptionbudget::PodDisruptionBudgets>(),
    default::<r::pod::Pods>(),
    default::<r::replicaset::ReplicaSets>(),
    default::<r::replicationcontroller::ReplicationControllers>(),
    default::<r::resourcequota::ResourceQuotas>(),
    opt_in::<r::rolebinding::RoleBindings>(),
    opt_in::<r::role::Roles>(),
    default::<r::secret::Secrets>(),
    opt_in::<r::serviceaccount::ServiceAccounts>(),
    default::<r::service::Services>(),
    default::<r::statefulset::StatefulSets>(),
    default::<r::storageclass::StorageClasses>(),
    default::<r::validatingadmissionpolicy::ValidatingAdmissionPolicies>(),
    default::<r::validatingadmissionpolicybinding::ValidatingAdmissionPolicyBindings>(),
    default::<r::validatingwebhookconfiguration::ValidatingWebhookConfigurations>(),
    default::<r::volumeattachment::VolumeAttachments>(),
];

/// The handles of every resource, in the order of [`RESOURCES`].
pub fn available() -> Vec<Arc<dyn ResourceHandle>> {
    RESOURCES.iter().map(Entry::handle).collect()
}

/// Every resource name `--resources` accepts, sorted.
pub fn resource_names() -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().map(|e| e.name)
}

/// The resources enabled when `--resources` is empty, sorted.
pub fn default_resources() -> impl Iterator<Item = &'static str> {
    RESOURCES.iter().filter(|e| e.enabled == Enabled::ByDefault).map(|e| e.name)
}

/// A resource with its concrete object type erased.
pub trait ResourceHandle: Send + Sync + 'static {
    /// Store name as in `--resources` (e.g. `pods`).
    fn name(&self) -> &'static str;
    /// The plural in API paths (e.g. `pods`), used to attribute list/watch calls.
    fn api_plural(&self) -> String;
    /// Whether objects live in namespaces (cluster-scoped resources ignore `--namespaces` and field
    /// selectors).
    fn namespaced(&self) -> bool;
    /// Upstream's `resource` telemetry label: the Go type string, e.g. `*v1.Pod`.
    fn type_label(&self) -> String;
    /// Number of rows in the family table.
    fn family_count(&self) -> usize;
    fn family_name(&self, i: usize) -> &'static str;
    fn family_opt_in(&self, i: usize) -> bool;
    /// `# HELP` / `# TYPE` lines of family `i`.
    fn header(&self, i: usize, openmetrics: bool) -> Vec<u8>;
    /// Everything the table says of family `i` (tests check it against the spec table).
    fn family_info(&self, i: usize) -> FamilyInfo;
    /// The `apiVersion` and `kind` of its objects.
    fn api_version_kind(&self) -> (String, String);
    /// Older group/versions read where the server does not serve the newest ([`Resource::OLDER_VERSIONS`]).
    fn older_versions(&self) -> &'static [&'static str];
    /// Whether lists and watches ask for the objects' metadata only ([`Resource::METADATA_ONLY`]).
    fn metadata_only(&self) -> bool;
    /// Renders one object, given in `format`, with the families `enabled` (indexes into the table):
    /// the watcher's decoding and rendering (in the store's form), returned as text, for golden tests and tools.
    fn render(&self, raw: &[u8], format: Format, ctx: &Ctx, enabled: &[usize]) -> Result<Rendered, String>;
    /// What one object, given in `format`, decodes to, printed (`{:#?}`): the wire tests compare the
    /// projections of both encodings of an object, not only their text.
    fn projection(&self, raw: &[u8], format: Format) -> Result<String, String>;
    /// The API path of the resource's collection, in `namespace` or across all.
    fn collection(&self, namespace: Option<&str>) -> String;
    /// Lists and watches the resource into `spec.store` until dropped.
    fn watch(&self, spec: WatchSpec) -> BoxFuture<'static, ()>;
}

/// How an object handed to [`ResourceHandle::render`] is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// The object's own protobuf encoding (out of its `k8s\0` envelope).
    Protobuf,
}

/// A row of a family table, type-erased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyInfo {
    pub name: &'static str,
    /// The exact text after `# HELP <name> `.
    pub full_help: String,
    pub kind: MetricType,
    pub stability: Stability,
    pub deprecated_since: Option<&'static str>,
    pub opt_in: bool,
}

impl FamilyInfo {
    fn of<T>(f: &Family<T>) -> Self {
        FamilyInfo {
            name: f.name,
            full_help: f.full_help(),
            kind: f.kind,
            stability: f.stability,
            deprecated_since: f.deprecated_since,
            opt_in: f.opt_in,
        }
    }
}

struct Typed<R>(PhantomData<fn() -> R>);

/// The handle of resource `R`.
pub fn handle<R: Resource>() -> Arc<dyn ResourceHandle> {
    Arc::new(Typed::<R>(PhantomData))
}

impl<R: Resource> ResourceHandle for Typed<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }
    fn api_plural(&self) -> String {
        <R::Api as kube::Resource>::plural(&()).into_owned()
    }
    fn namespaced(&self) -> bool {
        std::any::TypeId::of::<<R::Api as kube::Resource>::Scope>()
            == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>()
    }
    fn type_label(&self) -> String {
        crate::ingest::type_label::<R::Api>()
    }
    fn family_count(&self) -> usize {
        R::families().len()
    }
    fn family_name(&self, i: usize) -> &'static str {
        R::families()[i].name
    }
    fn family_opt_in(&self, i: usize) -> bool {
        R::families()[i].opt_in
    }
    fn header(&self, i: usize, openmetrics: bool) -> Vec<u8> {
        let mut out = Vec::new();
        R::families()[i].write_header(&mut out, openmetrics);
        out
    }
    fn family_info(&self, i: usize) -> FamilyInfo {
        FamilyInfo::of(&R::families()[i])
    }
    fn older_versions(&self) -> &'static [&'static str] {
        R::OLDER_VERSIONS
    }
    fn metadata_only(&self) -> bool {
        R::METADATA_ONLY
    }
    fn api_version_kind(&self) -> (String, String) {
        (<R::Api as kube::Resource>::api_version(&()).into_owned(), <R::Api as kube::Resource>::kind(&()).into_owned())
    }
    fn render(&self, raw: &[u8], format: Format, ctx: &Ctx, enabled: &[usize]) -> Result<Rendered, String> {
        let obj = decode::<R::Obj>(raw, format)?;
        // In the watcher's form, then as text: golden tests and wire captures check what the store gets.
        let stored = crate::family::render(&obj, &R::IDENTITY.labels(&obj), R::families(), enabled, ctx, Form::Store);
        let names: Vec<&str> = enabled.iter().map(|&i| R::families()[i].name).collect();
        Ok(stored.text_form(&names))
    }
    fn projection(&self, raw: &[u8], format: Format) -> Result<String, String> {
        Ok(format!("{:#?}", decode::<R::Obj>(raw, format)?))
    }
    fn collection(&self, namespace: Option<&str>) -> String {
        crate::ingest::collection_path::<R::Api>(namespace)
    }
    fn watch(&self, spec: WatchSpec) -> BoxFuture<'static, ()> {
        Box::pin(crate::ingest::run::<R>(spec))
    }
}

fn decode<T: crate::proj::Object>(raw: &[u8], format: Format) -> Result<T, String> {
    match format {
        Format::Json => serde_json::from_slice(raw).map_err(|e| e.to_string()),
        Format::Yaml => {
            serde_saphyr::from_str(std::str::from_utf8(raw).map_err(|e| e.to_string())?).map_err(|e| e.to_string())
        }
        Format::Protobuf => T::decode(raw).map_err(|e| e.to_string()),
    }
}

/// The enabled families of a resource, as indexes into its table: allow/deny list AND opt-in list.
pub fn enabled_families(h: &dyn ResourceHandle, filter: &FamilyFilter) -> Vec<usize> {
    (0..h.family_count()).filter(|&i| filter.keep(h.family_name(i), h.family_opt_in(i))).collect()
}

/// The handles of the requested names, in the order given; `Err` names the first one without a handle.
pub fn resolve(
    names: &[String],
    available: &[Arc<dyn ResourceHandle>],
) -> Result<Vec<Arc<dyn ResourceHandle>>, String> {
    names.iter().map(|n| available.iter().find(|h| h.name() == n).cloned().ok_or_else(|| n.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_has_a_unique_name_its_handle_agrees_with_and_families() {
        let names: Vec<&str> = resource_names().collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "keep RESOURCES sorted by name, each once");
        for e in RESOURCES {
            let h = e.handle();
            assert_eq!(h.name(), e.name);
            assert!(h.family_count() > 0, "{}", h.name());
            assert!(h.type_label().starts_with("*v"), "{}", h.type_label());
            let head = String::from_utf8(h.header(0, false)).unwrap();
            assert!(head.starts_with(&format!("# HELP {} ", h.family_name(0))), "{head}");
        }
    }

    #[test]
    fn scopes_follow_the_kubernetes_types() {
        let all = available();
        let by_name = |n: &str| all.iter().find(|h| h.name() == n).unwrap().clone();
        assert!(by_name("pods").namespaced());
        assert!(by_name("leases").namespaced());
        assert!(!by_name("nodes").namespaced());
        assert!(!by_name("namespaces").namespaced());
        assert!(!by_name("clusterroles").namespaced());
    }

    #[test]
    fn resolve_keeps_order_and_names_unknown() {
        let all = available();
        let want = vec!["pods".to_owned(), "configmaps".to_owned()];
        let found = resolve(&want, &all).unwrap();
        assert_eq!(found.iter().map(|h| h.name()).collect::<Vec<_>>(), ["pods", "configmaps"]);
        assert_eq!(found[1].type_label(), "*v1.ConfigMap");
        assert_eq!(found[1].api_plural(), "configmaps");
        let bad = vec!["configmaps".to_owned(), "no-such-module".to_owned()];
        assert_eq!(resolve(&bad, &all).err(), Some("no-such-module".to_owned()));
    }

    #[test]
    fn family_filter_picks_enabled_families() {
        let pods = available().into_iter().find(|h| h.name() == "pods").unwrap();
        let names = |f: &FamilyFilter| -> Vec<&str> {
            enabled_families(pods.as_ref(), f).into_iter().map(|i| pods.family_name(i)).collect()
        };
        let all = names(&FamilyFilter::keep_all());
        assert!(all.contains(&"kube_pod_info") && !all.contains(&"kube_pod_nodeselectors"));
        let allow = FamilyFilter::new(&["^kube_pod_info$", "kube_pod_status_phase"], &[], &[]).unwrap();
        assert_eq!(names(&allow), ["kube_pod_info", "kube_pod_status_phase"]);
        let deny = FamilyFilter::new(&[], &["kube_pod_status"], &["kube_pod_nodeselectors"]).unwrap();
        let kept = names(&deny);
        assert!(kept.iter().all(|n| !n.contains("kube_pod_status")));
        assert!(kept.contains(&"kube_pod_nodeselectors") && kept.contains(&"kube_pod_info"));
    }
}
