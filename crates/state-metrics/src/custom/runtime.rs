//! The live side of custom resource state metrics: loads the configuration, watches
//! CustomResourceDefinitions, runs one dynamic watcher per resolved group/version/kind and serves each as
//! an extra `/metrics` writer named `<group>/<version>, Resource=<plural>`.
//!
//! Unlike upstream, nothing else restarts when the CRD set or the config file changes: a new CRD only
//! starts its own watch, a removed one only stops its own, and a new configuration rebuilds the custom
//! writers alone. A rebuilt writer keeps serving its previous rendering until its first list completes,
//! so a reload does not make series blink out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kube::runtime::watcher::DefaultBackoff;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use super::telemetry::CustomTelemetry;
use super::watch::{Bound, CrdRender, CrdSink, CustomRender};
use super::{CompiledResource, ConfigError, Gvkp, load_and_compile, resolve_all};
use crate::filter::{FamilyFilter, FilterError, NamespaceScope, namespace_denylist_selector, namespace_scope};
use crate::ingest::machine::Watcher;
use crate::ingest::{self, KubeTransport, Pipeline, Received, Reporter};
use crate::options::Options;
use crate::scrape::{Headers, Served};
use crate::shard::{Effective, Shard};
use crate::telemetry::UNSTRUCTURED;
use crate::textstore::{self, Maintenance};

/// How often the config file is re-read.
const POLL: Duration = Duration::from_secs(1);
/// Name under which `/readyz` reports the CRD list while it is pending.
const CRD_PENDING: &str = "customresourcedefinitions";
/// Where CustomResourceDefinitions are listed.
pub const CRD_COLLECTION: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    // The causes are in the messages, not chained as sources: `{:#}` would print them twice.
    #[error("reading --custom-resource-state-config-file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("--custom-resource-state-config-file {path} is not UTF-8 text")]
    NotText { path: PathBuf },
    #[error("{origin}: {error}")]
    Config { origin: String, error: ConfigError },
    /// The metric allow/deny/opt-in lists, which apply to every family, not only custom ones.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

/// Where the configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--custom-resource-state-config`: fixed for the life of the process.
    Inline,
    /// `--custom-resource-state-config-file`: re-read every second.
    File(PathBuf),
}

/// The startup result: what to run, validated before any port is bound.
pub struct Prepared {
    pub source: Source,
    /// `None` only for a file that is missing under `--continue-without-custom-resource-state-config-file`.
    pub initial: Option<Vec<CompiledResource>>,
    /// Raw bytes of the file as loaded (to notice changes and hash them).
    initial_bytes: Option<Vec<u8>>,
    filter: Arc<FamilyFilter>,
    reach: Reach,
}

/// `--namespaces` / `--namespaces-denylist` as they apply to namespaced custom resources (cluster-scoped
/// ones are always listed whole).
#[derive(Clone, Debug)]
struct Reach {
    namespaces: NamespaceScope,
    /// Field selector excluding the denied namespaces ("" for none).
    fields: String,
}

/// Reads and validates the configuration named by the options. `Ok(None)`: no custom resources
/// configured. The inline flag wins over the file flag, as upstream.
pub fn prepare(opts: &Options) -> Result<Option<Prepared>, StartError> {
    let filter = Arc::new(FamilyFilter::new(&opts.metric_allowlist, &opts.metric_denylist, &opts.metric_opt_in_list)?);
    let reach = Reach {
        namespaces: namespace_scope(&opts.namespaces),
        fields: namespace_denylist_selector(&opts.namespaces_denylist),
    };
    if !opts.custom_resource_state_config.is_empty() {
        let resources = load_and_compile(&opts.custom_resource_state_config)
            .map_err(|error| StartError::Config { origin: "--custom-resource-state-config".into(), error })?;
        return Ok(Some(Prepared {
            source: Source::Inline,
            initial: Some(resources),
            initial_bytes: None,
            filter,
            reach,
        }));
    }
    if opts.custom_resource_state_config_file.is_empty() {
        return Ok(None);
    }
    let path = PathBuf::from(&opts.custom_resource_state_config_file);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let resources = compile_bytes(&path, &bytes)?;
            Ok(Some(Prepared {
                source: Source::File(path),
                initial: Some(resources),
                initial_bytes: Some(bytes),
                filter,
                reach,
            }))
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && opts.continue_without_custom_resource_state_config_file =>
        {
            tracing::warn!(
                file = %path.display(),
                "custom resource state config file not found; continuing without it until it appears"
            );
            Ok(Some(Prepared { source: Source::File(path), initial: None, initial_bytes: None, filter, reach }))
        }
        Err(error) => Err(StartError::Read { path, error }),
    }
}

