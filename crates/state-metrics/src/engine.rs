//! Runs one instance: the IO around the [`crate::config::Plan`] — the API client, the list/watch tasks,
//! auto-sharding, the custom-resource runtime and the two HTTP servers — until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kube::runtime::watcher;
use tokio::sync::watch as signal;

use crate::authfilter::AuthFilter;
use crate::config::{self, ResourcePlan};
use crate::discovery;
use crate::ingest::{self, KubeTransport, Received, Reporter, WatchSpec};
use crate::options::Options;
use crate::routes::{self, App};
use crate::scrape::Served;
use crate::server::{self, Timeouts};
use crate::shard::{Effective, Shard};
use crate::sharding::{self, Settled, Settler};
use crate::telemetry::Telemetry;
use crate::textstore::{self, Maintenance};
use crate::webconfig::WebConfig;

/// How long each server lets open requests finish at shutdown (upstream: 3 s).
const DRAIN: Duration = Duration::from_secs(3);

/// Runs kube-state-metrics until `shutdown` completes. Reads the `--config` file first, then validates
/// everything before binding ports, so a bad option fails fast.
///
/// An API server that cannot be reached does not stop the process (upstream exits): it serves the
/// main and telemetry ports at once, `/livez` and `/readyz` fail until the server answers and the
/// first lists complete, and one log line says the server is unreachable (one more when it answers).
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut opts = opts;
    opts.apply_config_file()?;
    opts.check_supported()?;
    let web = if opts.tls_config.is_empty() {
        None
    } else {
        Some(Arc::new(WebConfig::load(std::path::Path::new(&opts.tls_config))?))
    };
    let custom = crate::custom::runtime::prepare(&opts)?;
    let plan = config::plan(&opts)?;

    let telemetry = Arc::new(Telemetry::new(opts.shard, opts.total_shards));
    let kube_cfg = kube_config(&opts).await?;
    let server_url = kube_cfg.cluster_url.to_string();
    let client = kube::client::ClientBuilder::try_from(kube_cfg).context("building the API client")?.build();
    let reporter = Arc::new(Reporter::new(telemetry.clone(), server_url.clone()));
    let transport = Arc::new(KubeTransport { client: client.clone() });

    // Auto-sharding needs the StatefulSet before anything is listed, so that no other shard's objects
    // are ever served.
    let auto = if opts.pod.is_empty() {
        None
    } else {
        let (sts, assigned) = discover_shard(&client, &opts.pod, &opts.pod_namespace).await?;
        let shard = assigned.shard;
        tracing::info!(statefulset = %sts, shard = shard.index, total = shard.total, "auto-sharding");
        Some((sts, assigned))
    };
    let assigned = match &auto {
        Some((_, a)) => *a,
        None => Assigned {
            shard: Shard::new(u32::try_from(opts.shard)?, u32::try_from(opts.total_shards)?),
            generation: None,
        },
    };
    telemetry.set_sharding(i32::try_from(assigned.shard.index)?, i32::try_from(assigned.shard.total)?);

    let main_listener = server::bind(&opts.host, opts.port)
        .await
        .with_context(|| format!("listening on {}:{}", opts.host, opts.port))?;
    let tel_listener = server::bind(&opts.telemetry_host, opts.telemetry_port)
        .await
        .with_context(|| format!("listening on {}:{}", opts.telemetry_host, opts.telemetry_port))?;

    let maintenance = Maintenance::threads();
    let mut served = Vec::new();
    let mut specs = Vec::new();
    for r in &plan.resources {
        let (s, sp) = wire_resource(r, &maintenance, &plan.watch, &transport, &reporter, &telemetry);
        served.push(s);
        specs.push(sp.into_iter().map(|spec| (r.handle.clone(), spec)).collect::<Vec<_>>());
    }
    let specs = Arc::new(specs);
    // Nothing is listed before the split is settled (below, once the ports answer).
    let mut running = Running::new(specs.len());
    let mut aux = tokio::task::JoinSet::new();

    // Only what the server serves is listed; the rest waits for discovery to find it.
    let mut tracker = discovery::Tracker::new(planned(&plan, &opts));
    let (version, first) = first_discovery(&transport, &tracker).await;
    if let Some(v) = &version {
        tracing::info!(version = %v, "connected to the API server");
    }
    let version = version.unwrap_or_else(|| "of unknown version".to_owned());
    let mut runs = vec![false; specs.len()];
    for change in tracker.update(&first) {
        availability_changed(change, &tracker, &version, &served, &telemetry, &mut running, &mut runs, None).await;
    }
    let (avail_tx, mut avail_rx) = tokio::sync::mpsc::unbounded_channel();
    if !tracker.settled() {
        aux.spawn(follow_discovery(transport.clone(), tracker, avail_tx, DISCOVERY_EVERY));
    } else {
        drop(avail_tx);
    }
    let mut discovering = true;
    let (assigned_tx, mut assigned_rx) = signal::channel(assigned);
    if let Some((sts, _)) = &auto {
        aux.spawn(follow_statefulset(
            client.clone(),
            opts.pod.clone(),
            opts.pod_namespace.clone(),
            sts.clone(),
            assigned_tx,
        ));
    } else {
        drop(assigned_tx);
    }
    // The shard in effect (split settled), for the custom-resource runtime.
    let (effective_tx, effective_rx) = signal::channel(Effective::default());
    tracing::info!(
        resources = %plan.resources.iter().map(|r| r.handle.name()).collect::<Vec<_>>().join(","),
        main = %display_addr(&main_listener),
        telemetry = %display_addr(&tel_listener),
        "kube-state-metrics started"
    );

    let custom = custom.map(|p| {
        let received = Arc::new(Received::default());
        telemetry.track_received(crate::telemetry::UNSTRUCTURED, received.clone());
        telemetry.register_calls(crate::telemetry::UNSTRUCTURED);
        let env = crate::custom::runtime::Env::new(
            transport.clone(),
            reporter.clone(),
            plan.watch.clone(),
            maintenance.clone(),
            received,
        );
        let (rt, fut) = crate::custom::runtime::start(p, env, effective_rx.clone());
        let tel = rt.telemetry.clone();
        telemetry.add_extra(Arc::new(move |out: &mut Vec<u8>| tel.render(out)));
        let listed = rt.clone();
        telemetry
            .track_dynamic_stores(Arc::new(move || listed.served().into_iter().map(|w| (w.name, w.store)).collect()));
        // It starts once the split is settled.
        let mut settled = effective_rx.clone();
        aux.spawn(async move {
            if settled.changed().await.is_ok() {
                fut.await;
            }
        });
        rt
    });
    // Upstream builds the filter from the same client; API errors at request time answer 503.
    let filter = opts.auth_filter.then(|| Arc::new(AuthFilter::new(client.clone())));
    let overview = crate::overview::OverviewState::new(opts.overview_usage.then(|| client.clone()));
    let app = Arc::new(App {
        served,
        gzip: opts.enable_gzip_encoding,
        telemetry: telemetry.clone(),
        client,
        custom,
        overview,
    });
    let tls = web.as_ref().and_then(|w| w.tls.clone());
    let (stop_tx, stop_rx) = signal::channel(false);
    let main_timeouts = Timeouts::new(
        opts.server_read_timeout,
        opts.server_read_header_timeout,
        opts.server_write_timeout,
        opts.server_idle_timeout,
    );
    let main_app = app.clone();
    let (main_web, main_filter) = (web.clone(), filter.clone());
    let main = tokio::spawn(server::serve_with(
        main_listener,
        move |req| {
            let app = main_app.clone();
            routes::secured(main_web.clone(), main_filter.clone(), req, move |req| routes::main_handler(app, req))
        },
        main_timeouts,
        stop_rx.clone(),
        DRAIN,
        tls.clone(),
    ));
    let tel_timeouts = Timeouts::telemetry();
    let tel = tokio::spawn(server::serve_with(
        tel_listener,
        move |req| {
            let telemetry = telemetry.clone();
            routes::secured(web.clone(), filter.clone(), req, move |req| routes::telemetry_handler(telemetry, req))
        },
        tel_timeouts,
        stop_rx,
        DRAIN,
        tls,
    ));

    let mut shutdown = std::pin::pin!(shutdown);
    let mut settler = Settler::new(
        opts.shard_mode,
        transport.clone(),
        // Kinds the server does not serve cannot tell whether it shards.
        probe_scopes(plan.resources.iter().zip(&runs).filter(|(_, r)| **r).map(|(p, _)| p), app.custom.is_some()),
        app.telemetry.clone(),
        server_url,
    );
    let mut following = auto.is_some();
    // The shard the running list/watches use; `None` while none run (blocked in server mode).
    let mut current: Option<Shard> = None;
    let mut to_settle = Some(assigned);
    let recheck = tokio::time::sleep(Duration::MAX);
    let mut recheck = std::pin::pin!(recheck);
    let mut rechecking = false;
    loop {
        // The split is decided at start and again with each StatefulSet generation (auto-sharding).
        if let Some(a) = to_settle.take() {
            let settled = tokio::select! {
                () = &mut shutdown => break,
                s = settler.settle(a.shard, &app.served) => s,
            };
            rechecking = false;
            match settled {
                Settled::Use(new) if current == Some(new) => {}
                Settled::Use(new) => {
                    if current.is_some() {
                        tracing::info!(
                            shard = new.index,
                            total = new.total,
                            mode = new.split.word(),
                            "shard assignment changed; relisting under the new one"
                        );
                    }
                    restart(&mut running, &specs, &app.served, new, &runs).await;
                    current = Some(new);
                    effective_tx.send_replace(Effective { shard: new, blocked: None });
                }
                Settled::Blocked(why) => {
                    running.stop_all().await;
                    sharding::block(&app.served, &why);
                    current = None;
                    // Custom resources wait too, and say why in /readyz.
                    effective_tx.send_replace(Effective { shard: Shard::blocked(a.shard), blocked: Some(why.into()) });
                    recheck.as_mut().reset(tokio::time::Instant::now() + sharding::BLOCKED_RECHECK);
                    rechecking = true;
                }
            }
            let (index, total) = (a.shard.index, a.shard.total);
            app.telemetry
                .set_sharding(i32::try_from(index).unwrap_or(i32::MAX), i32::try_from(total).unwrap_or(i32::MAX));
        }
        tokio::select! {
            () = &mut shutdown => break,
            changed = assigned_rx.changed(), if following => {
                if changed.is_err() {
                    following = false;
                    continue;
                }
                to_settle = Some(*assigned_rx.borrow_and_update());
            }
            () = &mut recheck, if rechecking => to_settle = Some(*assigned_rx.borrow()),
            found = avail_rx.recv(), if discovering => match found {
                Some((change, view)) => {
                    availability_changed(change, &view, &version, &app.served, &app.telemetry, &mut running, &mut runs, current.map(|shard| (shard, &specs[change.index]))).await;
                }
                None => discovering = false,
            },
        }
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    running.abort_all();
    aux.abort_all();
    let _ = main.await;
    let _ = tel.await;
    Ok(())
}

