//! Streaming decoder for the kubelet `/metrics/resource` Prometheus text format.
//!
//! Bytes are fed in whatever chunks the network delivers; only a partial line is carried between
//! chunks, and a line longer than [`MAX_LINE`] fails the node (a kubelet never writes such lines, so it
//! is garbage). Only the five families upstream uses are kept; any parse error fails the whole node.

use crate::storage::{Batch, FastMap, FastSet, Interner, Name, Nanos, PodBatch, Point};

/// Longest accepted line. Real lines are < 300 bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// What the series of one response may take in memory (names, points, the index) before the node
/// fails: about 25,000 containers, far beyond a real node (110 pods by default) but a bound on what a
/// hostile kubelet naming ever new pods can make this process allocate.
pub const MAX_DECODED_BYTES: usize = 4 << 20;
/// Estimated cost of a container series beyond its names (its entry, its index slot, its pod's share).
const SERIES_COST: usize = 160;

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

/// The names of one container series: namespace, pod, container.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub namespace: Name,
    pub pod: Name,
    pub container: Name,
}

impl SeriesKey {
    fn is(&self, ns: &[u8], pod: &[u8], c: &[u8]) -> bool {
        self.pod.as_bytes() == pod && self.container.as_bytes() == c && self.namespace.as_bytes() == ns
    }
}

/// The container series of a node's last response, in the order its kubelet wrote them. A kubelet
/// writes the same series in the same order in every family and on every scrape, so the decoder of the
/// next response expects each line to name the series at the same position here: one comparison of the
/// names instead of hashing them, and no new allocation for them.
#[derive(Clone, Debug, Default)]
pub struct SeriesOrder(Vec<SeriesKey>);

impl SeriesOrder {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One container series of the response being decoded.
struct Series {
    key: SeriesKey,
    point: Point,
}

/// Decoder state for one node's response.
pub struct Decoder<'a> {
    interner: &'a mut Interner,
    request_time: Nanos,
    carry: Vec<u8>,
    line_no: usize,
    node: Point,
    node_seen: bool,
    /// Container series in the order first seen.
    series: Vec<Series>,
    /// The previous response's order; followed while `on_track`.
    expected: SeriesOrder,
    /// Every series so far is `expected`'s at the same position, so `expected[series.len()]` is not
    /// among them yet.
    on_track: bool,
    /// The container family of the last container line and the position the next line of that family
    /// is expected at.
    block: Option<Family>,
    cursor: usize,
    /// Position of every series by its names, built at the first line that is not where expected.
    index: Option<FastMap<SeriesKey, usize>>,
    /// Pods with a value that cannot be a usage (non-finite, negative, out of range).
    bad_pods: FastSet<(Name, Name)>,
    node_bad: bool,
    /// Estimated bytes held by the series, against [`MAX_DECODED_BYTES`].
    decoded_bytes: usize,
    failed: Option<DecodeError>,
}

impl<'a> Decoder<'a> {
    /// `request_time` is used for samples without an explicit timestamp.
    pub fn new(interner: &'a mut Interner, request_time: Nanos) -> Self {
        Self::expecting(interner, request_time, SeriesOrder::default())
    }