fn compile_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<CompiledResource>, StartError> {
    let text = std::str::from_utf8(bytes).map_err(|_| StartError::NotText { path: path.to_owned() })?;
    load_and_compile(text).map_err(|error| StartError::Config {
        origin: format!("--custom-resource-state-config-file {}", path.display()),
        error,
    })
}

/// One served custom writer; `previous` keeps answering scrapes until `current` has listed once.
struct Slot {
    current: Served,
    previous: Option<Served>,
}

impl Slot {
    fn served(&self) -> &Served {
        match &self.previous {
            Some(p) if !self.current.store.synced() => p,
            _ => &self.current,
        }
    }
}

/// The shared, scrape-facing state of the custom resource runtime.
#[derive(Default)]
pub struct CustomRuntime {
    slots: Mutex<BTreeMap<String, Slot>>,
    crds_synced: AtomicBool,
    pub telemetry: Arc<CustomTelemetry>,
}

impl CustomRuntime {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The custom writers currently served, in name order.
    pub fn served(&self) -> Vec<Served> {
        self.lock().values().map(|s| s.served().clone()).collect()
    }

    /// The writers of a scrape: `builtin` plus the custom ones, sorted bytewise by name.
    pub fn merged(builtin: &[Served], custom: Option<&CustomRuntime>) -> Vec<Served> {
        let mut all = builtin.to_vec();
        if let Some(c) = custom {
            all.extend(c.served());
            all.sort_by(|a, b| a.name.cmp(&b.name));
        }
        all
    }

    /// Like [`CustomRuntime::merged`], plus a never-synced placeholder named `customresourcedefinitions`
    /// while the first CRD list is pending, for `/readyz`. CRDs that do not exist have no writer and so
    /// are never waited for.
    pub fn for_readiness(builtin: &[Served], custom: Option<&CustomRuntime>) -> Vec<Served> {
        let mut all = Self::merged(builtin, custom);
        if let Some(c) = custom
            && !c.crds_synced.load(Ordering::Relaxed)
        {
            all.push(Served {
                name: CRD_PENDING.to_owned(),
                headers: Arc::new(Headers::from_parts(Vec::new())),
                store: textstore::store(&[] as &[&str], 1, &Maintenance::threads()).0,
            });
        }
        all
    }
}

/// Starts the runtime: returns its shared state and the future that drives it (the CRD watch, the
/// config file poll and the per-resource watches; dropping the future stops them all).
///
/// `shard` is this instance's shard; custom objects are split among shards by uid like built-in ones,
/// and a change (auto-sharding) rebuilds the custom writers.
pub fn start(
    prepared: Prepared,
    env: Env,
    shard: watch::Receiver<Effective>,
) -> (Arc<CustomRuntime>, impl Future<Output = ()> + Send + 'static) {
    let rt = Arc::new(CustomRuntime::default());
    if let (Source::File(path), Some(bytes)) = (&prepared.source, &prepared.initial_bytes) {
        rt.telemetry.reload_succeeded(path, bytes);
    }
    let fut = drive(rt.clone(), prepared, env, shard);
    (rt, fut)
}

/// The configured resources resolved against `crds`, grouped by writer name, with the family filter
/// applied.
fn plan(config: &[CompiledResource], crds: &[Value], filter: &FamilyFilter) -> BTreeMap<String, Bound> {
    let mut out: BTreeMap<String, Bound> = BTreeMap::new();
    for r in resolve_all(config, crds) {
        let enabled: Vec<usize> =
            r.family_names().iter().enumerate().filter(|(_, n)| filter.keep(n, false)).map(|(i, _)| i).collect();
        out.entry(r.resource_name())
            .or_insert_with(|| Bound {
                gvk: r.gvk().clone(),
                parts: Vec::new(),
                shard: Shard::default(),
                namespaced: is_namespaced(r.gvk(), crds),
            })
            .parts
            .push((r, enabled));
    }
    out
}

/// Whether the CRD serving `gvk` declares a namespaced resource (the default when it does not say).
fn is_namespaced(gvk: &Gvkp, crds: &[Value]) -> bool {
    crds.iter()
        .find(|c| {
            c["spec"]["group"].as_str() == Some(gvk.group.as_str())
                && c["spec"]["names"]["plural"].as_str() == Some(gvk.plural.as_str())
        })
        .is_none_or(|c| c["spec"]["scope"].as_str() != Some("Cluster"))
}

struct Running {
    generation: u64,
    shard: Shard,
    abort: AbortHandle,
    previous: Option<AbortHandle>,
}

