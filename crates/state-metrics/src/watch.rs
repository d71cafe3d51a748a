//! One kube-runtime watcher per enabled resource, feeding its [`Store`].
//!
//! The watcher does the paginated initial list, bookmarks, resumption and the relist after a 410; its
//! events map one to one onto the store: `Init` starts a new set, `InitApply` adds to it, `InitDone`
//! swaps it in, `Apply`/`Delete` change one object. Objects are rendered here and then dropped.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Api;
use kube::runtime::watcher::{self, Event};

use crate::family::{Ctx, render};
use crate::lenient::Lenient;
use crate::resources::Resource;
use crate::store::{ObjectKey, Part, Store};

/// Which objects of the whole a shard keeps (`--shard`/`--total-shards`, or auto-sharding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, total: 1 }
    }
}

impl Shard {
    /// Whether this shard owns the object with `uid`.
    pub fn owns(self, uid: &str) -> bool {
        crate::shard::owns(uid, self.index, self.total)
    }
}

/// Everything one list/watch needs (one resource, or one namespace of it).
#[derive(Clone)]
pub struct WatchSpec {
    pub client: kube::Client,
    /// Carries the field selector (namespace denylist, node) for namespaced resources.
    pub config: watcher::Config,
    /// `Some` restricts the list/watch to one namespace (`--namespaces`).
    pub namespace: Option<String>,
    /// Indexes into the resource's family table, in exposition order.
    pub enabled: Arc<[usize]>,
    pub ctx: Arc<Ctx>,
    pub store: Arc<Store>,
    /// Which part of `store` this watch feeds.
    pub part: usize,
    pub shard: Shard,
}

/// Runs the watch of resource `R` until the future is dropped.
pub async fn run<R: Resource>(spec: WatchSpec) {
    let api: Api<AnyScope<Lenient<R::Obj>>> = match &spec.namespace {
        Some(ns) => Api::namespaced_with(spec.client.clone(), ns, &()),
        None => Api::all(spec.client.clone()),
    };
    let part = spec.store.part(spec.part);
    let scope = spec.namespace.as_deref().unwrap_or("");
    let stream = watcher::watcher(api, spec.config.clone());
    let mut stream = std::pin::pin!(stream);
    let mut backoff = Backoff::default();
    // The kind of failure already reported: a watch that keeps failing the same way (say, forbidden by
    // RBAC) logs once, not once per retry.
    let mut failing: Option<Failure> = None;
    while let Some(item) = stream.next().await {
        match item.map(AnyScope::unwrap_event) {
            Ok(event) => {
                if !matches!(event, Event::Init) {
                    backoff.reset();
                    if failing.take().is_some() {
                        tracing::info!(resource = R::NAME, namespace = scope, "list/watch works again");
                        part.set_error(None);
                    }
                }
                apply_event::<R>(event, part, &spec.enabled, &spec.ctx, spec.shard)
            }
            // An expired resourceVersion is routine: relist at once, as client-go's reflector does.
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                tracing::info!(resource = R::NAME, "resource version expired; relisting")
            }
            Err(e) => {
                let delay = backoff.next_delay();
                let kind = Failure::of(&e);
                let repeated = failing == Some(kind);
                failing = Some(kind);
                match kind {
                    Failure::Forbidden => {
                        part.set_error(Some("forbidden".into()));
                        if !repeated {
                            tracing::error!(
                                resource = R::NAME,
                                namespace = scope,
                                error = %e,
                                "the API server forbids listing/watching this resource (check the RBAC rules of \
                                 this service account); its metrics are missing until access is granted, \
                                 retrying with backoff"
                            );
                        }
                    }
                    Failure::Other => {
                        part.set_error(Some(e.to_string()));
                        if !repeated {
                            tracing::warn!(resource = R::NAME, namespace = scope, error = %e, retry_in = ?delay, "list/watch failed; retrying with backoff");
                        }
                    }
                }
                if repeated {
                    tracing::debug!(resource = R::NAME, namespace = scope, error = %e, retry_in = ?delay, "list/watch still failing");
                }
                // Not polling the watcher is what delays its next attempt.
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// `K` with its scope erased, so that one generic code path can build both cluster-wide and
/// per-namespace `Api`s (kube only offers `namespaced_with` for dynamically scoped types). Only ever
/// constrained to a namespace for resources whose handle says they are namespaced.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(transparent)]
struct AnyScope<K>(K);

impl<K> AnyScope<K> {
    fn unwrap_event(e: Event<AnyScope<K>>) -> Event<K> {
        match e {
            Event::Init => Event::Init,
            Event::InitApply(o) => Event::InitApply(o.0),
            Event::InitDone => Event::InitDone,
            Event::Apply(o) => Event::Apply(o.0),
            Event::Delete(o) => Event::Delete(o.0),
        }
    }
}

impl<K: kube::Resource<DynamicType = ()>> kube::Resource for AnyScope<K> {
    type DynamicType = ();
    type Scope = kube::core::DynamicResourceScope;

    fn kind(dt: &()) -> std::borrow::Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &()) -> std::borrow::Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &()) -> std::borrow::Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &()) -> std::borrow::Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &()) -> std::borrow::Cow<'_, str> {
        K::plural(dt)
    }
    fn url_path(dt: &(), namespace: Option<&str>) -> String {
        K::url_path(dt, namespace)
    }
    fn meta(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        self.0.meta()
    }
    fn meta_mut(&mut self) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        self.0.meta_mut()
    }
}

