//! Streaming decoder for the kubelet `/metrics/resource` Prometheus text format.
//!
//! Bytes are fed in whatever chunks the network delivers; only a partial line is carried between
//! chunks, and a line longer than [`MAX_LINE`] fails the node (a kubelet never writes such lines, so it
//! is garbage). Only the five families upstream uses are kept; any parse error fails the whole node.

use crate::storage::{Batch, FastMap, FastSet, Interner, Name, Nanos, PodBatch, Point};

/// Longest accepted line. Real lines are < 300 bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// What the series of one response may take in memory (names, map entries, points) before the node
/// fails: about 25,000 containers, far beyond a real node (110 pods by default) but a bound on what a
/// hostile kubelet naming ever new pods can make this process allocate.
pub const MAX_DECODED_BYTES: usize = 4 << 20;
/// Estimated cost of a pod's map entry and of a container's, beyond their names.
const POD_COST: usize = 128;
const CONTAINER_COST: usize = 80;

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("line {0}: line longer than {MAX_LINE} bytes")]
    LineTooLong(usize),
    #[error("line {0}: {1}")]
    Syntax(usize, &'static str),
    #[error("line {0}: the series so far would take more than {MAX_DECODED_BYTES} bytes")]
    TooManySeries(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    NodeCpu,
    NodeMem,
    ContainerCpu,
    ContainerMem,
    ContainerStart,
}

fn family(name: &[u8]) -> Option<Family> {
    Some(match name {
        b"node_cpu_usage_seconds_total" => Family::NodeCpu,
        b"node_memory_working_set_bytes" => Family::NodeMem,
        b"container_cpu_usage_seconds_total" => Family::ContainerCpu,
        b"container_memory_working_set_bytes" => Family::ContainerMem,
        b"container_start_time_seconds" => Family::ContainerStart,
        _ => return None,
    })
}

/// Decoder state for one node's response.
pub struct Decoder<'a> {
    interner: &'a mut Interner,
    request_time: Nanos,
    carry: Vec<u8>,
    line_no: usize,
    node: Point,
    node_seen: bool,
    /// (namespace, pod) → container → point.
    pods: FastMap<(Name, Name), Vec<(Name, Point)>>,
    /// Pods with a value that cannot be a usage (non-finite, negative, out of range).
    bad_pods: FastSet<(Name, Name)>,
    node_bad: bool,
    /// Estimated bytes held by `pods`, against [`MAX_DECODED_BYTES`].
    decoded_bytes: usize,
    failed: Option<DecodeError>,
}

impl<'a> Decoder<'a> {
    /// `request_time` is used for samples without an explicit timestamp.
    pub fn new(interner: &'a mut Interner, request_time: Nanos) -> Self {
        Decoder {
            interner,
            request_time,
            carry: Vec::new(),
            line_no: 0,
            node: Point::default(),
            node_seen: false,
            pods: FastMap::default(),
            bad_pods: Default::default(),
            node_bad: false,
            decoded_bytes: 0,
            failed: None,
        }
    }

    /// Estimated bytes the series decoded so far hold.
    pub fn decoded_bytes(&self) -> usize {
        self.decoded_bytes
    }

