//! The overview as HTML: one self-contained page (inline CSS, a few lines of script, SVG bars; nothing
//! loaded from elsewhere), complete without JavaScript. With it, the page asks `/overview.json` every
//! few seconds and, when the revision changed, swaps in a fresh `<main>` from `/?fragment=main`.

use std::fmt::Write as _;

use super::model::Overview;

/// How often the page polls, in milliseconds.
pub const POLL_MS: u32 = 5000;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page: head, the overview in `<main>`, the links of upstream's index page, the script.
pub fn page(o: &Overview, links: &[(&str, &str)]) -> String {
    let mut s = String::with_capacity(16 * 1024);
    s.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>kube-state-metrics</title>\n<style>\n",
        include_str!("page.css"),
        "</style>\n</head>\n<body>\n<header><h1>kube-state-metrics</h1>",
        "<span id=\"live\">cluster overview</span></header>\n<main id=\"overview\">\n"
    ));
    s.push_str(&main(o));
    s.push_str("</main>\n<footer>\n<ul class=\"links\">\n");
    for (href, text) in links {
        let _ = writeln!(s, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(text));
    }
    let _ = write!(
        s,
        "</ul>\n<p class=\"note\">This page reads what kube-state-metrics holds for <a href=\"metrics\">/metrics</a> \
         (and metrics.k8s.io for usage); <a href=\"overview.json\">overview.json</a> is the same as JSON.</p>\n\
         </footer>\n<script>\n{}</script>\n</body>\n</html>\n",
        include_str!("page.js").replace("POLL_MS", &POLL_MS.to_string())
    );
    s
}