fn display_addr(l: &tokio::net::TcpListener) -> String {
    l.local_addr().map(|a| a.to_string()).unwrap_or_default()
}

/// One resource's store (served) and the list/watches that feed its parts.
fn wire_resource(
    r: &ResourcePlan,
    maintenance: &Maintenance,
    watch: &ingest::Config,
    transport: &Arc<KubeTransport>,
    reporter: &Arc<Reporter>,
    telemetry: &Telemetry,
) -> (Served, Vec<WatchSpec>) {
    let (reader, writers) = textstore::store(r.headers.names(), r.scopes.len(), maintenance);
    // The writers are claimed again by the watch tasks (and after a reshard, by their successors).
    drop(writers);
    telemetry.track_store(r.handle.name(), reader.clone());
    telemetry.register_calls(&r.handle.type_label());
    let received = Arc::new(Received::default());
    telemetry.track_received(r.handle.name(), received.clone());
    let specs = r
        .scopes
        .iter()
        .enumerate()
        .map(|(part, scope)| WatchSpec {
            transport: transport.clone(),
            reporter: reporter.clone(),
            config: watch.clone(),
            scope: scope.clone(),
            enabled: r.enabled.clone(),
            ctx: r.ctx.clone(),
            store: reader.clone(),
            part,
            shard: Shard::default(),
            received: received.clone(),
        })
        .collect();
    let served = Served { name: r.handle.name().to_owned(), headers: r.headers.clone(), store: reader };
    (served, specs)
}