    /// Feed the next chunk of the body.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            let (head, rest) = chunk.split_at(pos);
            chunk = &rest[1..];
            // The limit holds however the body was cut into chunks.
            if head.len() > MAX_LINE {
                return self.fail(DecodeError::LineTooLong(self.line_no + 1));
            }
            let r = if self.carry.is_empty() {
                self.line(head)
            } else {
                if self.carry.len() + head.len() > MAX_LINE {
                    return self.fail(DecodeError::LineTooLong(self.line_no + 1));
                }
                let mut line = std::mem::take(&mut self.carry);
                line.extend_from_slice(head);
                let r = self.line(&line);
                line.clear();
                self.carry = line;
                r
            };
            if let Err(e) = r {
                return self.fail(e);
            }
        }
        if self.carry.len() + chunk.len() > MAX_LINE {
            return self.fail(DecodeError::LineTooLong(self.line_no + 1));
        }
        self.carry.extend_from_slice(chunk);
        Ok(())
    }

    fn fail(&mut self, e: DecodeError) -> Result<(), DecodeError> {
        self.failed = Some(e.clone());
        Err(e)
    }

    /// Finish: apply upstream's validity filters and return the node's name-keyed batch.
    pub fn finish(mut self, node: &Name) -> Result<Batch, DecodeError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line)?;
        }
        let mut batch = Batch::default();
        let n = self.node;
        if self.node_bad {
            tracing::debug!(node = %node, "Dropping node metric with a value that is not a usage");
        } else if self.node_seen && n.ts != 0 && n.cpu != 0 && n.mem != 0 {
            batch.nodes.push((node.clone(), n));
        } else {
            tracing::debug!(node = %node, "Failed getting complete node metric");
        }
        for ((namespace, name), containers) in self.pods {
            if self.bad_pods.contains(&(namespace.clone(), name.clone())) {
                tracing::debug!(%namespace, pod = %name, "Dropping pod metric with a value that is not a usage");
                continue;
            }
            if containers.iter().any(|(_, p)| p.cpu == 0 || p.mem == 0) {
                tracing::debug!(%namespace, pod = %name, "Failed getting complete Pod metric");
                continue;
            }
            batch.pods.push(PodBatch { namespace, name, containers });
        }
        Ok(batch)
    }

    fn line(&mut self, line: &[u8]) -> Result<(), DecodeError> {
        self.line_no += 1;
        let ln = self.line_no;
        let line = trim(line);
        if line.is_empty() || line[0] == b'#' {
            return Ok(());
        }
        let name_end = line.iter().position(|&b| b == b'{' || b == b' ' || b == b'\t').unwrap_or(line.len());
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(DecodeError::Syntax(ln, "invalid metric name"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Labels::default();
        if rest.first() == Some(&b'{') {
            rest = parse_labels(&rest[1..], &mut labels).map_err(|m| DecodeError::Syntax(ln, m))?;
        }
        let rest = trim(rest);
        let mut fields = rest.split(|&b| b == b' ' || b == b'\t').filter(|f| !f.is_empty());
        let value = fields.next().ok_or(DecodeError::Syntax(ln, "missing value"))?;
        let value = parse_float(value).ok_or(DecodeError::Syntax(ln, "invalid value"))?;
        let ts = match fields.next() {
            Some(t) => {
                let ms = parse_int(t).ok_or(DecodeError::Syntax(ln, "invalid timestamp"))?;
                if ms < 0 {
                    return Err(DecodeError::Syntax(ln, "invalid timestamp"));
                }
                ms.checked_mul(1_000_000).ok_or(DecodeError::Syntax(ln, "invalid timestamp"))?
            }
            None => self.request_time,
        };
        if fields.next().is_some() {
            return Err(DecodeError::Syntax(ln, "trailing data"));
        }
        let Some(fam) = family(name) else { return Ok(()) };
        match fam {
            Family::NodeCpu => {
                self.node_seen = true;
                match to_u64(value, 1e9) {
                    Some(v) => self.node.cpu = v,
                    None => self.node_bad = true,
                }
                self.node.ts = ts;
            }
            Family::NodeMem => {
                self.node_seen = true;
                match to_u64(value, 1.0) {
                    Some(v) => self.node.mem = v,
                    None => self.node_bad = true,
                }
                self.node.ts = ts;
            }
            Family::ContainerCpu | Family::ContainerMem | Family::ContainerStart => {
                let (Some(ns), Some(pod), Some(c)) = (labels.namespace, labels.pod, labels.container) else {
                    return Ok(());
                };
                let ns = utf8(ns, ln)?;
                let pod = utf8(pod, ln)?;
                let c = utf8(c, ln)?;
                let Some((key, p)) = self.container(ns, pod, c) else {
                    return Err(DecodeError::TooManySeries(ln));
                };
                let ok = match fam {
                    Family::ContainerCpu => to_u64(value, 1e9).map(|v| {
                        p.cpu = v;
                        p.ts = ts;
                    }),
                    Family::ContainerMem => to_u64(value, 1.0).map(|v| {
                        p.mem = v;
                        p.ts = ts;
                    }),
                    _ => to_u64(value, 1e9).and_then(|v| i64::try_from(v).ok()).map(|v| p.start = v),
                };
                if ok.is_none() {
                    self.bad_pods.insert(key);
                }
            }
        }
        Ok(())
    }

    /// The point of a container, created if new; `None` once the series exceed [`MAX_DECODED_BYTES`].
    fn container(&mut self, ns: &str, pod: &str, c: &str) -> Option<((Name, Name), &mut Point)> {
        let key = (self.interner.intern(ns), self.interner.intern(pod));
        let cs = match self.pods.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.decoded_bytes += POD_COST + ns.len() + pod.len();
                e.insert(Vec::new())
            }
        };
        let idx = match cs.iter().position(|(n, _)| &**n == c) {
            Some(i) => i,
            None => {
                self.decoded_bytes += CONTAINER_COST + c.len();
                cs.push((self.interner.intern(c), Point::default()));
                cs.len() - 1
            }
        };
        if self.decoded_bytes > MAX_DECODED_BYTES {
            return None;
        }
        Some((key, &mut cs[idx].1))
    }
}