/// The content of `<main>`: what the page swaps in when the overview changes.
pub fn main(o: &Overview) -> String {
    let mut s = String::with_capacity(16 * 1024);
    let t = &o.totals;
    let _ = write!(
        s,
        "<p class=\"stamp\" data-revision=\"{}\">as of <time>{}</time></p>\n<section class=\"cards\">\n",
        esc(&o.revision),
        esc(&utc(o.generated_at))
    );
    card(&mut s, "nodes ready", &format!("{}/{}", t.nodes_ready, t.nodes), t.nodes_ready < t.nodes, "nodes");
    card(&mut s, "pods", &t.pods.to_string(), false, "pods");
    card(&mut s, "running", &t.phases.running.to_string(), false, "pods");
    card(&mut s, "pending", &t.phases.pending.to_string(), t.phases.pending > 0, "pods");
    card(&mut s, "failed", &t.phases.failed.to_string(), t.phases.failed > 0, "pods");
    card(&mut s, "not ready", &o.not_ready_total.to_string(), o.not_ready_total > 0, "pods");
    card(&mut s, "namespaces", &t.namespaces.to_string(), false, "namespaces");
    s.push_str("</section>\n");

    // Nodes.
    section(&mut s, "Nodes", "nodes", "kube_node_status_condition, kube_node_spec_taint");
    s.push_str("<table><tr><th>node</th><th>ready</th><th>conditions, taints</th><th>cpu</th><th>memory</th></tr>\n");
    for n in &o.nodes {
        let mut notes: Vec<String> = n.pressures.iter().map(|p| esc(p)).collect();
        if n.unschedulable {
            notes.push("unschedulable".into());
        }
        notes.extend(n.taints.iter().map(|t| format!("<code>{}</code>", esc(t))));
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            object_link("nodes", "", &n.name),
            if n.ready == "true" { "ok" } else { "bad" },
            esc(&n.ready),
            notes.join(" "),
            bars(n.usage.map(|u| u.cpu), n.requests.cpu, n.allocatable.cpu, cores),
            bars(n.usage.map(|u| u.memory), n.requests.memory, n.allocatable.memory, bytes),
        );
    }
    s.push_str("</table>\n");
    if o.totals.nodes > o.nodes.len() {
        let _ = writeln!(s, "<p class=\"note\">and {} more healthy nodes</p>", o.totals.nodes - o.nodes.len());
    }
    usage_note(&mut s, o);
    s.push_str("</section>\n");

    // Pods by phase per namespace.
    section(&mut s, "Pods by phase", "pods", "kube_pod_status_phase");
    s.push_str("<table><tr><th>namespace</th><th>running</th><th>pending</th><th>succeeded</th><th>failed</th><th>unknown</th></tr>\n");
    for n in &o.namespaces {
        let p = &n.phases;
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>",
            esc(&n.namespace),
            p.running,
            flag(p.pending > 0),
            p.pending,
            p.succeeded,
            flag(p.failed > 0),
            p.failed,
            p.unknown
        );
    }
    s.push_str("</table>\n");
    if o.totals.namespaces > o.namespaces.len() {
        let _ = writeln!(s, "<p class=\"note\">and {} more namespaces</p>", o.totals.namespaces - o.namespaces.len());
    }
    s.push_str("</section>\n");

    // Problems.
    list(
        &mut s,
        &format!("Pods not ready ({})", o.not_ready_total),
        "pods",
        "kube_pod_status_ready, kube_pod_status_reason",
        &["namespace", "pod", "phase", "reason"],
        o.not_ready
            .iter()
            .map(|p| vec![esc(&p.namespace), object_link("pods", &p.namespace, &p.pod), esc(&p.phase), esc(&p.reason)]),
    );
    list(
        &mut s,
        "Containers restarting most",
        "pods",
        "kube_pod_container_status_restarts_total",
        &["namespace", "pod", "container", "restarts", "last terminated", "waiting"],
        o.restarting.iter().map(|c| {
            vec![
                esc(&c.namespace),
                object_link("pods", &c.namespace, &c.pod),
                esc(&c.container),
                c.restarts.to_string(),
                esc(&c.last_terminated_reason),
                esc(&c.waiting_reason),
            ]
        }),
    );
    list(
        &mut s,
        &format!("Workloads below their desired replicas ({})", o.workloads_total),
        "deployments,statefulsets,daemonsets",
        "kube_deployment_status_replicas_available, kube_statefulset_status_replicas_ready, kube_daemonset_status_number_ready",
        &["kind", "namespace", "name", "ready", "desired"],
        o.workloads.iter().map(|w| {
            let resource = format!("{}s", w.kind.to_ascii_lowercase());
            vec![
                esc(&w.kind),
                esc(&w.namespace),
                object_link(&resource, &w.namespace, &w.name),
                w.ready.to_string(),
                w.desired.to_string(),
            ]
        }),
    );
    list(
        &mut s,
        &format!("Jobs failed or running long ({})", o.jobs_total),
        "jobs",
        "kube_job_failed, kube_job_status_start_time",
        &["namespace", "job", "problem"],
        o.jobs.iter().map(|j| vec![esc(&j.namespace), object_link("jobs", &j.namespace, &j.name), esc(&j.problem)]),
    );
    list(
        &mut s,
        &format!("Pending persistent volume claims ({})", o.pending_pvcs_total),
        "persistentvolumeclaims",
        "kube_persistentvolumeclaim_status_phase",
        &["namespace", "claim"],
        o.pending_pvcs
            .iter()
            .map(|p| vec![esc(&p.namespace), object_link("persistentvolumeclaims", &p.namespace, &p.name)]),
    );
    list(
        &mut s,
        &format!("CronJobs that missed their schedule ({})", o.missed_cronjobs_total),
        "cronjobs",
        "kube_cronjob_next_schedule_time",
        &["namespace", "cronjob", "due"],
        o.missed_cronjobs.iter().map(|c| {
            vec![esc(&c.namespace), object_link("cronjobs", &c.namespace, &c.name), format!("{} ago", esc(&c.late))]
        }),
    );
    if !o.top_pods.is_empty() {
        list(
            &mut s,
            "Pods using the most CPU",
            "pods",
            "metrics.k8s.io pods, kube_pod_container_resource_requests",
            &["namespace", "pod", "cpu (of request)", "memory (of request)"],
            o.top_pods.iter().map(|p| {
                vec![
                    esc(&p.namespace),
                    object_link("pods", &p.namespace, &p.pod),
                    bar_of(p.usage.cpu, p.requests.cpu, cores),
                    bar_of(p.usage.memory, p.requests.memory, bytes),
                ]
            }),
        );
    }
    if !o.missing_families.is_empty() {
        let _ = writeln!(
            s,
            "<p class=\"note\">Not collected by this instance (--resources, allow/deny lists), so not shown: {}</p>",
            esc(&o.missing_families.join(", "))
        );
    }
    s
}

/// `text` as a link to the series of one object: `namespace` empty for cluster-scoped ones.
fn object_link(resource: &str, namespace: &str, name: &str) -> String {
    let object = if namespace.is_empty() { name.to_owned() } else { format!("{namespace}/{name}") };
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("resources", resource)
        .append_pair("object", &object)
        .finish();
    format!("<a href=\"metrics?{}\">{}</a>", esc(&q), esc(name))
}

fn card(s: &mut String, label: &str, value: &str, bad: bool, resource: &str) {
    let _ = writeln!(
        s,
        "<a class=\"card{}\" href=\"metrics?resources={resource}\" data-card=\"{}\"><b>{}</b><span>{}</span></a>",
        if bad { " bad" } else { "" },
        esc(label),
        esc(value),
        esc(label)
    );
}

fn section(s: &mut String, title: &str, resources: &str, families: &str) {
    let _ = writeln!(
        s,
        "<section><h2>{} <a class=\"src\" href=\"metrics?resources={}\" title=\"{}\">series</a></h2>",
        esc(title),
        esc(resources),
        esc(families)
    );
}