    /// A decoder that expects the series of `expected` (the node's previous response) in its order and
    /// takes their names from it; series it does not expect are interned into `interner`.
    pub fn expecting(interner: &'a mut Interner, request_time: Nanos, expected: SeriesOrder) -> Self {
        Decoder {
            interner,
            request_time,
            carry: Vec::new(),
            line_no: 0,
            node: Point::default(),
            node_seen: false,
            series: Vec::with_capacity(expected.len()),
            expected,
            on_track: true,
            block: None,
            cursor: 0,
            index: None,
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
        while let Some(pos) = memchr::memchr(b'\n', chunk) {
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
    pub fn finish(self, node: &Name) -> Result<Batch, DecodeError> {
        self.finish_with_order(node).map(|(b, _)| b)
    }

    /// [`Decoder::finish`], and the order of this response's series for the node's next decoder.
    pub fn finish_with_order(mut self, node: &Name) -> Result<(Batch, SeriesOrder), DecodeError> {
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
        // Group the containers by pod, pods in the order first seen.
        let mut pods: Vec<PodBatch> = Vec::new();
        let mut pod_at: FastMap<(&str, &str), usize> =
            FastMap::with_capacity_and_hasher(self.series.len(), Default::default());
        for s in &self.series {
            let k = &s.key;
            let at = *pod_at.entry((&*k.namespace, &*k.pod)).or_insert_with(|| {
                pods.push(PodBatch { namespace: k.namespace.clone(), name: k.pod.clone(), containers: Vec::new() });
                pods.len() - 1
            });
            pods[at].containers.push((k.container.clone(), s.point));
        }
        drop(pod_at);
        batch.pods.reserve(pods.len());
        for pod in pods {
            if !self.bad_pods.is_empty() && self.bad_pods.contains(&(pod.namespace.clone(), pod.name.clone())) {
                tracing::debug!(namespace = %pod.namespace, pod = %pod.name, "Dropping pod metric with a value that is not a usage");
                continue;
            }
            if pod.containers.iter().any(|(_, p)| p.cpu == 0 || p.mem == 0) {
                tracing::debug!(namespace = %pod.namespace, pod = %pod.name, "Failed getting complete Pod metric");
                continue;
            }
            batch.pods.push(pod);
        }
        let order = SeriesOrder(self.series.into_iter().map(|s| s.key).collect());
        Ok((batch, order))
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
                let at = self.series_at(fam, ns, pod, c, ln)?;
                let p = &mut self.series[at].point;
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
                    let k = &self.series[at].key;
                    self.bad_pods.insert((k.namespace.clone(), k.pod.clone()));
                }
            }
        }
        Ok(())
    }

    /// The position of a container's series, added if new.
    fn series_at(&mut self, fam: Family, ns: &[u8], pod: &[u8], c: &[u8], ln: usize) -> Result<usize, DecodeError> {
        if self.block != Some(fam) {
            self.block = Some(fam);
            self.cursor = 0;
        }
        let at = self.cursor;
        match self.series.get(at) {
            Some(s) if s.key.is(ns, pod, c) => {
                self.cursor += 1;
                return Ok(at);
            }
            Some(_) => {}
            None => {
                if self.on_track
                    && let Some(k) = self.expected.0.get(at)
                    && k.is(ns, pod, c)
                {
                    let key = k.clone();
                    self.push(key, ln)?;
                    self.cursor += 1;
                    return Ok(at);
                }
            }
        }
        // Not where expected: find it by its names.
        self.on_track = false;
        let key = SeriesKey {
            namespace: self.interner.intern(utf8(ns, ln)?),
            pod: self.interner.intern(utf8(pod, ln)?),
            container: self.interner.intern(utf8(c, ln)?),
        };
        let series = &self.series;
        let found = self
            .index
            .get_or_insert_with(|| {
                let mut m = FastMap::with_capacity_and_hasher(series.len() + 1, Default::default());
                m.extend(series.iter().enumerate().map(|(i, s)| (s.key.clone(), i)));
                m
            })
            .get(&key)
            .copied();
        let at = match found {
            Some(i) => i,
            None => {
                let i = self.series.len();
                self.push(key.clone(), ln)?;
                if let Some(index) = &mut self.index {
                    index.insert(key, i);
                }
                i
            }
        };
        self.cursor = at + 1;
        Ok(at)
    }

    fn push(&mut self, key: SeriesKey, ln: usize) -> Result<(), DecodeError> {
        self.decoded_bytes += SERIES_COST + key.namespace.len() + key.pod.len() + key.container.len();
        if self.decoded_bytes > MAX_DECODED_BYTES {
            return Err(DecodeError::TooManySeries(ln));
        }
        self.series.push(Series { key, point: Point::default() });
        Ok(())
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
        assert!(d.series.len() < 25_000, "{} series held", d.series.len());
    }

    #[test]
    fn unknown_families_and_comments_ignored() {
        let body = "# random comment\nfoo_bar{x=\"1\"} 5\nresource_scrape_error 1\nnode_cpu_usage_seconds_total 1 5\nnode_memory_working_set_bytes 1 5";
        let b = run(body.as_bytes()).unwrap();
        assert_eq!(b.nodes.len(), 1, "last line without newline is still parsed");
    }

    type Plain = Vec<(String, String, Vec<(String, Point)>)>;

    /// The pods of a batch as plain strings, in the order the decoder gave them.
    fn plain(b: &Batch) -> Plain {
        b.pods
            .iter()
            .map(|p| {
                let cs = p.containers.iter().map(|(c, pt)| (c.to_string(), *pt)).collect();
                (p.namespace.to_string(), p.name.to_string(), cs)
            })
            .collect()
    }

