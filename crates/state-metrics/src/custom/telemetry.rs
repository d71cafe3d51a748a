//! The custom resource machinery's own series on the telemetry port: the configuration file's reloads and
//! the CustomResourceDefinitions seen.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use super::md5;

/// The `type` label of the reload gauges for this config.
const RELOAD_TYPE: &str = "customresourceconfig";

/// Self-metrics of the custom resource machinery, rendered into the telemetry `/metrics`.
#[derive(Default)]
pub struct CustomTelemetry {
    pub(super) add: AtomicU64,
    pub(super) update: AtomicU64,
    pub(super) delete: AtomicU64,
    pub(super) cache: AtomicU64,
    reload: Mutex<Option<ReloadState>>,
}

#[derive(Clone, Debug, PartialEq)]
struct ReloadState {
    filename: String,
    successful: bool,
    success_timestamp: f64,
    hash: f64,
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl CustomTelemetry {
    fn reload_lock(&self) -> MutexGuard<'_, Option<ReloadState>> {
        self.reload.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reload_succeeded(&self, path: &Path, bytes: &[u8]) {
        *self.reload_lock() = Some(ReloadState {
            filename: path.display().to_string(),
            successful: true,
            success_timestamp: now_secs(),
            hash: md5::config_hash(bytes),
        });
    }

    /// A rejected file: the gauge drops to 0, the hash and timestamp keep describing what is served.
    pub fn reload_failed(&self, path: &Path) {
        let mut g = self.reload_lock();
        let filename = path.display().to_string();
        match g.as_mut() {
            Some(s) => {
                s.successful = false;
                s.filename = filename;
            }
            None => *g = Some(ReloadState { filename, successful: false, success_timestamp: 0.0, hash: 0.0 }),
        }
    }

    /// The text exposition of these families (appended to the telemetry registry's output).
    pub fn render(&self, out: &mut Vec<u8>) {
        let reload = self.reload_lock().clone();
        if let Some(r) = reload {
            let labels = [("filename", r.filename.as_str()), ("type", RELOAD_TYPE)];
            let fams = [
                ("kube_state_metrics_config_hash", "Hash of the loaded configuration file.", r.hash),
                (
                    "kube_state_metrics_last_config_reload_successful",
                    "1 if the last attempt to load the configuration file succeeded, else 0.",
                    if r.successful { 1.0 } else { 0.0 },
                ),
                (
                    "kube_state_metrics_last_config_reload_success_timestamp_seconds",
                    "Unix time of the last successful load of the configuration file.",
                    r.success_timestamp,
                ),
            ];
            for (name, help, v) in fams {
                exposition::write_header(out, name, help, "gauge");
                exposition::write_sample(out, name, &labels, v);
            }
        }
        for (name, help, kind, v) in [
            (
                "kube_state_metrics_custom_resource_state_add_events_total",
                "CustomResourceDefinitions seen appearing.",
                "counter",
                &self.add,
            ),
            (
                "kube_state_metrics_custom_resource_state_update_events_total",
                "CustomResourceDefinitions seen changing.",
                "counter",
                &self.update,
            ),
            (
                "kube_state_metrics_custom_resource_state_delete_events_total",
                "CustomResourceDefinitions seen disappearing.",
                "counter",
                &self.delete,
            ),
            (
                "kube_state_metrics_custom_resource_state_cache",
                "CustomResourceDefinitions currently known.",
                "gauge",
                &self.cache,
            ),
        ] {
            exposition::write_header(out, name, help, kind);
            exposition::write_sample(out, name, &[], v.load(Ordering::Relaxed) as f64);
        }
    }
}