async fn drive(rt: Arc<CustomRuntime>, prepared: Prepared, mut env: Env, mut shard_rx: watch::Receiver<Effective>) {
    let Prepared { source, initial, initial_bytes, filter, reach } = prepared;
    env.reach = reach;
    let (cfg_tx, mut cfg_rx) = watch::channel(initial.map(Arc::new));
    let (crd_tx, mut crd_rx) = watch::channel(Arc::new(Vec::<Value>::new()));
    let mut background = JoinSet::new();
    background.spawn(watch_crds(env.clone(), crd_tx, rt.clone()));
    if let Source::File(path) = source {
        background.spawn(poll_file(path, initial_bytes, cfg_tx.clone(), rt.telemetry.clone()));
    }
    let mut watches = JoinSet::new();
    let mut running: BTreeMap<String, Running> = BTreeMap::new();
    let mut generation = 0u64;
    // Without auto-sharding the sender is gone at once; the shard then never changes.
    let mut shard_live = true;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = cfg_rx.changed() => if r.is_ok() { generation += 1 },
            _ = crd_rx.changed() => {},
            _ = tick.tick() => {},
            Some(_) = watches.join_next() => {},
            r = shard_rx.changed(), if shard_live => match r {
                Ok(()) => generation += 1,
                Err(_) => shard_live = false,
            },
        }
        let Effective { shard, blocked } = shard_rx.borrow_and_update().clone();
        env.blocked = blocked;
        let cfg = cfg_rx.borrow_and_update().clone();
        let crds = crd_rx.borrow_and_update().clone();
        let mut desired = cfg.map(|c| plan(&c, &crds, &filter)).unwrap_or_default();
        for b in desired.values_mut() {
            b.shard = shard;
        }
        reconcile(&rt, &mut running, &mut watches, desired, generation, &env);
        promote(&rt, &mut running);
    }
}

/// What every custom resource watch is started with.
#[derive(Clone)]
pub struct Env {
    pub transport: Arc<KubeTransport>,
    pub reporter: Arc<Reporter>,
    pub config: ingest::Config,
    pub maintenance: Maintenance,
    /// Bytes received for custom resources and CRDs (telemetry).
    pub received: Arc<Received>,
    reach: Reach,
    /// Why server-side sharding is blocked, while it is.
    blocked: Option<Arc<str>>,
}

impl Env {
    pub fn new(
        transport: Arc<KubeTransport>,
        reporter: Arc<Reporter>,
        config: ingest::Config,
        maintenance: Maintenance,
        received: Arc<Received>,
    ) -> Self {
        let reach = Reach { namespaces: NamespaceScope::All, fields: String::new() };
        Env { transport, reporter, config, maintenance, received, reach, blocked: None }
    }

    /// A list/watch pipeline of `scope` into `sink`.
    fn pipeline<R: ingest::Render, S: ingest::Sink>(
        &self,
        resource: &str,
        scope: ingest::Scope,
        render: R,
        sink: S,
    ) -> Pipeline<KubeTransport, R, S> {
        Pipeline {
            scope,
            transport: self.transport.clone(),
            render: Arc::new(render),
            sink,
            watcher: Watcher::new(self.config.clone(), Box::new(DefaultBackoff::default())),
            reporter: self.reporter.clone(),
            resource: Arc::from(resource),
            type_label: Arc::from(UNSTRUCTURED),
            received: self.received.clone(),
            idle_check: self.config.idle_check,
        }
    }
}

/// The API path of the collection `gvk` names, in `namespace` or across all.
fn collection(gvk: &Gvkp, namespace: Option<&str>) -> String {
    let base = if gvk.group.is_empty() {
        format!("/api/{}", gvk.version)
    } else {
        format!("/apis/{}/{}", gvk.group, gvk.version)
    };
    match namespace {
        Some(ns) => format!("{base}/namespaces/{ns}/{}", gvk.plural),
        None => format!("{base}/{}", gvk.plural),
    }
}

/// What the runtime does to one custom writer.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// No longer configured or served: stop its watches and stop serving it.
    Stop(String),
    /// New: start it.
    Start(String),
    /// Its configuration changed: build it anew beside the old one, which keeps serving until the new
    /// one has listed, so a reload does not make series blink out.
    Rebuild(String),
    /// This instance's shard changed: build it anew and drop the old one at once (its objects belong to
    /// another shard now, and serving them would count them twice across the fleet).
    Reshard(String),
}

/// The changes that turn what runs (name → config generation and shard it was built from) into what is
/// desired (name → shard) for config `generation`. Writers whose generation and shard are unchanged are
/// left alone.
fn changes(
    running: &BTreeMap<String, (u64, Shard)>,
    desired: &BTreeMap<String, Shard>,
    generation: u64,
) -> Vec<Change> {
    let mut out: Vec<Change> =
        running.keys().filter(|n| !desired.contains_key(*n)).map(|n| Change::Stop(n.clone())).collect();
    for (name, shard) in desired {
        match running.get(name) {
            None => out.push(Change::Start(name.clone())),
            Some((_, was)) if was != shard => out.push(Change::Reshard(name.clone())),
            Some((g, _)) if *g != generation => out.push(Change::Rebuild(name.clone())),
            Some(_) => {}
        }
    }
    out
}