/// The classes of list/watch failure that are reported once each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Forbidden,
    Other,
}

impl Failure {
    fn of(e: &watcher::Error) -> Self {
        let status = match e {
            watcher::Error::InitialListFailed(c)
            | watcher::Error::WatchStartFailed(c)
            | watcher::Error::WatchFailed(c) => match c {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            watcher::Error::WatchError(s) => Some(s.code),
            watcher::Error::NoResourceVersion => None,
        };
        if status == Some(403) { Failure::Forbidden } else { Failure::Other }
    }
}

/// Exponential backoff between failed list/watch attempts: 0.8 s doubling to 30 s, ±25 % jitter so
/// many resources failing together (API server restart) do not retry in lockstep.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const INITIAL: Duration = Duration::from_millis(800);
    const MAX: Duration = Duration::from_secs(30);

    fn reset(&mut self) {
        self.failures = 0;
    }

    fn next_delay(&mut self) -> Duration {
        let base = Self::INITIAL.saturating_mul(1u32 << self.failures.min(6)).min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let jitter = 0.75 + f64::from(nanos % 1000) / 2000.0;
        base.mul_f64(jitter)
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
    ObjectKey::new(
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
        meta.uid.as_deref().unwrap_or(""),
    )
}

/// Applies one watcher event to the store part. Objects another shard owns are dropped here, on the
/// list and on the watch path alike. Pure apart from the store and logging; unit tested below.
pub fn apply_event<R: Resource>(
    event: Event<Lenient<R::Obj>>,
    store: &Part,
    enabled: &[usize],
    ctx: &Ctx,
    shard: Shard,
) {
    let mine = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        shard.owns(meta.uid.as_deref().unwrap_or(""))
    };
    match event {
        Event::Init => store.begin_relist(),
        Event::InitApply(obj) => match obj {
            Lenient::Ok(o) => {
                let meta = k8s_openapi::Metadata::metadata(&o);
                if !mine(meta) {
                    return;
                }
                if let Some(r) = render_guarded::<R>(&o, enabled, ctx) {
                    store.relist_insert(key_of(meta), r);
                }
            }
            // Not inserted into the new set: after the swap no old series of it remain.
            Lenient::Malformed(m) if mine(&m.meta) => log_malformed(R::NAME, &m.meta, &m.error),
            Lenient::Malformed(_) => {}
        },
        Event::InitDone => {
            let n = store.finish_relist();
            tracing::info!(resource = R::NAME, objects = n, "list complete");
            // The pages and the decoded objects of the list are free now.
            crate::trim::after_burst();
        }
        Event::Apply(obj) => match obj {
            // A uid never changes, so an object of another shard was never stored either.
            Lenient::Ok(o) if !mine(k8s_openapi::Metadata::metadata(&o)) => {}
            Lenient::Malformed(m) if !mine(&m.meta) => {}
            Lenient::Ok(o) => {
                let key = key_of(k8s_openapi::Metadata::metadata(&o));
                match render_guarded::<R>(&o, enabled, ctx) {
                    Some(r) => store.upsert(key, r),
                    None => store.remove(&key),
                }
            }
            Lenient::Malformed(m) => {
                log_malformed(R::NAME, &m.meta, &m.error);
                // Its earlier rendering describes a state the object has left; a relist would drop it
                // too, so the incremental path does the same.
                store.remove(&key_of(&m.meta));
            }
        },
        Event::Delete(obj) => {
            let meta = match &obj {
                Lenient::Ok(o) => k8s_openapi::Metadata::metadata(o),
                Lenient::Malformed(m) => &m.meta,
            };
            store.remove(&key_of(meta));
        }
    }
}

