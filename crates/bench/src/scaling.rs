//! `kubestate-bench --scaling a.json b.json …`: how each kube-state-metrics figure grows with the cluster.
//!
//! Reads reports written by earlier runs, groups them by pod count, takes each figure's median over the
//! runs of a size (one VM run is noisy; three are a fair sample) and compares consecutive sizes: a figure
//! growing as `pods^k` has exponent `k`, so 1.0 is linear, below 1 sub-linear. Figures that should not
//! grow at all (event-to-metric latency, RSS growth under churn) are compared the same way.

use std::fmt::Write as _;

use serde_json::Value;

/// How much faster than linear a figure may grow before it is called so: VM noise between runs of the
/// same build is ±30 %, which at a 10x size step moves the exponent by about ±0.1.
pub const TOLERANCE: f64 = 0.1;

/// (label, JSON path under `ksm`, or a derived figure).
const FIGURES: &[(&str, &str)] = &[
    ("/metrics body (bytes)", "metrics_bytes"),
    ("/metrics lines", "metrics_lines"),
    ("steady RSS (KiB)", "steady_rss_kib"),
    ("peak RSS (KiB)", "peak_rss_kib"),
    ("ready, start -> /readyz (s)", "ready_seconds"),
    ("ready after kube-sim's lists (s)", "=ready_after_lists"),
    ("CPU per plain scrape (s)", "scrapes.cpu_seconds_per_plain_scrape"),
    ("CPU per gzip scrape (s)", "scrapes.cpu_seconds_per_gzip_scrape"),
    ("plain scrape p50, 1 scraper (s)", "scrapes.plain_1.p50"),
    ("gzip scrape p50, 1 scraper (s)", "scrapes.gzip_1.p50"),
    ("event-to-metric p99 (s)", "event_to_metric.p99"),
    ("kube-sim's lists (s) (not us)", "sim.initial_lists_seconds"),
];

fn get(report: &Value, path: &str) -> Option<f64> {
    let ksm = report.get("ksm")?;
    if path == "=ready_after_lists" {
        return Some(get(report, "ready_seconds")? - get(report, "sim.initial_lists_seconds")?);
    }
    path.split('.').try_fold(ksm, |v, k| v.get(k))?.as_f64()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// One row: a figure at two sizes, its growth exponent, and whether that is linear or better.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: &'static str,
    pub small: f64,
    pub large: f64,
    pub exponent: f64,
    pub linear: bool,
}

/// Compares the reports' sizes pairwise (each with the next larger). Reports without kube-state-metrics
/// figures are ignored. Returns (small pods, large pods, rows) per pair.
pub fn compare(reports: &[Value]) -> Vec<(u64, u64, Vec<Row>)> {
    let mut sizes: Vec<u64> = reports
        .iter()
        .filter(|r| r.get("ksm").is_some_and(|k| !k.is_null()))
        .filter_map(|r| r.get("pods")?.as_u64())
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let at = |pods: u64, path: &str| {
        median(
            reports
                .iter()
                .filter(|r| r.get("pods").and_then(Value::as_u64) == Some(pods))
                .filter_map(|r| get(r, path))
                .collect(),
        )
    };
    sizes
        .windows(2)
        .map(|w| {
            let (s, l) = (w[0], w[1]);
            let step = (l as f64 / s as f64).ln();
            let rows = FIGURES
                .iter()
                .filter_map(|&(figure, path)| {
                    let (small, large) = (at(s, path)?, at(l, path)?);
                    // Non-positive figures (e.g. a zero latency) have no meaningful exponent; a figure
                    // that did not grow is fine whatever it is.
                    let exponent = if small > 0.0 && large > 0.0 { (large / small).ln() / step } else { 0.0 };
                    Some(Row { figure, small, large, exponent, linear: exponent <= 1.0 + TOLERANCE })
                })
                .collect();
            (s, l, rows)
        })
        .collect()
}

pub fn render(pairs: &[(u64, u64, Vec<Row>)], runs: usize) -> String {
    let mut out = String::new();
    if pairs.is_empty() {
        let _ = writeln!(out, "need kube-state-metrics reports at two or more pod counts ({runs} read)");
    }
    for (s, l, rows) in pairs {
        let _ = writeln!(
            out,
            "kube-state-metrics, {s} -> {l} pods ({:.1}x), medians of {runs} reports",
            *l as f64 / *s as f64
        );
        let _ = writeln!(out, "  {:<38} {:>14} {:>14} {:>7} {:>9}", "figure", "small", "large", "ratio", "exponent");
        for r in rows {
            let verdict = if r.linear { "" } else { "  FASTER THAN LINEAR" };
            let _ = writeln!(
                out,
                "  {:<38} {:>14} {:>14} {:>6.2}x {:>9.2}{verdict}",
                r.figure,
                figure(r.small),
                figure(r.large),
                r.large / r.small,
                r.exponent
            );
        }
        let worst =
            rows.iter().filter(|r| !r.figure.ends_with("(not us)")).map(|r| r.exponent).fold(f64::MIN, f64::max);
        let _ = writeln!(out, "  largest exponent (ours): {worst:.2} (linear = 1.00, tolerance +{TOLERANCE})");
    }
    out
}

/// Counts and sizes whole, seconds to four significant digits.
fn figure(v: f64) -> String {
    if v.abs() >= 1000.0 || v == v.trunc() {
        return format!("{v:.0}");
    }
    let decimals = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pods: u64, body: f64, cpu: f64) -> Value {
        serde_json::json!({
            "pods": pods,
            "ksm": {
                "metrics_bytes": body,
                "ready_seconds": 2.0,
                "sim": {"initial_lists_seconds": 1.0},
                "scrapes": {"cpu_seconds_per_plain_scrape": cpu},
            },
        })
    }

    #[test]
    fn exponents_use_the_median_of_each_size_and_flag_superlinear_growth() {
        let reports = [
            report(10, 100.0, 1.0),
            report(10, 100.0, 5.0),
            report(10, 100.0, 2.0),
            report(100, 1000.0, 40.0),
            serde_json::json!({"pods": 1000, "ksm": null}),
        ];
        let pairs = compare(&reports);
        assert_eq!(pairs.len(), 1, "the report without ksm figures is ignored");
        let (s, l, rows) = &pairs[0];
        assert_eq!((*s, *l), (10, 100));
        let row = |f: &str| rows.iter().find(|r| r.figure == f).unwrap().clone();
        let body = row("/metrics body (bytes)");
        assert!((body.exponent - 1.0).abs() < 1e-9 && body.linear);
        // Median CPU at 10 pods is 2.0; 40 / 2 = 20x for 10x the pods: exponent 1.30.
        let cpu = row("CPU per plain scrape (s)");
        assert_eq!(cpu.small, 2.0);
        assert!((cpu.exponent - 20f64.log10()).abs() < 1e-9 && !cpu.linear);
        // Derived figure: ready minus lists, constant here.
        assert_eq!(row("ready after kube-sim's lists (s)").exponent, 0.0);
        assert!(render(&pairs, reports.len()).contains("CPU per plain scrape (s)"));
        assert!(render(&pairs, reports.len()).contains("FASTER THAN LINEAR"));
        assert!(render(&[], 0).starts_with("need kube-state-metrics reports"));
        assert_eq!(
            [figure(92506544.0), figure(0.5918), figure(7.3188), figure(0.00483)],
            ["92506544", "0.5918", "7.319", "0.004830"]
        );
    }
}