/// Runs every list/watch under `shard`: stops the running ones, drops from each store what `shard` does
/// not own (the rest stays served until the relist replaces it, so nothing the shard keeps disappears
/// and nothing it gave away is served twice), and starts them again.
async fn restart(running: &mut Running, specs: &[Vec<ResourceSpec>], served: &[Served], shard: Shard, runs: &[bool]) {
    // Every old watch must be gone before the stores are trimmed (their writers are freed when their
    // tasks end), or one could still insert an object the new assignment gives to another shard.
    running.stop_all().await;
    for s in served {
        for part in 0..s.store.part_count() {
            match s.store.reclaim(part) {
                Some(mut w) => {
                    w.apply(textstore::StoreEvent::Failing(None));
                    w.retain(&|k| shard.owns(k.uid()));
                }
                None => tracing::error!(resource = %s.name, part, "a list/watch of this part outlived its shutdown"),
            }
        }
    }
    for (index, specs) in specs.iter().enumerate() {
        if runs[index] {
            running.start(index, specs, shard);
        }
    }
}

/// One collection of each resource, for the probe that tells whether the API server shards lists (any
/// will do; each is one this instance may list).
fn probe_scopes<'a>(resources: impl Iterator<Item = &'a ResourcePlan>, custom: bool) -> Vec<ingest::Scope> {
    let mut scopes: Vec<ingest::Scope> = resources.filter_map(|r| r.scopes.first().cloned()).collect();
    if custom {
        scopes.push(ingest::Scope { path: crate::custom::runtime::CRD_COLLECTION.into(), ..ingest::Scope::default() });
    }
    scopes
}