fn list(
    s: &mut String,
    title: &str,
    resources: &str,
    families: &str,
    head: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    section(s, title, resources, families);
    let mut body = String::new();
    for r in rows {
        body.push_str("<tr>");
        for c in r {
            let _ = write!(body, "<td>{c}</td>");
        }
        body.push_str("</tr>\n");
    }
    if body.is_empty() {
        s.push_str("<p class=\"none\">none</p>\n");
    } else {
        s.push_str("<table><tr>");
        for h in head {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr>\n");
        s.push_str(&body);
        s.push_str("</table>\n");
    }
    s.push_str("</section>\n");
}

fn flag(bad: bool) -> &'static str {
    if bad { " class=\"bad\"" } else { "" }
}

fn usage_note(s: &mut String, o: &Overview) {
    if o.usage != "available" {
        let _ = writeln!(s, "<p class=\"note\">Usage (metrics.k8s.io): {}</p>", esc(&o.usage));
    }
}

/// Usage (when known) and requests against allocatable, as two thin bars and a caption.
fn bars(usage: Option<f64>, requests: f64, allocatable: f64, unit: fn(f64) -> String) -> String {
    if allocatable <= 0.0 {
        return String::new();
    }
    let pct = |v: f64| (v / allocatable * 100.0).clamp(0.0, 100.0);
    let mut svg = String::from("<svg class=\"bar\" viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\">");
    let _ = write!(svg, "<rect class=\"req\" width=\"{:.1}\" height=\"4\"/>", pct(requests));
    if let Some(u) = usage {
        let _ = write!(svg, "<rect class=\"use\" y=\"5\" width=\"{:.1}\" height=\"5\"/>", pct(u));
    }
    svg.push_str("</svg>");
    let used = usage.map_or(String::new(), |u| format!("{} used, ", unit(u)));
    format!("{svg}<small>{used}{} requested of {}</small>", unit(requests), unit(allocatable))
}

fn bar_of(usage: f64, request: f64, unit: fn(f64) -> String) -> String {
    if request <= 0.0 {
        return format!("{} <small>(no request)</small>", unit(usage));
    }
    let pct = usage / request * 100.0;
    format!(
        "<svg class=\"bar\" viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\"><rect class=\"use{}\" width=\"{:.1}\" height=\"10\"/></svg><small>{} ({:.0}%)</small>",
        if pct > 100.0 { " over" } else { "" },
        pct.min(100.0),
        unit(usage),
        pct
    )
}

fn cores(v: f64) -> String {
    if v < 1.0 { format!("{:.0}m", v * 1000.0) } else { format!("{v:.2}") }
}

fn bytes(v: f64) -> String {
    const GI: f64 = 1024.0 * 1024.0 * 1024.0;
    if v >= GI { format!("{:.1}Gi", v / GI) } else { format!("{:.0}Mi", v / 1024.0 / 1024.0) }
}

/// Unix seconds as `2026-12-05 01:02:03 UTC`.
fn utc(secs: f64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::super::model::Builder;
    use super::*;

    #[test]
    fn escapes_and_bars() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(bars(Some(1.0), 0.5, 0.0, cores), "");
        let b = bars(Some(1.0), 2.0, 4.0, cores);
        assert!(
            b.contains("width=\"50.0\"")
                && b.contains("width=\"25.0\"")
                && b.contains("1.00 used, 2.00 requested of 4.00"),
            "{b}"
        );
        assert!(bar_of(0.3, 0.2, cores).contains("class=\"use over\""));
        assert_eq!(bytes(2.0 * 1024.0 * 1024.0 * 1024.0), "2.0Gi");
    }

    #[test]
    fn a_page_that_stands_alone_and_says_what_it_shows() {
        let mut b = Builder::default();
        b.feed_text(b"kube_pod_status_phase{namespace=\"a<b\",pod=\"p\",uid=\"u\",phase=\"Pending\"} 1\n");
        b.feed_text(b"kube_pod_status_ready{namespace=\"a<b\",pod=\"p\",uid=\"u\",condition=\"false\"} 1\n");
        let o = b.finish(1_700_000_000.0, Err("off"));
        let html = page(&o, &[("metrics", "metrics"), ("healthz", "healthz")]);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("a&lt;b") && !html.contains("a<b"));
        assert!(html.contains("data-card=\"pending\"><b>1</b>"), "{html}");
        assert!(html.contains("<li><a href=\"healthz\">healthz</a></li>"));
        // Each item links to its own series.
        assert!(html.contains("<a href=\"metrics?resources=pods&amp;object=a%3Cb%2Fp\">p</a>"), "{html}");
        assert!(html.contains("Usage (metrics.k8s.io): off"));
        assert!(html.contains(&format!("data-revision=\"{}\"", o.revision)));
        // Nothing from elsewhere: no absolute URLs at all.
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");
        assert!(html.len() < 100 * 1024);
    }
}
