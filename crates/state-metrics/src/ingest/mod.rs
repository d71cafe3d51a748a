//! Ingestion: one list/watch pipeline for every collection, built-in or custom.
//!
//! ```text
//! Transport (GET, bodies as they arrive) ─▶ driver ─▶ Watcher (pure state machine) ─▶ Sink (text store part)
//!                                             └─▶ Render (bytes ─▶ key, resourceVersion, rendered text)
//! ```
//! [`machine`] decides what to ask and what each answer means (streaming list first, the watch cache as
//! fallback, client-go's handling of expired and too-new resourceVersions, and noticing history going
//! backwards); [`driver`] does the IO; [`render`] is the only part that differs between built-in and
//! custom resources; [`report`] turns what happens into log lines and telemetry.

pub mod batch;
pub mod driver;
pub mod json;
pub mod machine;
pub mod pb;
pub mod render;
pub mod report;
pub mod wire;

use std::sync::Arc;

use kube::runtime::watcher::DefaultBackoff;

pub use self::driver::{KubeTransport, Pipeline, Received, Sink, Transport};
pub use self::machine::Config;
use self::machine::Watcher;
pub use self::render::{Render, Typed};
pub use self::report::Reporter;
pub use self::wire::Scope;
use crate::family::Ctx;
use crate::resources::Resource;
use crate::shard::Shard;
use crate::textstore::Reader;

/// Everything one list/watch of a built-in resource needs (one resource, or one namespace of it).
#[derive(Clone)]
pub struct WatchSpec {
    pub transport: Arc<KubeTransport>,
    pub reporter: Arc<Reporter>,
    pub config: Config,
    /// The collection: path and field selector.
    pub scope: Scope,
    /// Indexes into the resource's family table, in exposition order.
    pub enabled: Arc<[usize]>,
    pub ctx: Arc<Ctx>,
    /// The store this feeds, and which part of it.
    pub store: Reader,
    pub part: usize,
    pub shard: Shard,
    pub received: Arc<Received>,
}

/// The path of the collection of `K`, in `namespace` or across all.
pub fn collection_path<K: kube::Resource<DynamicType = ()>>(namespace: Option<&str>) -> String {
    K::url_path(&(), namespace)
}

/// Runs the list/watch of built-in resource `R` described by `spec` until the future is dropped.
pub async fn run<R: Resource>(spec: WatchSpec) {
    let render = Typed::<R>::new(spec.enabled.clone(), spec.ctx.clone(), spec.shard);
    run_with(spec, render, R::NAME, type_label::<R::Api>()).await
}

async fn run_with<T: Render>(spec: WatchSpec, render: T, name: &'static str, type_label: String) {
    let Some(writer) = spec.store.reclaim(spec.part) else {
        tracing::error!(
            resource = name,
            part = spec.part,
            "a list/watch of this part is still running; not starting another"
        );
        return;
    };
    let idle_check = spec.config.idle_check;
    let scope = Scope { shard_selector: spec.shard.selector().unwrap_or_default(), ..spec.scope };
    let pipeline = Pipeline {
        scope,
        transport: spec.transport,
        render: Arc::new(render),
        sink: writer,
        watcher: Watcher::new(spec.config, Box::new(DefaultBackoff::default())),
        reporter: spec.reporter,
        resource: Arc::from(name),
        type_label: Arc::from(type_label),
        received: spec.received,
        idle_check,
    };
    pipeline.run().await;
}

/// Upstream's `resource` telemetry label: the Go type string, e.g. `*v1.Pod`.
pub fn type_label<K: kube::Resource<DynamicType = ()>>() -> String {
    format!("*{}.{}", K::version(&()), K::kind(&()))
}