/// This instance's shard as assigned (before the split is settled), and with auto-sharding the
/// StatefulSet generation it comes from: a new generation settles the split again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Assigned {
    shard: Shard,
    generation: Option<i64>,
}

/// The list/watch tasks of every resource that runs, one set per resource of the plan, so that one
/// resource can start (discovery found it) or stop without touching the others.
struct Running {
    sets: Vec<Option<tokio::task::JoinSet<()>>>,
    /// Per resource, the group/version discovery chose when it is not the newest: (newest, chosen).
    versions: Vec<Option<(String, String)>>,
}

/// One list/watch of a resource (a namespace of it, or all).
type ResourceSpec = (Arc<dyn crate::registry::ResourceHandle>, WatchSpec);

impl Running {
    fn new(resources: usize) -> Self {
        Running { sets: (0..resources).map(|_| None).collect(), versions: vec![None; resources] }
    }

    fn start(&mut self, index: usize, specs: &[ResourceSpec], shard: Shard) {
        let mut set = tokio::task::JoinSet::new();
        for (h, spec) in specs {
            let mut spec = WatchSpec { shard, ..spec.clone() };
            if let Some((newest, chosen)) = &self.versions[index] {
                spec.scope.path = at_version(&spec.scope.path, newest, chosen);
            }
            set.spawn(h.watch(spec));
        }
        self.sets[index] = Some(set);
    }