/// Renders one object. A generator that panics on some unexpected shape must not end the resource's
/// watch task (that would freeze all its series): the object is logged and treated as unrenderable.
fn render_guarded<R: Resource>(o: &R::Obj, enabled: &[usize], ctx: &Ctx) -> Option<crate::family::Rendered> {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        render(o, &R::identity(o), R::families(), enabled, ctx)
    }));
    if r.is_err() {
        let meta = k8s_openapi::Metadata::metadata(o);
        log_malformed(R::NAME, meta, "a metric generator panicked on this object");
    }
    r.ok()
}

fn log_malformed(resource: &str, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, error: &str) {
    tracing::warn!(
        resource,
        namespace = meta.namespace.as_deref().unwrap_or(""),
        name = meta.name.as_deref().unwrap_or(""),
        error,
        "skipping object that does not decode"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Family, MetricType, Samples, Stability};
    use k8s_openapi::api::core::v1::ConfigMap;

    struct Cms;
    fn count(c: &ConfigMap, _: &Ctx, s: &mut Samples<'_>) {
        s.push(&[], c.data.as_ref().map_or(0, |d| d.len()) as f64);
    }
    static FAMS: &[Family<ConfigMap>] = &[Family {
        name: "t_keys",
        help: "h",
        kind: MetricType::Gauge,
        stability: Stability::Alpha,
        deprecated_since: None,
        opt_in: false,
        generate: count,
    }];
    impl Resource for Cms {
        type Obj = ConfigMap;
        const NAME: &'static str = "configmaps";
        fn identity(c: &ConfigMap) -> Vec<(&'static str, String)> {
            vec![("configmap", c.metadata.name.clone().unwrap_or_default())]
        }
        fn families() -> &'static [Family<ConfigMap>] {
            FAMS
        }
    }

    struct Panicky;
    fn explode(c: &ConfigMap, _: &Ctx, s: &mut Samples<'_>) {
        assert!(c.metadata.name.as_deref() != Some("boom"), "generator bug");
        s.push(&[], 1.0);
    }
    static PANICKY: &[Family<ConfigMap>] = &[Family {
        name: "t_ok",
        help: "h",
        kind: MetricType::Gauge,
        stability: Stability::Alpha,
        deprecated_since: None,
        opt_in: false,
        generate: explode,
    }];
    impl Resource for Panicky {
        type Obj = ConfigMap;
        const NAME: &'static str = "configmaps";
        fn identity(c: &ConfigMap) -> Vec<(&'static str, String)> {
            vec![("configmap", c.metadata.name.clone().unwrap_or_default())]
        }
        fn families() -> &'static [Family<ConfigMap>] {
            PANICKY
        }
    }

    #[test]
    fn panicking_generator_skips_the_object_only() {
        let st = Store::new();
        let feed = |ev| apply_event::<Panicky>(ev, st.part(0), &[0], &Ctx::default(), Shard::default());
        feed(Event::Init);
        feed(Event::InitApply(obj("a", "1", 0)));
        feed(Event::InitApply(obj("boom", "2", 0)));
        feed(Event::InitDone);
        assert_eq!(body(&st), "t_ok{configmap=\"a\"} 1\n");
        feed(Event::Apply(obj("c", "3", 0)));
        assert_eq!(body(&st), "t_ok{configmap=\"a\"} 1\nt_ok{configmap=\"c\"} 1\n");
    }

    fn obj(name: &str, uid: &str, keys: usize) -> Lenient<ConfigMap> {
        let data: serde_json::Map<String, serde_json::Value> =
            (0..keys).map(|i| (format!("k{i}"), serde_json::Value::String("v".into()))).collect();
        let v = serde_json::json!({"metadata": {"name": name, "uid": uid, "resourceVersion": "1"}, "data": data});
        serde_json::from_value(v).unwrap()
    }

    fn bad(name: &str, uid: &str) -> Lenient<ConfigMap> {
        let v = serde_json::json!({"metadata": {"name": name, "uid": uid, "resourceVersion": "2"}, "data": 7});
        serde_json::from_value(v).unwrap()
    }

    fn body(st: &Store) -> String {
        let s = st.snapshot();
        (0..s.len()).map(|i| String::from_utf8_lossy(&s.family(i, 0)).into_owned()).collect()
    }

    fn feed(st: &Store, ev: Event<Lenient<ConfigMap>>) {
        apply_event::<Cms>(ev, st.part(0), &[0], &Ctx::default(), Shard::default());
    }

    #[test]
    fn shards_keep_only_their_objects_on_list_and_watch() {
        let uids: Vec<String> = (0..40).map(|i| format!("uid-{i}")).collect();
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..3 {
            let shard = Shard { index, total: 3 };
            let st = Store::new();
            let feed = |ev| apply_event::<Cms>(ev, st.part(0), &[0], &Ctx::default(), shard);
            feed(Event::Init);
            for u in &uids[..20] {
                feed(Event::InitApply(obj(u, u, 0)));
            }
            feed(Event::InitDone);
            for u in &uids[20..] {
                feed(Event::Apply(obj(u, u, 0)));
            }
            let text = body(&st);
            let want: Vec<&String> = uids.iter().filter(|u| crate::shard::owns(u, index, 3)).collect();
            assert_eq!(st.len(), want.len(), "{text}");
            assert!(!want.is_empty() && want.len() < uids.len());
            for u in want {
                assert!(text.contains(&format!("configmap=\"{u}\"")), "{text}");
                assert!(seen.insert(u.clone()), "{u} in two shards");
            }
        }
        assert_eq!(seen.len(), uids.len());
    }

    #[test]
    fn forbidden_is_classified_apart() {
        let status =
            |code| Box::new(kube::core::Status { code, message: "m".into(), reason: "r".into(), ..Default::default() });
        assert_eq!(Failure::of(&watcher::Error::InitialListFailed(kube::Error::Api(status(403)))), Failure::Forbidden);
        assert_eq!(Failure::of(&watcher::Error::WatchError(status(403))), Failure::Forbidden);
        assert_eq!(Failure::of(&watcher::Error::InitialListFailed(kube::Error::Api(status(500)))), Failure::Other);
        assert_eq!(Failure::of(&watcher::Error::NoResourceVersion), Failure::Other);
    }

    #[test]
    fn backoff_grows_caps_and_resets() {
        let mut b = Backoff::default();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(600) && first <= Duration::from_millis(1000), "{first:?}");
        let second = b.next_delay();
        assert!(second >= Duration::from_millis(1200), "{second:?}");
        for _ in 0..20 {
            assert!(b.next_delay() <= Duration::from_millis(37_500));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(1000));
    }

    #[test]
    fn events_drive_the_store() {
        let st = Store::new();
        feed(&st, Event::Init);
        feed(&st, Event::InitApply(obj("a", "1", 1)));
        feed(&st, Event::InitApply(obj("b", "2", 2)));
        assert_eq!(body(&st), "");
        feed(&st, Event::InitDone);
        assert!(st.synced());
        assert_eq!(body(&st), "t_keys{configmap=\"a\"} 1\nt_keys{configmap=\"b\"} 2\n");
        feed(&st, Event::Apply(obj("a", "1", 3)));
        feed(&st, Event::Delete(obj("b", "2", 2)));
        assert_eq!(body(&st), "t_keys{configmap=\"a\"} 3\n");
        // Reconnect after objects vanished: the relist result replaces everything.
        feed(&st, Event::Init);
        feed(&st, Event::InitApply(obj("c", "3", 0)));
        feed(&st, Event::InitDone);
        assert_eq!(body(&st), "t_keys{configmap=\"c\"} 0\n");
    }

    #[test]
    fn malformed_objects_are_skipped_not_fatal() {
        let st = Store::new();
        feed(&st, Event::Init);
        feed(&st, Event::InitApply(obj("a", "1", 1)));
        feed(&st, Event::InitApply(bad("b", "2")));
        feed(&st, Event::InitApply(obj("c", "3", 1)));
        feed(&st, Event::InitDone);
        assert_eq!(body(&st), "t_keys{configmap=\"a\"} 1\nt_keys{configmap=\"c\"} 1\n");
        // A good object turning bad loses its old series; turning good again brings it back.
        feed(&st, Event::Apply(bad("a", "1")));
        assert_eq!(body(&st), "t_keys{configmap=\"c\"} 1\n");
        feed(&st, Event::Apply(obj("a", "1", 2)));
        assert_eq!(body(&st), "t_keys{configmap=\"a\"} 2\nt_keys{configmap=\"c\"} 1\n");
        feed(&st, Event::Delete(bad("a", "1")));
        assert_eq!(body(&st), "t_keys{configmap=\"c\"} 1\n");
    }
}