/// A sample as a whole number of `unit`s (Go's `uint64(v * unit)`), or `None` when it cannot be one: not
/// finite, negative, or beyond `u64`.
fn to_u64(v: f64, unit: f64) -> Option<u64> {
    let x = v * unit;
    (x.is_finite() && x >= 0.0 && x < u64::MAX as f64).then_some(x as u64)
}

fn utf8(b: &[u8], ln: usize) -> Result<&str, DecodeError> {
    std::str::from_utf8(b).map_err(|_| DecodeError::Syntax(ln, "label value is not UTF-8"))
}

#[derive(Default)]
struct Labels<'l> {
    namespace: Option<&'l [u8]>,
    pod: Option<&'l [u8]>,
    container: Option<&'l [u8]>,
}

/// Parse `k="v",k2="v2"}` and return the rest after `}`. Label values the decoder needs must not contain
/// escapes (Kubernetes names cannot), so escaped values are accepted but only unescaped ones are kept.
fn parse_labels<'l>(mut s: &'l [u8], out: &mut Labels<'l>) -> Result<&'l [u8], &'static str> {
    loop {
        s = trim_start(s);
        match s.first() {
            Some(b'}') => return Ok(&s[1..]),
            None => return Err("unterminated label set"),
            _ => {}
        }
        let eq = s.iter().position(|&b| b == b'=').ok_or("label without '='")?;
        let key = trim(&s[..eq]);
        if !valid_label_name(key) {
            return Err("invalid label name");
        }
        s = trim_start(&s[eq + 1..]);
        if s.first() != Some(&b'"') {
            return Err("label value not quoted");
        }
        s = &s[1..];
        let mut i = 0;
        let mut escaped = false;
        loop {
            match s.get(i) {
                None => return Err("unterminated label value"),
                Some(b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let value = &s[..i];
        if !escaped {
            match key {
                b"namespace" => out.namespace = Some(value),
                b"pod" => out.pod = Some(value),
                b"container" => out.container = Some(value),
                _ => {}
            }
        }
        s = trim_start(&s[i + 1..]);
        match s.first() {
            Some(b',') => s = &s[1..],
            Some(b'}') => {}
            _ => return Err("expected ',' or '}' after label value"),
        }
    }
}

fn valid_metric_name(n: &[u8]) -> bool {
    !n.is_empty() && !n[0].is_ascii_digit() && n.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn valid_label_name(n: &[u8]) -> bool {
    !n.is_empty() && !n[0].is_ascii_digit() && n.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_float(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if s.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) => s.parse().ok(),
        _ => None,
    }
}

fn parse_int(b: &[u8]) -> Option<i64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn trim(b: &[u8]) -> &[u8] {
    let b = trim_start(b);
    let end = b.iter().rposition(|c| !matches!(c, b' ' | b'\t' | b'\r')).map_or(0, |i| i + 1);
    &b[..end]
}

fn trim_start(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !matches!(c, b' ' | b'\t')).unwrap_or(b.len());
    &b[start..]
}

/// Decode a whole body at once (tests and small callers).
pub fn decode(interner: &mut Interner, node: &Name, request_time: Nanos, body: &[u8]) -> Result<Batch, DecodeError> {
    let mut d = Decoder::new(interner, request_time);
    d.feed(body)?;
    d.finish(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const NORMAL: &str = r#"# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="coredns-558bd4d5db-4dpjz"} 4.710169 1633253812125
container_cpu_usage_seconds_total{container="etcd",namespace="kube-system",pod="etcd-kind"} 0.5 1633253812000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns-558bd4d5db-4dpjz"} 1.253376e+07 1633253812125
container_memory_working_set_bytes{container="etcd",namespace="kube-system",pod="etcd-kind"} 0 1633253812000
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="coredns",namespace="kube-system",pod="coredns-558bd4d5db-4dpjz"} 1.633252712e+9 1633253812125
node_cpu_usage_seconds_total 357.35491 1633253809720
node_memory_working_set_bytes 1.616273408e+09 1633253809720
pod_cpu_usage_seconds_total{namespace="kube-system",pod="etcd-kind"} 12 1633253812000
scrape_error 0
"#;

    fn run(body: &[u8]) -> Result<Batch, DecodeError> {
        let mut i = Interner::default();
        decode(&mut i, &Arc::from("n1"), 42, body)
    }

    #[test]
    fn normal_body() {
        let b = run(NORMAL.as_bytes()).unwrap();
        assert_eq!(b.nodes.len(), 1);
        let (name, n) = &b.nodes[0];
        assert_eq!(&**name, "n1");
        assert_eq!(n.cpu, 357_354_910_000);
        assert_eq!(n.mem, 1_616_273_408);
        assert_eq!(n.ts, 1_633_253_809_720_000_000);
        assert_eq!(n.start, 0);
        // etcd has zero memory: its pod is dropped.
        assert_eq!(b.pods.len(), 1);
        let p = &b.pods[0];
        assert_eq!((&*p.namespace, &*p.name), ("kube-system", "coredns-558bd4d5db-4dpjz"));
        let (c, pt) = &p.containers[0];
        assert_eq!(&**c, "coredns");
        assert_eq!(pt.cpu, 4_710_169_000);
        assert_eq!(pt.mem, 12_533_760);
        assert_eq!(pt.ts, 1_633_253_812_125_000_000);
        assert_eq!(pt.start, 1_633_252_712_000_000_000);
    }

    #[test]
    fn chunking_does_not_matter() {
        let whole = run(NORMAL.as_bytes()).unwrap();
        for size in [1usize, 3, 7, 64] {
            let mut i = Interner::default();
            let mut d = Decoder::new(&mut i, 42);
            for c in NORMAL.as_bytes().chunks(size) {
                d.feed(c).unwrap();
            }
            let b = d.finish(&Arc::from("n1")).unwrap();
            assert_eq!(b.nodes, whole.nodes);
            assert_eq!(b.pods[0].containers, whole.pods[0].containers);
        }
    }

    #[test]
    fn missing_timestamp_uses_request_time() {
        let b = run(b"node_cpu_usage_seconds_total 1\nnode_memory_working_set_bytes 2\n").unwrap();
        assert_eq!(b.nodes[0].1.ts, 42);
    }

    #[test]
    fn point_timestamp_is_the_later_line() {
        let b = run(b"node_cpu_usage_seconds_total 1 1000\nnode_memory_working_set_bytes 2 2000\n").unwrap();
        assert_eq!(b.nodes[0].1.ts, 2_000_000_000);
    }

    #[test]
    fn zero_node_values_drop_node() {
        for body in [
            "node_cpu_usage_seconds_total 0 1\nnode_memory_working_set_bytes 2 1\n",
            "node_cpu_usage_seconds_total 1 1\nnode_memory_working_set_bytes 0 1\n",
            "node_cpu_usage_seconds_total 1 1\n",
            "node_cpu_usage_seconds_total 1 0\nnode_memory_working_set_bytes 1 0\n",
        ] {
            assert!(run(body.as_bytes()).unwrap().nodes.is_empty(), "{body}");
        }
    }

    #[test]
    fn container_with_only_start_time_drops_pod() {
        let body = concat!(
            "container_cpu_usage_seconds_total{container=\"a\",namespace=\"n\",pod=\"p\"} 1 1000\n",
            "container_memory_working_set_bytes{container=\"a\",namespace=\"n\",pod=\"p\"} 1 1000\n",
            "container_start_time_seconds{container=\"b\",namespace=\"n\",pod=\"p\"} 5\n",
            "container_cpu_usage_seconds_total{container=\"a\",namespace=\"n\",pod=\"q\"} 1 1000\n",
            "container_memory_working_set_bytes{container=\"a\",namespace=\"n\",pod=\"q\"} 1 1000\n",
        );
        let b = run(body.as_bytes()).unwrap();
        assert_eq!(b.pods.len(), 1);
        assert_eq!(&*b.pods[0].name, "q");
    }

    #[test]
    fn labels_in_any_order_with_spaces_and_extra_labels() {
        let body = "container_cpu_usage_seconds_total{ pod=\"p\" , id=\"x\\\"y\", container=\"c\",namespace=\"n\",} 2 1000\ncontainer_memory_working_set_bytes{namespace=\"n\",pod=\"p\",container=\"c\"} 3 1000\n";
        let b = run(body.as_bytes()).unwrap();
        assert_eq!(b.pods[0].containers[0].1.cpu, 2_000_000_000);
        assert_eq!(b.pods[0].containers[0].1.mem, 3);
    }

    #[test]
    fn negative_timestamp_fails_node() {
        let e = run(b"node_cpu_usage_seconds_total 1 -1633253809720\n").unwrap_err();
        assert_eq!(e, DecodeError::Syntax(1, "invalid timestamp"));
    }

    #[test]
    fn garbage_fails() {
        for body in [
            &b"<html><body>502 Bad Gateway</body></html>\n"[..],
            b"node_cpu_usage_seconds_total{ 1\n",
            b"node_cpu_usage_seconds_total abc\n",
            b"node_cpu_usage_seconds_total\n",
            b"node_cpu_usage_seconds_total 1 2 3\n",
            b"container_cpu_usage_seconds_total{pod=\"unterminated} 1\n",
            b"\x00\x01\x02\xff\xfe garbage",
        ] {
            assert!(run(body).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn invalid_utf8_label_value_fails() {
        let body = b"container_cpu_usage_seconds_total{container=\"\xff\xfe\",namespace=\"n\",pod=\"p\"} 1 1\n";
        assert_eq!(run(body).unwrap_err(), DecodeError::Syntax(1, "label value is not UTF-8"));
    }

    #[test]
    fn huge_line_fails_without_buffering_it() {
        let mut i = Interner::default();
        let mut d = Decoder::new(&mut i, 0);
        let chunk = vec![b'a'; 16 * 1024];
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = d.feed(&chunk) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(DecodeError::LineTooLong(1)));
        assert!(d.carry.len() <= MAX_LINE);
        // Once failed, the decoder stays failed.
        assert!(d.feed(b"\n").is_err());
    }

    #[test]
    fn long_lines_fail_whether_they_arrive_whole_or_in_pieces() {
        let body = format!("node_cpu_usage_seconds_total{{x=\"{}\"}} 1 5\n", "a".repeat(MAX_LINE));
        let (mut i1, mut i2) = (Interner::default(), Interner::default());
        let mut whole = Decoder::new(&mut i1, 0);
        assert_eq!(whole.feed(body.as_bytes()), Err(DecodeError::LineTooLong(1)));
        let mut split = Decoder::new(&mut i2, 0);
        let (a, b) = body.as_bytes().split_at(MAX_LINE / 2);
        let r = split.feed(a).and_then(|()| split.feed(b));
        assert_eq!(r, Err(DecodeError::LineTooLong(1)));
    }

    #[test]
    fn values_that_cannot_be_usages_are_bad_points() {
        let pod = |cpu: &str, mem: &str, start: &str| {
            format!(
                "container_cpu_usage_seconds_total{{container=\"c\",namespace=\"n\",pod=\"p\"}} {cpu} 1000\n\
                 container_memory_working_set_bytes{{container=\"c\",namespace=\"n\",pod=\"p\"}} {mem} 1000\n\
                 container_start_time_seconds{{container=\"c\",namespace=\"n\",pod=\"p\"}} {start}\n\
                 container_cpu_usage_seconds_total{{container=\"c\",namespace=\"n\",pod=\"ok\"}} 1 1000\n\
                 container_memory_working_set_bytes{{container=\"c\",namespace=\"n\",pod=\"ok\"}} 1 1000\n"
            )
        };
        assert_eq!(run(pod("1", "1", "5").as_bytes()).unwrap().pods.len(), 2);
        for (cpu, mem, start) in [
            ("1", "+Inf", "5"),
            ("1", "NaN", "5"),
            ("1", "-1", "5"),
            ("1", "1e30", "5"),
            ("+Inf", "1", "5"),
            ("-Inf", "1", "5"),
            ("-0.5", "1", "5"),
            ("1e11", "1", "5"),
            ("1", "1", "NaN"),
            ("1", "1", "1e300"),
        ] {
            let b = run(pod(cpu, mem, start).as_bytes()).unwrap();
            let names: Vec<&str> = b.pods.iter().map(|p| &*p.name).collect();
            assert_eq!(names, ["ok"], "cpu {cpu} memory {mem} start {start}");
        }
        for body in [
            "node_cpu_usage_seconds_total 1 1\nnode_memory_working_set_bytes +Inf 1\n",
            "node_cpu_usage_seconds_total NaN 1\nnode_memory_working_set_bytes 5 1\n",
            "node_cpu_usage_seconds_total 1 1\nnode_memory_working_set_bytes -5 1\n",
        ] {
            assert!(run(body.as_bytes()).unwrap().nodes.is_empty(), "{body}");
        }
    }

    #[test]
    fn a_flood_of_distinct_pods_fails_within_the_bound() {
        let mut i = Interner::default();
        let mut d = Decoder::new(&mut i, 0);
        let mut err = None;
        for n in 0..1_000_000 {
            let line = format!(
                "container_memory_working_set_bytes{{container=\"c\",namespace=\"ns\",pod=\"pod-{n:012}\"}} 1 1\n"
            );
            if let Err(e) = d.feed(line.as_bytes()) {
                err = Some(e);
                break;
            }
        }
        assert!(matches!(err, Some(DecodeError::TooManySeries(_))), "{err:?}");
        assert!(d.decoded_bytes() <= MAX_DECODED_BYTES + 512, "{}", d.decoded_bytes());
        assert!(d.pods.len() < 25_000, "{} pods held", d.pods.len());
    }

    #[test]
    fn unknown_families_and_comments_ignored() {
        let body = "# random comment\nfoo_bar{x=\"1\"} 5\nresource_scrape_error 1\nnode_cpu_usage_seconds_total 1 5\nnode_memory_working_set_bytes 1 5";
        let b = run(body.as_bytes()).unwrap();
        assert_eq!(b.nodes.len(), 1, "last line without newline is still parsed");
    }
}