/// Carries out [`changes`]: starts, replaces and stops watches so that exactly `desired` runs.
fn reconcile(
    rt: &CustomRuntime,
    running: &mut BTreeMap<String, Running>,
    watches: &mut JoinSet<()>,
    mut desired: BTreeMap<String, Bound>,
    generation: u64,
    env: &Env,
) {
    let now: BTreeMap<String, (u64, Shard)> =
        running.iter().map(|(n, r)| (n.clone(), (r.generation, r.shard))).collect();
    let want: BTreeMap<String, Shard> = desired.iter().map(|(n, b)| (n.clone(), b.shard)).collect();
    let mut slots = rt.lock();
    for change in changes(&now, &want, generation) {
        let name = match &change {
            Change::Stop(name) => {
                if let Some(r) = running.remove(name) {
                    r.abort.abort();
                    if let Some(p) = r.previous {
                        p.abort();
                    }
                }
                slots.remove(name);
                tracing::info!(resource = %name, "custom resource no longer served; its watch stopped");
                continue;
            }
            Change::Start(n) | Change::Rebuild(n) | Change::Reshard(n) => n.clone(),
        };
        let Some(bound) = desired.remove(&name) else { continue };
        let gvk = bound.gvk.clone();
        let shard = bound.shard;
        let (served, abort) = spawn_writer(&name, bound, env, watches);
        let old = running.insert(name.clone(), Running { generation, shard, abort, previous: None });
        let old_slot = slots.remove(&name);
        match (change, old) {
            (Change::Reshard(_), Some(old)) => {
                old.abort.abort();
                if let Some(p) = old.previous {
                    p.abort();
                }
                slots.insert(name.clone(), Slot { current: served, previous: None });
                tracing::info!(resource = %name, "shard changed; relisting custom resource");
            }
            (Change::Rebuild(_), Some(old)) => {
                // Keep the watch of whichever writer is being served: it stays current until the new one
                // has listed. The other one stops now.
                let serving_current =
                    old_slot.as_ref().is_none_or(|s| s.previous.is_none() || s.current.store.synced());
                let (keep, stop) =
                    if serving_current { (Some(old.abort), old.previous) } else { (old.previous, Some(old.abort)) };
                if let Some(s) = stop {
                    s.abort();
                }
                if let Some(r) = running.get_mut(&name) {
                    r.previous = keep;
                }
                let previous = old_slot.as_ref().map(|s| s.served().clone());
                slots.insert(name.clone(), Slot { current: served, previous });
                tracing::info!(resource = %name, "custom resource configuration changed; rebuilding its writer");
            }
            _ => {
                slots.insert(name.clone(), Slot { current: served, previous: None });
                tracing::info!(resource = %name, group = %gvk.group, version = %gvk.version, kind = %gvk.kind,
                    "custom resource found; watching it");
            }
        }
    }
}

/// Why a custom resource is not served while server-side sharding is blocked, should the reason not
/// have come with the blocked shard.
const BLOCKED: &str = "--shard-mode=server, and the API server does not shard lists; nothing is served until it does";

/// A new writer for `bound` and the one task that runs its list/watches (one per namespace under
/// `--namespaces`), so that one handle stops them all.
fn spawn_writer(name: &str, bound: Bound, env: &Env, watches: &mut JoinSet<()>) -> (Served, AbortHandle) {
    let namespaces: Vec<Option<String>> = match &env.reach.namespaces {
        NamespaceScope::Only(list) if bound.namespaced => list.iter().cloned().map(Some).collect(),
        _ => vec![None],
    };
    let fields = if bound.namespaced { env.reach.fields.clone() } else { String::new() };
    let headers = bound.headers();
    let (reader, writers) = textstore::store(headers.names(), namespaces.len(), &env.maintenance);
    let served = Served { name: name.to_owned(), headers: Arc::new(headers), store: reader };
    if bound.shard.is_blocked() {
        // Server mode, and the API server does not shard: nothing is listed (a non-sharding server
        // would send every object), nothing is served, and /readyz names the wait, as for built-in kinds.
        for mut w in writers {
            crate::sharding::block_writer(&mut w, env.blocked.as_deref().unwrap_or(BLOCKED));
        }
        // No list/watch runs; the empty task keeps the one-handle-per-writer shape `reconcile` stops.
        return (served, watches.spawn(async {}));
    }
    let bound = Arc::new(bound);
    let pipelines: Vec<_> = writers
        .into_iter()
        .zip(namespaces)
        .map(|(writer, ns)| {
            let scope = ingest::Scope {
                path: collection(&bound.gvk, ns.as_deref()),
                field_selector: fields.clone(),
                shard_selector: bound.shard.selector().unwrap_or_default(),
                ..ingest::Scope::default()
            };
            env.pipeline(name, scope, CustomRender { bound: bound.clone() }, writer).run()
        })
        .collect();
    let abort = watches.spawn(async move {
        futures::future::join_all(pipelines).await;
    });
    (served, abort)
}

