//! Options → what an instance runs, decided without any IO: which resources, which of their families,
//! which label/annotation keys, and one collection (path and field selector) per list/watch.

use std::sync::Arc;

use crate::family::{Ctx, KeyAllow};
use crate::filter::NamespaceScope;
use crate::ingest::{self, Scope};
use crate::options::Options;
use crate::registry::{self, ResourceHandle};
use crate::scrape::Headers;

/// Everything decided from the options.
pub struct Plan {
    /// The built-in resources, in the order they are served.
    pub resources: Vec<ResourcePlan>,
    /// How every collection is listed and watched.
    pub watch: ingest::Config,
}

/// One built-in resource.
pub struct ResourcePlan {
    pub handle: Arc<dyn ResourceHandle>,
    pub headers: Arc<Headers>,
    /// Indexes into the resource's family table, in exposition order.
    pub enabled: Arc<[usize]>,
    pub ctx: Arc<Ctx>,
    /// One list/watch each: a namespace under `--namespaces` for namespaced resources, else the whole
    /// collection. The field selector applies to namespaced resources only.
    pub scopes: Vec<Scope>,
}

/// Plans an instance from options that are already complete (`--config` applied) and checked.
pub fn plan(opts: &Options) -> anyhow::Result<Plan> {
    let names = opts.resource_names()?;
    let names = if opts.custom_resource_state_only { Vec::new() } else { names };
    opts.validate(&names)?;
    let family_filter = opts.family_filter()?;
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (labels_allow, annotations_allow) = opts.key_allowlists(&name_refs)?;
    let handles = registry::resolve(&names, &registry::available())
        .map_err(|n| anyhow::anyhow!("resource {n} has no implementation"))?;
    let namespaces = crate::filter::namespace_scope(&opts.namespaces);
    let fields = crate::filter::field_selector(&opts.namespaces_denylist, &opts.node, opts.track_unscheduled_pods);
    let resources = handles
        .into_iter()
        .map(|handle| {
            let enabled = registry::enabled_families(handle.as_ref(), &family_filter);
            let ctx = Ctx {
                labels: labels_allow.get(handle.name()).cloned().unwrap_or(KeyAllow::Nothing),
                annotations: annotations_allow.get(handle.name()).cloned().unwrap_or(KeyAllow::Nothing),
            };
            let scopes = scopes(handle.as_ref(), &namespaces, &fields);
            ResourcePlan {
                headers: Arc::new(Headers::for_handle(handle.as_ref(), &enabled)),
                enabled: enabled.into(),
                ctx: Arc::new(ctx),
                scopes,
                handle,
            }
        })
        .collect();
    let watch = ingest::Config { use_cache: opts.use_apiserver_cache, ..ingest::Config::default() };
    Ok(Plan { resources, watch })
}

/// The collections of one resource.
fn scopes(h: &dyn ResourceHandle, namespaces: &NamespaceScope, fields: &str) -> Vec<Scope> {
    if !h.namespaced() {
        return vec![Scope { path: h.collection(None), ..Scope::default() }];
    }
    let scope =
        |ns: Option<&str>| Scope { path: h.collection(ns), field_selector: fields.to_owned(), ..Scope::default() };
    match namespaces {
        NamespaceScope::All => vec![scope(None)],
        NamespaceScope::Only(list) => list.iter().map(|ns| scope(Some(ns))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn opts(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("ksm").chain(args.iter().copied())).unwrap()
    }

    fn paths(p: &ResourcePlan) -> Vec<(String, String)> {
        p.scopes.iter().map(|s| (s.path.clone(), s.field_selector.clone())).collect()
    }

    #[test]
    fn namespaces_split_namespaced_resources_only_and_selectors_stay_off_cluster_scoped_ones() {
        let p = plan(&opts(&[
            "--resources=pods,nodes",
            "--namespaces=b,a",
            "--namespaces-denylist=",
            "--use-apiserver-cache",
        ]))
        .unwrap();
        let find = |p: &'_ Plan, n: &str| p.resources.iter().position(|r| r.handle.name() == n).unwrap();
        assert_eq!(p.resources.len(), 2);
        assert_eq!(
            paths(&p.resources[find(&p, "pods")]),
            [("/api/v1/namespaces/b/pods".into(), String::new()), ("/api/v1/namespaces/a/pods".into(), String::new())]
        );
        assert_eq!(paths(&p.resources[find(&p, "nodes")]), [("/api/v1/nodes".into(), String::new())]);
        assert!(p.watch.use_cache && p.watch.streaming);

        let p = plan(&opts(&["--resources=deployments,storageclasses", "--namespaces-denylist=kube-system"])).unwrap();
        assert_eq!(
            paths(&p.resources[find(&p, "deployments")]),
            [("/apis/apps/v1/deployments".into(), "metadata.namespace!=kube-system".into())]
        );
        assert_eq!(
            paths(&p.resources[find(&p, "storageclasses")]),
            [("/apis/storage.k8s.io/v1/storageclasses".into(), String::new())]
        );
        assert!(!p.watch.use_cache);
    }

    #[test]
    fn families_and_key_allowlists_are_decided_per_resource() {
        let p = plan(&opts(&[
            "--resources=pods,configmaps",
            "--metric-allowlist=kube_pod_info,kube_pod_labels,kube_configmap_info",
            "--metric-labels-allowlist=pods=[app]",
        ]))
        .unwrap();
        let (pods, cms) = match &p.resources[..] {
            [a, b] if a.handle.name() == "pods" => (a, b),
            [b, a] => (a, b),
            _ => panic!("two resources"),
        };
        assert_eq!(pods.headers.names(), ["kube_pod_info", "kube_pod_labels"]);
        assert_eq!(pods.enabled.len(), 2);
        assert!(!matches!(pods.ctx.labels, KeyAllow::Nothing));
        assert!(matches!(cms.ctx.labels, KeyAllow::Nothing));
        assert!(plan(&opts(&["--resources=pods", "--custom-resource-state-only"])).unwrap().resources.is_empty());
        assert!(plan(&opts(&["--resources=nosuch"])).is_err());
    }
}