    /// Reads resource `index` at group/version `chosen` from its next start (`newest` is the one its
    /// collection paths name); returns whether that differs from the one it was read at.
    fn read_at(&mut self, index: usize, newest: &str, chosen: &str) -> bool {
        let want = (newest != chosen).then(|| (newest.to_owned(), chosen.to_owned()));
        let moved = self.versions[index] != want;
        self.versions[index] = want;
        moved
    }

    /// Stops one resource's tasks and waits until they are gone (their store writers are free again).
    async fn stop(&mut self, index: usize) {
        if let Some(mut set) = self.sets[index].take() {
            set.shutdown().await;
        }
    }

    /// Stops every resource; returns the ones that were running.
    async fn stop_all(&mut self) -> Vec<usize> {
        let mut was = Vec::new();
        for index in 0..self.sets.len() {
            if self.sets[index].is_some() {
                self.stop(index).await;
                was.push(index);
            }
        }
        was
    }

    fn abort_all(&mut self) {
        for set in self.sets.iter_mut().flatten() {
            set.abort_all();
        }
    }
}

/// How often discovery is asked again while some planned resource is not served (or discovery did
/// not answer).
const DISCOVERY_EVERY: Duration = Duration::from_secs(30);
/// How long the first discovery round may take before everything is listed as if served.
const FIRST_DISCOVERY_WAIT: Duration = Duration::from_secs(10);

/// The planned resources as discovery sees them.
fn planned(plan: &config::Plan, opts: &Options) -> Vec<discovery::Planned> {
    let given: std::collections::BTreeSet<&str> = opts.resources.iter().map(|s| s.trim()).collect();
    plan.resources
        .iter()
        .map(|r| {
            let path = r.handle.collection(None);
            discovery::Planned {
                name: r.handle.name().to_owned(),
                api_version: r.handle.api_version_kind().0,
                older: r.handle.older_versions().iter().map(|v| (*v).to_owned()).collect(),
                plural: path.rsplit('/').next().unwrap_or_default().to_owned(),
                explicit: given.contains(r.handle.name()),
            }
        })
        .collect()
}

/// The server's version and the first discovery round. A server that does not answer in time (or at
/// all) leaves every group/version unknown: everything is then listed, and the lists report why they
/// fail.
async fn first_discovery(
    transport: &KubeTransport,
    tracker: &discovery::Tracker,
) -> (Option<String>, std::collections::BTreeMap<String, discovery::GroupVersion>) {
    let asks = tracker.to_ask();
    let round = async {
        let (version, answers) =
            futures::join!(discovery::fetch(transport, "/version"), discovery::probe(transport, &asks));
        (version.ok().and_then(|b| discovery::git_version(&b)), answers)
    };
    match tokio::time::timeout(FIRST_DISCOVERY_WAIT, round).await {
        Ok(r) => r,
        Err(_) => {
            let why = format!("no discovery answer within {}s", FIRST_DISCOVERY_WAIT.as_secs());
            (None, asks.into_iter().map(|gv| (gv, discovery::GroupVersion::Unknown(why.clone()))).collect())
        }
    }
}

/// Asks discovery again every `every` until every planned resource is served; sends each change with
/// the tracker's view at that time.
async fn follow_discovery<T: ingest::Transport>(
    transport: Arc<T>,
    mut tracker: discovery::Tracker,
    tx: tokio::sync::mpsc::UnboundedSender<(discovery::Change, Arc<discovery::Tracker>)>,
    every: Duration,
) {
    while !tracker.settled() {
        tokio::time::sleep(every).await;
        let answers = discovery::probe(&*transport, &tracker.to_ask()).await;
        let changes = tracker.update(&answers);
        if changes.is_empty() {
            continue;
        }
        let view = Arc::new(tracker.clone());
        for change in changes {
            if tx.send((change, view.clone())).is_err() {
                return;
            }
        }
    }
}