/// Once a rebuilt writer has listed, its predecessor stops.
fn promote(rt: &CustomRuntime, running: &mut BTreeMap<String, Running>) {
    let mut slots = rt.lock();
    for (name, r) in running.iter_mut() {
        let Some(slot) = slots.get_mut(name) else { continue };
        if slot.current.store.synced()
            && let Some(p) = r.previous.take()
        {
            p.abort();
            slot.previous = None;
        }
    }
}

/// Re-reads the config file every [`POLL`]; a changed, valid file replaces the configuration, an
/// invalid one is refused and logged with its location while the old one keeps serving.
async fn poll_file(
    path: PathBuf,
    mut last: Option<Vec<u8>>,
    tx: watch::Sender<Option<Arc<Vec<CompiledResource>>>>,
    telemetry: Arc<CustomTelemetry>,
) {
    loop {
        tokio::time::sleep(POLL).await;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(file = %path.display(), error = %e, "custom resource state config file unreadable");
                continue;
            }
        };
        if last.as_ref() == Some(&bytes) {
            continue;
        }
        match compile_bytes(&path, &bytes) {
            Ok(resources) => {
                tracing::info!(file = %path.display(), resources = resources.len(),
                    "custom resource state config reloaded");
                telemetry.reload_succeeded(&path, &bytes);
                let _ = tx.send(Some(Arc::new(resources)));
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e,
                    "custom resource state config rejected; the previous configuration stays in effect");
                telemetry.reload_failed(&path);
            }
        }
        last = Some(bytes);
    }
}