    /// A kubelet body in the kubelet's family order for `series` (namespace, pod, container), with
    /// values that make every pod complete.
    fn body(series: &[(&str, &str, &str)], ts: u64) -> String {
        let mut out = String::new();
        for (fam, v) in [
            ("container_cpu_usage_seconds_total", "2.5"),
            ("container_memory_working_set_bytes", "1024"),
            ("container_start_time_seconds", "1000"),
        ] {
            out.push_str(&format!("# TYPE {fam} gauge\n"));
            for (ns, pod, c) in series {
                out.push_str(&format!("{fam}{{container=\"{c}\",namespace=\"{ns}\",pod=\"{pod}\"}} {v} {ts}\n"));
            }
        }
        out.push_str(&format!("node_cpu_usage_seconds_total 9 {ts}\nnode_memory_working_set_bytes 9 {ts}\n"));
        out
    }

    fn decode_expecting(expected: SeriesOrder, body: &str) -> (Batch, SeriesOrder) {
        let mut i = Interner::default();
        let mut d = Decoder::expecting(&mut i, 42, expected);
        d.feed(body.as_bytes()).unwrap();
        d.finish_with_order(&Arc::from("n1")).unwrap()
    }

    #[test]
    fn the_previous_order_lends_its_names_and_changes_nothing_decoded() {
        let first = [("a", "p1", "app"), ("a", "p2", "app"), ("a", "p1", "proxy"), ("b", "p1", "app")];
        let (b1, order) = decode_expecting(SeriesOrder::default(), &body(&first, 1000));
        assert_eq!(order.len(), 4);
        // Pods in the order first seen, containers grouped under their pod.
        let pods: Vec<(&str, &str, usize)> =
            b1.pods.iter().map(|p| (&*p.namespace, &*p.name, p.containers.len())).collect();
        assert_eq!(pods, [("a", "p1", 2), ("a", "p2", 1), ("b", "p1", 1)]);

        // The same series again: every name is the previous response's allocation.
        let (b2, order2) = decode_expecting(order.clone(), &body(&first, 2000));
        assert_eq!(plain(&b2), plain(&decode_expecting(SeriesOrder::default(), &body(&first, 2000)).0));
        for (p1, p2) in b1.pods.iter().zip(&b2.pods) {
            assert!(Arc::ptr_eq(&p1.namespace, &p2.namespace) && Arc::ptr_eq(&p1.name, &p2.name));
            for ((c1, _), (c2, _)) in p1.containers.iter().zip(&p2.containers) {
                assert!(Arc::ptr_eq(c1, c2), "container name allocated again");
            }
        }

        // Whatever the next response holds — series gone, new, reordered, repeated — the batch is the
        // one a decoder without expectations makes.
        let changed: [&[(&str, &str, &str)]; 5] = [
            &[("a", "p2", "app"), ("b", "p1", "app")],
            &[("a", "p1", "app"), ("a", "p0", "app"), ("a", "p2", "app"), ("a", "p1", "proxy"), ("b", "p1", "app")],
            &[("b", "p1", "app"), ("a", "p1", "proxy"), ("a", "p2", "app"), ("a", "p1", "app")],
            &[("a", "p1", "app"), ("a", "p1", "app"), ("a", "p2", "app"), ("a", "p1", "proxy"), ("b", "p1", "app")],
            &[],
        ];
        for series in changed {
            let text = body(series, 3000);
            let (got, next) = decode_expecting(order2.clone(), &text);
            let (want, want_next) = decode_expecting(SeriesOrder::default(), &text);
            assert_eq!(plain(&got), plain(&want), "{series:?}");
            assert_eq!(next.0, want_next.0, "{series:?}");
        }

        // Families that list different series: the cursor of each finds its own.
        let mut text = body(&first, 4000);
        text.push_str("container_memory_working_set_bytes{container=\"new\",namespace=\"a\",pod=\"p2\"} 5 4000\n");
        text.push_str("container_cpu_usage_seconds_total{container=\"new\",namespace=\"a\",pod=\"p2\"} 5 4000\n");
        let (got, _) = decode_expecting(order2.clone(), &text);
        assert_eq!(plain(&got), plain(&decode_expecting(SeriesOrder::default(), &text).0));
        let p2 = got.pods.iter().find(|p| &*p.name == "p2").unwrap();
        assert_eq!(p2.containers.len(), 2);
        assert_eq!(p2.containers[1].1.cpu, 5_000_000_000);
    }
}