/// Acts on a change of discovery's view of one resource: one log line and the telemetry gauge; a resource
/// the server does not serve stops and becomes an empty, synced store (it holds readiness back no
/// longer); one it serves now starts (at once under `now`, the shard in effect with the resource's
/// specs, else with the next settled split).
#[allow(clippy::too_many_arguments)]
async fn availability_changed(
    change: discovery::Change,
    tracker: &discovery::Tracker,
    version: &str,
    served: &[Served],
    telemetry: &Telemetry,
    running: &mut Running,
    runs: &mut [bool],
    now: Option<(Shard, &Vec<ResourceSpec>)>,
) {
    let index = change.index;
    let p = &tracker.planned()[index];
    telemetry.set_served(&p.name, change.runs);
    runs[index] = change.runs;
    if change.runs {
        let chosen = tracker.api_version(index);
        if running.read_at(index, &p.api_version, chosen) {
            // At another group/version than before (or than planned): whatever ran stops and starts again.
            running.stop(index).await;
            reset(&served[index]);
            if chosen == p.api_version {
                tracing::info!(resource = %p.name, group_version = %chosen, "the API server serves this resource now; listing it");
            } else {
                tracing::info!(
                    resource = %p.name,
                    group_version = %chosen,
                    server = %version,
                    "the API server serves this resource at an older version only; reading it there"
                );
            }
        } else if served[index].store.synced() {
            // It was skipped before: the server serves it now. Unsynced until listed.
            tracing::info!(resource = %p.name, group_version = %chosen, "the API server serves this resource now; listing it");
            reset(&served[index]);
        }
        if let Some((shard, specs)) = now
            && running.sets[index].is_none()
        {
            running.start(index, specs, shard);
        }
        return;
    }
    // Listed before (discovery had not answered), not served after all: its tasks stop first, so that
    // their store writers are free to empty it.
    running.stop(index).await;
    mark_not_served(&served[index]);
    if p.explicit {
        tracing::warn!(
            resource = %p.name,
            group_version = %p.api_version,
            server = %version,
            "the API server does not serve this resource named in --resources; skipping it until it does"
        );
    } else {
        tracing::info!(
            resource = %p.name,
            group_version = %p.api_version,
            server = %version,
            "the API server does not serve this resource; skipping it until it does"
        );
    }
}

/// A collection path of group/version `from` at group/version `to`:
/// `/apis/g/v1/things` → `/apis/g/v1beta1/things`.
fn at_version(path: &str, from: &str, to: &str) -> String {
    let prefix = format!("{}/", discovery::group_version_path(from));
    match path.strip_prefix(&prefix) {
        Some(rest) => format!("{}/{rest}", discovery::group_version_path(to)),
        None => path.to_owned(),
    }
}

/// Empties a store and marks it unsynced (none of its tasks runs, so every writer is free).
fn reset(s: &Served) {
    for part in 0..s.store.part_count() {
        if let Some(mut w) = s.store.reclaim(part) {
            w.apply(textstore::StoreEvent::Reset);
        }
    }
}

/// An empty store that counts as synced: nothing to wait for, nothing to serve.
fn mark_not_served(s: &Served) {
    for part in 0..s.store.part_count() {
        if let Some(mut w) = s.store.reclaim(part) {
            w.apply(textstore::StoreEvent::BeginRelist);
            w.apply(textstore::StoreEvent::EndRelist);
        }
    }
}

