//! What the pipelines say: one log line per change of state (never one per retry) and the telemetry
//! counts of requests, lists and history regressions.
//!
//! Unreachability is the API server's, not a resource's: when every watch fails to connect at once,
//! one line says the server at its URL is unreachable and why, and one says when it answers again.
//! Other failures (forbidden, not served, errors) are a resource's own and are logged once per resource
//! per change.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::machine::{Listed, Note};
use super::wire::{FailureClass, Scope};
use crate::telemetry::{Call, Telemetry};

/// How long after one "history went back" line the same news from other resources is kept to debug.
const HISTORY_QUIET: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    /// The API server is known to be unreachable (logged once).
    unreachable: bool,
    /// Resources failing because the server is unreachable.
    unreachable_resources: std::collections::BTreeSet<Arc<str>>,
    streaming_refused: bool,
    history_logged: Option<Instant>,
    shard_selector_ignored: bool,
}

/// Shared by every pipeline of one instance.
pub struct Reporter {
    telemetry: Arc<Telemetry>,
    /// The API server's URL, for log lines.
    server: String,
    state: Mutex<State>,
}

impl Reporter {
    pub fn new(telemetry: Arc<Telemetry>, server: impl Into<String>) -> Self {
        Reporter { telemetry, server: server.into(), state: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request of `kind` (`streaming_list`, `list`, `watch`) for the resource with telemetry label
    /// `type_label` was made; upstream counts streaming lists among watches.
    pub fn request(&self, type_label: &str, kind: &str, ok: bool) {
        let call = if kind == "list" { Call::List } else { Call::Watch };
        self.telemetry.record_call(call, type_label, ok);
    }

    pub fn note(&self, resource: &Arc<str>, scope: &Scope, note: Note) {
        let path = scope.path.as_str();
        match note {
            Note::Listed { objects, how } => {
                self.telemetry.record_listed(resource, how);
                tracing::info!(resource = %resource, objects, from = listed_word(how), "list complete");
            }
            Note::StreamingRefused(status) => {
                self.telemetry.record_streaming_refused(resource);
                let mut g = self.lock();
                if !std::mem::replace(&mut g.streaming_refused, true) {
                    tracing::info!(
                        server = %self.server,
                        answer = %status,
                        "the API server does not serve streaming lists; listing from its watch cache instead \
                         (as client-go does), and trying again in an hour"
                    );
                }
            }
            Note::HistoryWentBack { seen, now } => {
                self.telemetry.record_history_went_back(resource);
                let mut g = self.lock();
                let quiet = g.history_logged.is_some_and(|t| t.elapsed() < HISTORY_QUIET);
                if quiet {
                    tracing::debug!(resource = %resource, seen, now, "resourceVersion went back; relisting");
                } else {
                    g.history_logged = Some(Instant::now());
                    tracing::warn!(
                        server = %self.server,
                        resource = %resource,
                        seen,
                        now,
                        "the API server's resourceVersions went back (an etcd restore, or another cluster at this \
                         address); listing everything again"
                    );
                }
            }
            Note::Relisting(why) => tracing::debug!(resource = %resource, path, why, "relisting"),
            Note::Failing(failure) => {
                if failure.class() == FailureClass::Unreachable {
                    let mut g = self.lock();
                    g.unreachable_resources.insert(resource.clone());
                    if !std::mem::replace(&mut g.unreachable, true) {
                        tracing::error!(
                            server = %self.server,
                            error = %failure,
                            "cannot reach the API server; serving the last state listed and retrying with backoff"
                        );
                    } else {
                        tracing::debug!(resource = %resource, error = %failure, "list/watch cannot reach the API server");
                    }
                    return;
                }
                self.left_unreachable(resource);
                match failure.class() {
                    FailureClass::Forbidden | FailureClass::Unauthorized => tracing::error!(
                        resource = %resource,
                        path,
                        error = %failure,
                        "the API server forbids listing/watching this resource (check the RBAC rules of this \
                         service account); its metrics are missing until access is granted, retrying with backoff"
                    ),
                    FailureClass::NotFound => tracing::warn!(
                        resource = %resource,
                        path,
                        error = %failure,
                        "the API server does not serve this resource; retrying with backoff"
                    ),
                    _ => tracing::warn!(
                        resource = %resource,
                        path,
                        error = %failure,
                        "list/watch failed; retrying with backoff"
                    ),
                }
            }
            Note::Recovered => {
                if !self.left_unreachable(resource) {
                    tracing::info!(resource = %resource, "list/watch works again");
                }
            }
        }
    }

    /// A list asked with a shard selector came back whole (no `shardInfo`): the API server that answered
    /// does not shard (a server of a mixed control plane, or one restarted without the feature gate).
    /// Said once per process: the shard keeps only its own objects either way, at the cost of receiving
    /// all of them.
    pub fn shard_selector_ignored(&self, resource: &Arc<str>, scope: &Scope) {
        self.telemetry.record_shard_selector_ignored(resource);
        if !std::mem::replace(&mut self.lock().shard_selector_ignored, true) {
            tracing::warn!(
                server = %self.server,
                resource = %resource,
                path = %scope.path,
                "the API server answered a sharded list without shardInfo (it ignored the shard selector); \
                 this shard drops other shards' objects itself until the server filters again"
            );
        }
    }

    /// `resource` no longer fails for want of a connection; logs the server's recovery with the first
    /// such resource. Returns whether it was failing that way.
    fn left_unreachable(&self, resource: &Arc<str>) -> bool {
        let mut g = self.lock();
        let was = g.unreachable_resources.remove(resource);
        if was && g.unreachable {
            g.unreachable = false;
            tracing::info!(server = %self.server, "the API server answers again");
        }
        was
    }
}

fn listed_word(how: Listed) -> &'static str {
    match how {
        Listed::Streamed => "streaming list",
        Listed::Cached => "watch cache",
        Listed::Consistent => "consistent read",
        Listed::NotOlderThan => "list at the last resourceVersion",
    }
}