/// Lists and watches CustomResourceDefinitions, publishing every change of the set to `tx`.
async fn watch_crds(env: Env, tx: watch::Sender<Arc<Vec<Value>>>, rt: Arc<CustomRuntime>) {
    let synced = rt.clone();
    let sink = CrdSink::new(
        rt.telemetry.clone(),
        tx,
        Box::new(move || {
            if !synced.crds_synced.swap(true, Ordering::Relaxed) {
                tracing::info!("CustomResourceDefinition list complete");
            }
        }),
    );
    let scope = ingest::Scope { path: CRD_COLLECTION.into(), ..ingest::Scope::default() };
    env.pipeline(CRD_PENDING, scope, CrdRender, sink).run().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Sink;
    use crate::ingest::render::{Decoded, Render};
    use crate::textstore::StoreEvent;
    use clap::Parser as _;
    use serde_json::json;

    const CONFIG: &str = r#"
spec:
  resources:
    - groupVersionKind: {group: example.dev, version: v1, kind: Widget}
      metricNamePrefix: widget
      labelsFromPath: {name: [metadata, name]}
      metrics:
        - name: size
          help: Size.
          each: {type: Gauge, gauge: {path: [spec, size]}}
        - name: color
          help: Color.
          each: {type: Info, info: {labelsFromPath: {color: [spec, color]}}}
"#;

    fn crd(group: &str, kind: &str, plural: &str, versions: &[&str]) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {"group": group, "names": {"kind": kind, "plural": plural},
                     "versions": versions.iter().map(|v| json!({"name": v, "served": true})).collect::<Vec<_>>()}
        })
    }

    fn widget(name: &str, uid: &str, size: i64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "example.dev/v1", "kind": "Widget",
            "metadata": {"name": name, "uid": uid, "namespace": "ns", "resourceVersion": "7"},
            "spec": {"size": size, "color": "red"}
        }))
        .unwrap()
    }

    /// What `bound` renders of one object, all families in order.
    fn rendered(bound: Bound, raw: &[u8]) -> String {
        match (CustomRender { bound: Arc::new(bound) }).json(raw) {
            Decoded::Item(i) => String::from_utf8(i.rendered.unwrap().buf).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    fn served(name: &str) -> Served {
        Served {
            name: name.into(),
            headers: Arc::new(Headers::from_parts(Vec::new())),
            store: textstore::store(&[] as &[&str], 1, &Maintenance::threads()).0,
        }
    }

    /// Marks a store listed (its writer must be free).
    fn list_done(s: &Served) {
        s.store.reclaim(0).expect("writer free").apply(StoreEvent::EndRelist);
    }

    fn opts(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("ksm").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn plan_resolves_groups_and_filters() {
        let cfg = load_and_compile(CONFIG).unwrap();
        assert!(plan(&cfg, &[], &FamilyFilter::keep_all()).is_empty());
        let crds =
            [crd("example.dev", "Widget", "widgets", &["v1", "v2"]), crd("other.dev", "Widget", "widgets", &["v1"])];
        let p = plan(&cfg, &crds, &FamilyFilter::keep_all());
        assert_eq!(p.keys().collect::<Vec<_>>(), ["example.dev/v1, Resource=widgets"]);
        let b = &p["example.dev/v1, Resource=widgets"];
        assert_eq!(b.parts[0].1, [0, 1]);
        let deny = FamilyFilter::new::<&str>(&[], &["widget_size"], &[]).unwrap();
        let p = plan(&cfg, &crds, &deny);
        assert_eq!(p["example.dev/v1, Resource=widgets"].parts[0].1, [1]);
        let h = p["example.dev/v1, Resource=widgets"].headers();
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn two_entries_for_one_gvk_share_a_writer() {
        let twice =
            format!("{CONFIG}{}", CONFIG.replacen("spec:\n  resources:\n", "", 1).replace("widget\n", "gadget\n"));
        let cfg = load_and_compile(&twice).unwrap();
        assert_eq!(cfg.len(), 2);
        let p = plan(&cfg, &[crd("example.dev", "Widget", "widgets", &["v1"])], &FamilyFilter::keep_all());
        assert_eq!(p.len(), 1);
        let b = p.into_values().next().unwrap();
        assert_eq!(b.headers().len(), 4);
        let text = rendered(b, &widget("a", "1", 3));
        assert!(text.contains("widget_size{") && text.contains("gadget_size{"), "{text}");
    }

    #[test]
    fn objects_render_through_their_bound_configuration() {
        let cfg = load_and_compile(CONFIG).unwrap();
        let p = plan(&cfg, &[crd("example.dev", "Widget", "widgets", &["v1"])], &FamilyFilter::keep_all());
        let b = p.into_values().next().unwrap();
        let lbl =
            r#"customresource_group="example.dev",customresource_kind="Widget",customresource_version="v1",name="a""#;
        assert_eq!(
            rendered(b, &widget("a", "1", 3)),
            format!("widget_size{{{lbl}}} 3\nwidget_color{{color=\"red\",{lbl}}} 1\n")
        );
    }

    #[test]
    fn changes_start_stop_rebuild_and_reshard_only_what_differs() {
        let s0 = Shard::default();
        let s1 = Shard::new(1, 2);
        let running: BTreeMap<String, (u64, Shard)> =
            [("a".into(), (1, s0)), ("b".into(), (1, s0)), ("c".into(), (0, s0)), ("d".into(), (1, s0))].into();
        let desired: BTreeMap<String, Shard> =
            [("a".into(), s0), ("c".into(), s0), ("d".into(), s1), ("e".into(), s0)].into();
        assert_eq!(
            changes(&running, &desired, 1),
            [
                Change::Stop("b".into()),
                Change::Rebuild("c".into()),
                Change::Reshard("d".into()),
                Change::Start("e".into())
            ]
        );
        let same: BTreeMap<String, Shard> = running.iter().map(|(n, (_, s))| (n.clone(), *s)).collect();
        assert!(changes(&[("a".to_owned(), (1, s0))].into(), &[("a".to_owned(), s0)].into(), 1).is_empty());
        assert_eq!(changes(&running, &same, 1), [Change::Rebuild("c".into())]);
    }

    /// A client whose requests fail fast: the watches started here only back off.
    fn env() -> Env {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let telemetry = Arc::new(crate::telemetry::Telemetry::new(0, 1));
        Env::new(
            Arc::new(KubeTransport { client }),
            Arc::new(Reporter::new(telemetry, "http://127.0.0.1:1")),
            ingest::Config::default(),
            Maintenance::threads(),
            Arc::new(Received::default()),
        )
    }

    #[tokio::test]
    async fn reconcile_keeps_unchanged_watches_and_bridges_rebuilds() {
        let cfg = load_and_compile(&CONFIG.replace("version: v1", "version: \"*\"")).unwrap();
        let crds = [crd("example.dev", "Widget", "widgets", &["v1", "v2"])];
        let desired = || plan(&cfg, &crds, &FamilyFilter::keep_all());
        let (rt, env) = (CustomRuntime::default(), env());
        let (mut running, mut watches) = (BTreeMap::new(), JoinSet::new());
        let v1 = "example.dev/v1, Resource=widgets";
        reconcile(&rt, &mut running, &mut watches, desired(), 0, &env);
        assert_eq!(running.len(), 2);
        let id = running[v1].abort.id();
        // Same config, same CRDs: nothing restarts.
        reconcile(&rt, &mut running, &mut watches, desired(), 0, &env);
        assert_eq!(running[v1].abort.id(), id);

        // A new config generation: a new watch, the old one kept (and its writer served) until the new
        // one has listed.
        let old_headers = rt.lock()[v1].current.headers.clone();
        reconcile(&rt, &mut running, &mut watches, desired(), 1, &env);
        assert_ne!(running[v1].abort.id(), id);
        assert_eq!(running[v1].previous.as_ref().map(AbortHandle::id), Some(id));
        assert!(Arc::ptr_eq(&rt.lock()[v1].served().headers, &old_headers));
        // The new writer lists (its watch task stopped here so that the test can write its store).
        running[v1].abort.abort();
        let current = rt.lock()[v1].current.clone();
        let mut writer = loop {
            if let Some(w) = current.store.reclaim(0) {
                break w;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        };
        writer.apply(StoreEvent::EndRelist);
        promote(&rt, &mut running);
        assert!(running[v1].previous.is_none());
        assert!(!Arc::ptr_eq(&rt.lock()[v1].served().headers, &old_headers));

        // A shard change drops the old rendering at once.
        let mut resharded = desired();
        for b in resharded.values_mut() {
            b.shard = Shard::new(1, 2);
        }
        reconcile(&rt, &mut running, &mut watches, resharded, 2, &env);
        assert!(running[v1].previous.is_none() && rt.lock()[v1].previous.is_none());

        // The CRD loses v2: only that writer goes.
        let crds1 = [crd("example.dev", "Widget", "widgets", &["v1"])];
        reconcile(&rt, &mut running, &mut watches, plan(&cfg, &crds1, &FamilyFilter::keep_all()), 2, &env);
        assert_eq!(running.keys().collect::<Vec<_>>(), [v1]);
        assert_eq!(rt.served().len(), 1);
        watches.abort_all();
    }

    #[test]
    fn scope_comes_from_the_crd() {
        let g = |plural: &str| Gvkp {
            group: "example.dev".into(),
            version: "v1".into(),
            kind: "W".into(),
            plural: plural.into(),
        };
        let mut cluster = crd("example.dev", "W", "ws", &["v1"]);
        cluster["spec"]["scope"] = json!("Cluster");
        let mut namespaced = crd("example.dev", "X", "xs", &["v1"]);
        namespaced["spec"]["scope"] = json!("Namespaced");
        let crds = [cluster, namespaced];
        assert!(!is_namespaced(&g("ws"), &crds));
        assert!(is_namespaced(&g("xs"), &crds));
        assert!(is_namespaced(&g("unknown"), &crds));
    }

    #[test]
    fn shards_split_objects_by_uid() {
        let cfg = load_and_compile(CONFIG).unwrap();
        let p = plan(&cfg, &[crd("example.dev", "Widget", "widgets", &["v1"])], &FamilyFilter::keep_all());
        let mut b = p.into_values().next().unwrap();
        let uids: Vec<String> = (0..12).map(|i| format!("uid-{i}")).collect();
        let mut kept = 0;
        for index in 0..3 {
            b.shard = Shard::new(index, 3);
            let render = CustomRender { bound: Arc::new(Bound { parts: b.parts.clone(), gvk: b.gvk.clone(), ..b }) };
            let mine = uids
                .iter()
                .enumerate()
                .filter(|(i, u)| matches!(render.json(&widget(&format!("w{i}"), u, 1)), Decoded::Item(_)))
                .count();
            assert_eq!(mine, uids.iter().filter(|u| crate::shard::owns(u, index, 3)).count());
            kept += mine;
            b = Arc::into_inner(render.bound).unwrap();
        }
        assert_eq!(kept, uids.len());
    }

    #[test]
    fn crd_sink_publishes_changes_and_counts_events() {
        let tel = Arc::new(CustomTelemetry::default());
        let (tx, rx) = watch::channel(Arc::new(Vec::new()));
        let synced = Arc::new(AtomicBool::new(false));
        let s2 = synced.clone();
        let mut sink = CrdSink::new(tel.clone(), tx, Box::new(move || s2.store(true, Ordering::Relaxed)));
        let item = |v: Value| match CrdRender.json(&serde_json::to_vec(&v).unwrap()) {
            Decoded::Item(i) => (i.key, i.rendered.unwrap()),
            other => panic!("{other:?}"),
        };
        let w = || item(crd("example.dev", "Widget", "widgets", &["v1"]));
        sink.apply(StoreEvent::BeginRelist);
        let (k, r) = w();
        sink.apply(StoreEvent::Insert(k, r));
        assert!(rx.borrow().is_empty() && !synced.load(Ordering::Relaxed));
        assert_eq!(sink.apply(StoreEvent::EndRelist), 1);
        assert!(synced.load(Ordering::Relaxed));
        assert_eq!(rx.borrow()[0]["spec"]["names"]["plural"], "widgets");
        let (k, r) = item(crd("example.dev", "Gadget", "gadgets", &["v1"]));
        sink.apply(StoreEvent::Upsert(k, r));
        let (k, r) = w();
        sink.apply(StoreEvent::Upsert(k.clone(), r));
        sink.apply(StoreEvent::Remove(k));
        assert_eq!(rx.borrow().len(), 1);
        let mut out = Vec::new();
        tel.render(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("kube_state_metrics_custom_resource_state_add_events_total 2\n"), "{out}");
        assert!(out.contains("kube_state_metrics_custom_resource_state_update_events_total 1\n"), "{out}");
        assert!(out.contains("kube_state_metrics_custom_resource_state_delete_events_total 1\n"), "{out}");
        assert!(out.contains("kube_state_metrics_custom_resource_state_cache 1\n"), "{out}");
        // No file configured: no reload gauges.
        assert!(!out.contains("config_hash"), "{out}");
    }

    #[test]
    fn reload_gauges_follow_success_and_failure() {
        let tel = CustomTelemetry::default();
        let p = Path::new("/etc/crs.yaml");
        tel.reload_succeeded(p, b"abc");
        tel.reload_failed(p);
        let mut out = Vec::new();
        tel.render(&mut out);
        let out = String::from_utf8(out).unwrap();
        let l = r#"{filename="/etc/crs.yaml",type="customresourceconfig"}"#;
        assert!(out.contains(&format!("kube_state_metrics_last_config_reload_successful{l} 0\n")), "{out}");
        // The served config's hash stays: md5("abc") = 90 01 50 98 3c d2 …
        let mut h = Vec::new();
        exposition::write_float(&mut h, 0xd23c_9850_0190u64 as f64);
        assert!(
            out.contains(&format!("kube_state_metrics_config_hash{l} {}\n", String::from_utf8(h).unwrap())),
            "{out}"
        );
        assert!(!out.contains(&format!("kube_state_metrics_last_config_reload_success_timestamp_seconds{l} 0\n")));
    }

    #[test]
    fn prepare_validates_at_startup() {
        assert!(prepare(&opts(&[])).unwrap().is_none());
        let p = prepare(&opts(&[&format!("--custom-resource-state-config={CONFIG}")])).unwrap().unwrap();
        assert_eq!(p.source, Source::Inline);
        assert_eq!(p.initial.unwrap().len(), 1);

        let bad = "spec:\n  resources:\n    - groupVersionKind: {group: g, version: v1, kind: K}\n      metrics:\n        - name: x\n          each: {type: Bogus}\n";
        let e = prepare(&opts(&[&format!("--custom-resource-state-config={bad}")])).err().unwrap().to_string();
        assert!(e.starts_with("--custom-resource-state-config: custom resource state config: "), "{e}");
        assert!(e.contains("metrics[0]"), "{e}");

        let dir = std::env::temp_dir().join(format!("crs-prepare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.yaml");
        let m = missing.display().to_string();
        let e = prepare(&opts(&[&format!("--custom-resource-state-config-file={m}")])).err().unwrap().to_string();
        assert!(e.contains("missing.yaml") && e.starts_with("reading"), "{e}");
        let p = prepare(&opts(&[
            &format!("--custom-resource-state-config-file={m}"),
            "--continue-without-custom-resource-state-config-file",
        ]))
        .unwrap()
        .unwrap();
        assert!(p.initial.is_none());
        assert_eq!(p.source, Source::File(missing.clone()));

        std::fs::write(&missing, bad).unwrap();
        // A present but invalid file is fatal even with continue-without.
        let e = prepare(&opts(&[
            &format!("--custom-resource-state-config-file={m}"),
            "--continue-without-custom-resource-state-config-file",
        ]))
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains(&m) && e.contains("metrics[0]"), "{e}");
        // Inline wins over the file.
        let p = prepare(&opts(&[
            &format!("--custom-resource-state-config-file={m}"),
            &format!("--custom-resource-state-config={CONFIG}"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(p.source, Source::Inline);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn slot_serves_previous_until_synced() {
        let slot = Slot { current: served("new"), previous: Some(served("old")) };
        assert_eq!(slot.served().name, "old");
        list_done(&slot.current);
        assert_eq!(slot.served().name, "new");
    }

    #[test]
    fn merged_writers_sort_bytewise_and_readiness_waits_for_crd_list() {
        let mk = served;
        let rt = CustomRuntime::default();
        rt.lock().insert(
            "example.dev/v1, Resource=widgets".into(),
            Slot { current: mk("example.dev/v1, Resource=widgets"), previous: None },
        );
        let builtin = [mk("configmaps"), mk("pods")];
        let names: Vec<String> = CustomRuntime::merged(&builtin, Some(&rt)).into_iter().map(|w| w.name).collect();
        assert_eq!(names, ["configmaps", "example.dev/v1, Resource=widgets", "pods"]);
        let ready: Vec<String> =
            CustomRuntime::for_readiness(&builtin, Some(&rt)).into_iter().map(|w| w.name).collect();
        assert!(ready.contains(&CRD_PENDING.to_owned()));
        rt.crds_synced.store(true, Ordering::Relaxed);
        assert_eq!(CustomRuntime::for_readiness(&builtin, Some(&rt)).len(), 3);
        assert_eq!(CustomRuntime::merged(&builtin, None).len(), 2);
    }
}