/// Auto-sharding: this pod's controlling StatefulSet (apps/v1, controller=true) gives the shard (pod
/// ordinal) and the shard count (replicas). Returns the StatefulSet's name too.
async fn discover_shard(client: &kube::Client, pod: &str, namespace: &str) -> anyhow::Result<(String, Assigned)> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::Pod;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), namespace);
    let p = pods.get(pod).await.with_context(|| format!("auto-sharding: getting own pod {namespace}/{pod}"))?;
    let owner = p
        .metadata
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.api_version == "apps/v1" && o.kind == "StatefulSet" && o.controller == Some(true))
        .with_context(|| format!("auto-sharding: pod {namespace}/{pod} is not controlled by a StatefulSet"))?;
    let sets: kube::Api<StatefulSet> = kube::Api::namespaced(client.clone(), namespace);
    let sts = sets
        .get(&owner.name)
        .await
        .with_context(|| format!("auto-sharding: getting StatefulSet {namespace}/{}", owner.name))?;
    let replicas = sts.spec.as_ref().and_then(|s| s.replicas);
    let (index, total) = crate::shard::auto_shard(pod, &owner.name, replicas).with_context(|| {
        format!(
            "auto-sharding: pod name {pod} is not <statefulset>-<ordinal> of {} (replicas {replicas:?})",
            owner.name
        )
    })?;
    let generation = sts.metadata.generation;
    Ok((owner.name, Assigned { shard: Shard::new(index, total), generation }))
}

