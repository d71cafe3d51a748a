//! Conversion errors are logged at the level chosen by `errorLogV` (metric level overrides resource).

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use state_metrics::custom::load_and_compile;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `{"v": "oops"}` through a gauge and returns what an INFO-level subscriber printed.
fn logs_at_info(resource_v: i32, metric_v: i32) -> String {
    let cfg = json!({"spec": {"resources": [{
        "groupVersionKind": {"group": "ex.dev", "version": "v1", "kind": "W"},
        "errorLogV": resource_v,
        "metrics": [{"name": "m", "errorLogV": metric_v, "each": {"type": "Gauge", "gauge": {"path": ["v"]}}}]
    }]}});
    let res = load_and_compile(&cfg.to_string()).unwrap();
    let buf = Buf::default();
    let writer = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(sub, || {
        res[0].render(&json!({"metadata": {"name": "w1", "namespace": "ns"}, "v": "oops"}))
    });
    assert!(out.buf.is_empty());
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn default_level_is_visible() {
    let log = logs_at_info(0, 0);
    assert!(log.contains("WARN"), "{log}");
    assert!(
        log.contains("custom resource metric skipped: [v]: strconv.ParseFloat: parsing \"oops\": invalid syntax"),
        "{log}"
    );
    assert!(log.contains("family=\"kube_customresource_m\""), "{log}");
    assert!(log.contains("name=\"w1\""), "{log}");
}

#[test]
fn higher_verbosity_hides_the_error_at_info() {
    assert_eq!(logs_at_info(3, 0), "");
    assert_eq!(logs_at_info(0, 6), "");
    // The metric's own non-zero level wins over the resource's.
    assert!(logs_at_info(6, 1).contains("WARN"));
}
