//! The one writer of exposition lines: family headers, samples and histograms. Built-in families,
//! custom-resource families, the telemetry registries and metrics-server's self-metrics all write
//! through these, so escaping and number formatting cannot drift between them.

use crate::{write_float, write_help_text, write_label_value};

/// `# HELP <name> <help>` (help escaped) and `# TYPE <name> <type_word>`.
pub fn write_header(out: &mut Vec<u8>, name: &str, help: &str, type_word: &str) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    write_help_text(out, help);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(type_word.as_bytes());
    out.push(b'\n');
}

/// `<name>{<labels>} <value>`, braces left out when there is no label.
pub fn write_sample(out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)], value: f64) {
    write_sample_after(out, name, b"", labels.iter().copied(), value);
}

/// `<name>{<prefix>,<labels>} <value>`: `prefix` holds label pairs already written once by
/// [`crate::write_label_pairs`] and shared by many lines (an object's identity labels); empty for none.
#[inline]
pub fn write_sample_after<'l>(
    out: &mut Vec<u8>,
    name: &str,
    prefix: &[u8],
    labels: impl IntoIterator<Item = (&'l str, &'l str)>,
    value: f64,
) {
    out.extend_from_slice(name.as_bytes());
    if !prefix.is_empty() {
        out.push(b'{');
        out.extend_from_slice(prefix);
    }
    write_sample_rest(out, !prefix.is_empty(), labels, value);
}

/// What [`write_sample_after`] writes after the name, `{` and the prefix: the remaining labels, the
/// closing brace and the value (`after_prefix` says whether a prefix was written). A store that keeps
/// name and prefix once writes only this for each line.
#[inline]
pub fn write_sample_rest<'l>(
    out: &mut Vec<u8>,
    after_prefix: bool,
    labels: impl IntoIterator<Item = (&'l str, &'l str)>,
    value: f64,
) {
    let mut first = !after_prefix;
    for (k, v) in labels {
        out.push(if first { b'{' } else { b',' });
        first = false;
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"=\"");
        write_label_value(out, v);
        out.push(b'"');
    }
    if !first {
        out.push(b'}');
    }
    out.push(b' ');
    write_float(out, value);
    out.push(b'\n');
}

/// One histogram series: a `<name>_bucket` line per `(upper bound, cumulative count)`, the `+Inf`
/// bucket (= `count`), then `<name>_sum` and `<name>_count`, each with `labels` (`le` last on buckets).
pub fn write_histogram(
    out: &mut Vec<u8>,
    name: &str,
    labels: &[(&str, &str)],
    buckets: impl IntoIterator<Item = (f64, u64)>,
    sum: f64,
    count: u64,
) {
    let bucket = format!("{name}_bucket");
    let mut le = Vec::new();
    for (bound, n) in buckets {
        le.clear();
        write_float(&mut le, bound);
        // write_float writes ASCII only.
        write_bucket(out, &bucket, labels, std::str::from_utf8(&le).unwrap_or("NaN"), n);
    }
    write_histogram_tail(out, name, &bucket, labels, sum, count);
}

/// Upper bounds of histogram buckets with their `le` label values formatted once, for a histogram
/// written many times (one series per node, on every scrape).
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    bounds: Vec<f64>,
    le: Vec<String>,
}

impl Buckets {
    pub fn new(bounds: Vec<f64>) -> Buckets {
        let le = bounds
            .iter()
            .map(|b| {
                let mut t = Vec::new();
                write_float(&mut t, *b);
                String::from_utf8(t).unwrap_or_else(|_| "NaN".to_string())
            })
            .collect();
        Buckets { bounds, le }
    }

    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }
}

/// [`write_histogram`] over [`Buckets`]; `counts[i]` is the cumulative count of the i-th bound.
pub fn write_histogram_buckets(
    out: &mut Vec<u8>,
    name: &str,
    labels: &[(&str, &str)],
    buckets: &Buckets,
    counts: &[u64],
    sum: f64,
    count: u64,
) {
    let bucket = format!("{name}_bucket");
    for (le, n) in buckets.le.iter().zip(counts) {
        write_bucket(out, &bucket, labels, le, *n);
    }
    write_histogram_tail(out, name, &bucket, labels, sum, count);
}

fn write_bucket(out: &mut Vec<u8>, bucket: &str, labels: &[(&str, &str)], le: &str, n: u64) {
    write_sample_after(out, bucket, b"", labels.iter().copied().chain([("le", le)]), n as f64);
}

/// The `+Inf` bucket, `_sum` and `_count`.
fn write_histogram_tail(out: &mut Vec<u8>, name: &str, bucket: &str, labels: &[(&str, &str)], sum: f64, count: u64) {
    write_bucket(out, bucket, labels, "+Inf", count);
    write_sample(out, &format!("{name}_sum"), labels, sum);
    write_sample(out, &format!("{name}_count"), labels, count as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn header_escapes_help_and_names_the_type() {
        assert_eq!(
            text(|o| write_header(o, "kube_x", "[STABLE] a\\b\nc \"q\"", "gauge")),
            "# HELP kube_x [STABLE] a\\\\b\\nc \"q\"\n# TYPE kube_x gauge\n"
        );
    }

    #[test]
    fn samples_with_and_without_labels() {
        assert_eq!(text(|o| write_sample(o, "up", &[], 1.0)), "up 1\n");
        assert_eq!(
            text(|o| write_sample(o, "m", &[("a", "x\"y"), ("b", "")], 1.5e6)),
            "m{a=\"x\\\"y\",b=\"\"} 1.5e+06\n"
        );
    }

    #[test]
    fn samples_after_a_shared_prefix() {
        let mut prefix = Vec::new();
        crate::write_label_pairs(&mut prefix, [("namespace", "ns"), ("pod", "p")]);
        assert_eq!(
            text(|o| write_sample_after(o, "kube_pod_info", &prefix, [("node", "n1")], 1.0)),
            "kube_pod_info{namespace=\"ns\",pod=\"p\",node=\"n1\"} 1\n"
        );
        assert_eq!(text(|o| write_sample_after(o, "m", &prefix, [], 0.0)), "m{namespace=\"ns\",pod=\"p\"} 0\n");
        assert_eq!(text(|o| write_sample_after(o, "m", b"", [("a", "b")], 2.0)), "m{a=\"b\"} 2\n");
    }

    #[test]
    fn histogram_lines_in_client_golang_order() {
        let got = text(|o| write_histogram(o, "d", &[("node", "n1")], [(0.005, 0), (0.25, 2)], 0.3, 3));
        assert_eq!(
            got,
            "d_bucket{node=\"n1\",le=\"0.005\"} 0\n\
             d_bucket{node=\"n1\",le=\"0.25\"} 2\n\
             d_bucket{node=\"n1\",le=\"+Inf\"} 3\n\
             d_sum{node=\"n1\"} 0.3\n\
             d_count{node=\"n1\"} 3\n"
        );
        let buckets = Buckets::new(vec![0.005, 0.25]);
        assert_eq!(buckets.bounds(), [0.005, 0.25]);
        assert_eq!(text(|o| write_histogram_buckets(o, "d", &[("node", "n1")], &buckets, &[0, 2], 0.3, 3)), got);
        let bare = text(|o| write_histogram(o, "h", &[], [(1.0, 1)], 0.5, 1));
        assert_eq!(bare, "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n");
        assert_eq!(crate::parse_text(&got).unwrap().len(), 5);
    }
}