/// Watches the StatefulSet and publishes every new shard assignment (replica count changes) and every
/// new generation.
async fn follow_statefulset(
    client: kube::Client,
    pod: String,
    namespace: String,
    name: String,
    tx: signal::Sender<Assigned>,
) {
    use futures::StreamExt;
    use k8s_openapi::api::apps::v1::StatefulSet;
    let api: kube::Api<StatefulSet> = kube::Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher::watcher(api, config));
    let mut failing = false;
    while let Some(item) = stream.next().await {
        match item {
            Ok(watcher::Event::Apply(sts) | watcher::Event::InitApply(sts)) => {
                failing = false;
                let replicas = sts.spec.as_ref().and_then(|s| s.replicas);
                match crate::shard::auto_shard(&pod, &name, replicas) {
                    Some((index, total)) => {
                        tx.send_if_modified(|cur| {
                            let new = Assigned { shard: Shard::new(index, total), generation: sts.metadata.generation };
                            let changed = *cur != new;
                            *cur = new;
                            changed
                        });
                    }
                    None => tracing::error!(statefulset = %name, ?replicas, "auto-sharding: cannot derive a shard"),
                }
            }
            Ok(_) => {}
            Err(e) => {
                if !failing {
                    tracing::warn!(statefulset = %name, error = %e, "auto-sharding: watching the StatefulSet failed; retrying");
                }
                failing = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// `--kubeconfig` if given; else the in-cluster config; else `$KUBECONFIG` / `~/.kube/config`; else, with
/// `--apiserver`, that URL alone. `--apiserver` always overrides the server URL.
async fn kube_config(opts: &Options) -> anyhow::Result<kube::Config> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let apiserver: Option<http::Uri> = if opts.apiserver.is_empty() {
        None
    } else {
        Some(opts.apiserver.parse().with_context(|| format!("--apiserver {:?} is not a URL", opts.apiserver))?)
    };
    let mut config = if !opts.kubeconfig.is_empty() {
        // kube's read error already quotes the path and repeats its cause; say each once.
        let kc = Kubeconfig::read_from(&opts.kubeconfig).map_err(|e| {
            anyhow::anyhow!("reading kubeconfig {}: {}", opts.kubeconfig, anyhow::Error::from(e).root_cause())
        })?;
        kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .with_context(|| format!("loading kubeconfig {}", opts.kubeconfig))?
    } else {
        match kube::Config::incluster() {
            Ok(c) => c,
            Err(in_cluster) => match kube::Config::from_kubeconfig(&KubeConfigOptions::default()).await {
                Ok(c) => c,
                Err(_) if apiserver.is_some() => kube::Config::new(apiserver.clone().unwrap_or_default()),
                Err(kc) => anyhow::bail!(
                    "no API server configuration: not in a cluster ({in_cluster}) and no usable kubeconfig ({kc}); \
                     pass --kubeconfig or --apiserver"
                ),
            },
        }
    };
    if let Some(url) = apiserver {
        config.cluster_url = url;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;
    use futures::StreamExt as _;
    use futures::future::BoxFuture;

    use super::*;
    use crate::ingest::driver::Response;
    use crate::ingest::wire::{Failure, Status};

    /// Answers discovery of `admissionregistration.k8s.io/v1` from a script, one answer per request.
    struct Scripted(Mutex<Vec<Option<&'static str>>>);

    impl ingest::Transport for Scripted {
        fn get(&self, _uri: String, _accept: &'static str) -> BoxFuture<'static, Result<Response, Failure>> {
            let next = {
                let mut g = self.0.lock().unwrap();
                if g.len() > 1 { g.remove(0) } else { g[0] }
            };
            Box::pin(async move {
                match next {
                    Some(doc) => Ok(Response {
                        protobuf: false,
                        body: futures::stream::once(async move { Ok(Bytes::from_static(doc.as_bytes())) }).boxed(),
                    }),
                    None => Err(Failure::Status(Status { code: 404, ..Status::default() })),
                }
            })
        }
    }

    const OLD: &str = r#"{"resources":[{"name":"validatingwebhookconfigurations"}]}"#;
    const NEW: &str =
        r#"{"resources":[{"name":"validatingwebhookconfigurations"},{"name":"validatingadmissionpolicies"}]}"#;

    #[test]
    fn collection_paths_move_to_another_group_version() {
        let (v1, beta) = ("admissionregistration.k8s.io/v1", "admissionregistration.k8s.io/v1beta1");
        let path = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies";
        assert_eq!(
            at_version(path, v1, beta),
            "/apis/admissionregistration.k8s.io/v1beta1/validatingadmissionpolicies"
        );
        assert_eq!(at_version(&at_version(path, v1, beta), beta, v1), path);
        // Only the group/version it names moves.
        assert_eq!(at_version("/api/v1/pods", v1, beta), "/api/v1/pods");
        let mut r = Running::new(1);
        assert!(r.read_at(0, v1, beta) && !r.read_at(0, v1, beta), "a change once");
        assert!(r.read_at(0, v1, v1), "and back");
    }

    #[tokio::test(start_paused = true)]
    async fn discovery_is_asked_again_until_the_server_serves_what_was_skipped() {
        let gv = "admissionregistration.k8s.io/v1";
        let planned = |name: &str| discovery::Planned {
            name: name.into(),
            api_version: gv.into(),
            older: Vec::new(),
            plural: name.into(),
            explicit: false,
        };
        let mut tracker = discovery::Tracker::new(vec![
            planned("validatingwebhookconfigurations"),
            planned("validatingadmissionpolicies"),
        ]);
        let mut first = std::collections::BTreeMap::new();
        first.insert(gv.to_owned(), discovery::answer_of(Ok(OLD.as_bytes().to_vec())));
        let initial = tracker.update(&first);
        assert_eq!(initial, [discovery::Change { index: 0, runs: true }, discovery::Change { index: 1, runs: false }]);
        // Two more rounds of the old answer (one of them a failure), then the upgrade.
        let transport = Arc::new(Scripted(Mutex::new(vec![Some(OLD), None, Some(NEW)])));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(follow_discovery(transport, tracker, tx, Duration::from_secs(30)));
        let started = tokio::time::Instant::now();
        let (change, view) = rx.recv().await.expect("a change");
        assert_eq!(change, discovery::Change { index: 1, runs: true });
        assert_eq!(view.availability(1), Some(discovery::Availability::Served));
        // Found in the third round, 90 s in.
        assert_eq!(started.elapsed(), Duration::from_secs(90));
        // Everything is served: the follower ends and closes the channel.
        assert!(rx.recv().await.is_none());
        task.await.unwrap();
    }
}
