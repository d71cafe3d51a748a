//! The shape every resource file fills in: a table of metric families, each a pure function from a typed
//! object to samples. Rendering a family writes finished exposition lines into a byte buffer.

use std::collections::BTreeMap;

use crate::proj::Str;

/// The TYPE of a family. `Info` and `StateSet` exist only for custom resources and are written as `gauge`
/// in the text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Gauge,
    Counter,
    Info,
    StateSet,
}

impl MetricType {
    /// The word on the `# TYPE` line; `openmetrics` keeps `info`/`stateset`.
    pub fn type_word(self, openmetrics: bool) -> &'static str {
        match (self, openmetrics) {
            (MetricType::Gauge, _) => "gauge",
            (MetricType::Counter, _) => "counter",
            (MetricType::Info, true) => "info",
            (MetricType::StateSet, true) => "stateset",
            (MetricType::Info | MetricType::StateSet, false) => "gauge",
        }
    }
}

/// Upstream's stability level: STABLE families get a `[STABLE] ` prefix on their HELP text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    Stable,
    Alpha,
}

/// Which Kubernetes label (or annotation) keys become `label_*` (`annotation_*`) labels for a resource,
/// as set by `--metric-labels-allowlist` / `--metric-annotations-allowlist`.
#[derive(Clone, Debug, Default)]
pub enum KeyAllow {
    /// No entry for this resource: the `_labels`/`_annotations` family emits no sample.
    #[default]
    Nothing,
    /// First entry is `*`: every key.
    All,
    /// Exact keys and single-`*` patterns (anchored).
    Keys { exact: Vec<String>, patterns: Vec<regex::Regex> },
}

impl KeyAllow {
    pub fn is_nothing(&self) -> bool {
        matches!(self, KeyAllow::Nothing)
    }

    pub fn allows(&self, key: &str) -> bool {
        match self {
            KeyAllow::Nothing => false,
            KeyAllow::All => true,
            KeyAllow::Keys { exact, patterns } => {
                exact.iter().any(|k| k == key) || patterns.iter().any(|p| p.is_match(key))
            }
        }
    }

    /// The selected entries of `map`, sorted by original key (BTreeMap order).
    pub fn select<'m>(&self, map: Option<&'m BTreeMap<Str, Str>>) -> Vec<(&'m str, &'m str)> {
        match map {
            Some(map) if !self.is_nothing() => {
                map.iter().filter(|(k, _)| self.allows(k)).map(|(k, v)| (k.as_str(), v.as_str())).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Per-resource settings a family may need while rendering.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub labels: KeyAllow,
    pub annotations: KeyAllow,
}

/// One row of a resource's table.
pub struct Family<T> {
    pub name: &'static str,
    /// HELP text without the `[STABLE] ` / deprecation prefixes (they are added from the fields below).
    pub help: &'static str,
    pub kind: MetricType,
    pub stability: Stability,
    pub deprecated_since: Option<&'static str>,
    /// Opt-in families are off unless `--metric-opt-in-list` names them.
    pub opt_in: bool,
    pub generate: fn(&T, &Ctx, &mut Samples<'_>),
}

impl<T> Family<T> {
    /// A gauge row: not deprecated, not opt-in.
    pub const fn gauge(
        name: &'static str,
        help: &'static str,
        stability: Stability,
        generate: fn(&T, &Ctx, &mut Samples<'_>),
    ) -> Self {
        Family { name, help, kind: MetricType::Gauge, stability, deprecated_since: None, opt_in: false, generate }
    }

    /// A counter row.
    pub const fn counter(
        name: &'static str,
        help: &'static str,
        stability: Stability,
        generate: fn(&T, &Ctx, &mut Samples<'_>),
    ) -> Self {
        Family { kind: MetricType::Counter, ..Self::gauge(name, help, stability, generate) }
    }

    /// Off unless `--metric-opt-in-list` names it.
    pub const fn opt_in(self) -> Self {
        Family { opt_in: true, ..self }
    }

    /// Deprecated since upstream version `since` (its HELP text says so).
    pub const fn deprecated(self, since: &'static str) -> Self {
        Family { deprecated_since: Some(since), ..self }
    }

    /// The exact text after `# HELP <name> `.
    pub fn full_help(&self) -> String {
        let mut help = String::new();
        if self.stability == Stability::Stable {
            help.push_str("[STABLE] ");
        }
        if let Some(v) = self.deprecated_since {
            help.push_str("(Deprecated since ");
            help.push_str(v);
            help.push_str(") ");
        }
        help.push_str(self.help);
        help
    }

    /// `# HELP` and `# TYPE` lines for this family.
    pub fn write_header(&self, out: &mut Vec<u8>, openmetrics: bool) {
        write_header(out, self.name, &self.full_help(), self.kind, openmetrics);
    }
}

pub fn write_header(out: &mut Vec<u8>, name: &str, full_help: &str, kind: MetricType, openmetrics: bool) {
    exposition::write_header(out, name, full_help, kind.type_word(openmetrics));
}

/// Writes one family's samples for one object: `name{identity...,labels...} value\n` per sample.
pub struct Samples<'a> {
    out: &'a mut Vec<u8>,
    name: &'a str,
    /// The identity labels as text, `k="v",k2="v2"` ([`identity_text`]); empty for none.
    identity: &'a [u8],
    /// Where to note the end of every line written, if anywhere.
    line_ends: Option<&'a mut Vec<u32>>,
}

/// An object's identity labels as they appear in every one of its lines, `k="v",k2="v2"`: escaped once
/// per object instead of once per line (a pod's ~60 lines share them).
pub fn identity_text(identity: &[(&'static str, Str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(identity.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    exposition::write_label_pairs(&mut out, identity.iter().map(|(k, v)| (k, v)));
    out
}

impl<'a> Samples<'a> {
    /// `identity` is [`identity_text`]'s rendering of the object's identity labels.
    pub fn new(out: &'a mut Vec<u8>, name: &'a str, identity: &'a [u8]) -> Self {
        Samples { out, name, identity, line_ends: None }
    }

    /// Like [`Samples::new`], noting where each line ends in `line_ends`.
    fn noting_lines(out: &'a mut Vec<u8>, name: &'a str, identity: &'a [u8], line_ends: &'a mut Vec<u32>) -> Self {
        Samples { out, name, identity, line_ends: Some(line_ends) }
    }

    /// One sample with the object's identity labels followed by `labels`, in the order given.
    pub fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        self.push_iter(labels.iter().copied(), value);
    }

    /// Like [`Samples::push`] for labels whose names are computed (e.g. `label_app`).
    pub fn push_owned(&mut self, labels: &[(String, String)], value: f64) {
        self.push_iter(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())), value);
    }

    fn push_iter<'l>(&mut self, labels: impl Iterator<Item = (&'l str, &'l str)>, value: f64) {
        exposition::write_sample_after(self.out, self.name, self.identity, labels, value);
        if let Some(ends) = &mut self.line_ends {
            ends.push(u32::try_from(self.out.len()).unwrap_or(u32::MAX));
        }
    }
}

/// The rendered text of one object: every enabled family's lines in one buffer, `ends[i]` marking where
/// family `i` stops (family `i` starts where `i-1` ends).
///
/// When [`render`] wrote it, the shape of its lines is known too: every line starts with its family's
/// name followed by the same `prefix` bytes (`{` and the identity labels, or nothing for an object
/// without identity), and where each line stops follows the families' ends in `ends`. The store takes
/// the lines apart by that instead of reading them again (scanning every line was a twelfth of a start's
/// CPU). The line ends share the families' buffer: one allocation per object, as before they were noted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub buf: Vec<u8>,
    /// `families` family ends, then, when `prefix` is known, the line ends.
    pub(crate) ends: Vec<u32>,
    pub(crate) families: usize,
    /// Length of the prefix every line has after its family's name, when known.
    pub(crate) prefix: Option<usize>,
}

impl Rendered {
    pub fn family(&self, i: usize) -> &[u8] {
        let ends = self.family_ends();
        let start = if i == 0 { 0 } else { ends[i - 1] as usize };
        &self.buf[start..ends[i] as usize]
    }

    /// Where each family's text stops in `buf`.
    pub fn family_ends(&self) -> &[u32] {
        &self.ends[..self.families]
    }

    /// How many families it has text for.
    pub fn family_count(&self) -> usize {
        self.families
    }

    /// Marks the end of the family whose lines were just written to `buf` (the lines' shape is then
    /// unknown).
    pub fn end_family(&mut self) {
        self.forget_lines();
        self.ends.push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
        self.families += 1;
    }

    /// Appends `other`'s families after these.
    pub fn append(&mut self, other: &Rendered) {
        self.forget_lines();
        let base = self.buf.len();
        self.buf.extend_from_slice(&other.buf);
        let ends = other.ends[..other.families].iter();
        self.ends.extend(ends.map(|e| u32::try_from(base + *e as usize).unwrap_or(u32::MAX)));
        self.families += other.families;
    }

    fn forget_lines(&mut self) {
        self.ends.truncate(self.families);
        self.prefix = None;
    }

    /// The prefix length and line ends, when known.
    pub(crate) fn lines(&self) -> Option<(usize, &[u32])> {
        Some((self.prefix?, &self.ends[self.families..]))
    }

    /// A rendering of text from elsewhere, one piece per family (its lines' shape unknown).
    pub fn of_text<T: AsRef<[u8]>>(families: impl IntoIterator<Item = T>) -> Rendered {
        let mut r = Rendered::default();
        for f in families {
            r.buf.extend_from_slice(f.as_ref());
            r.end_family();
        }
        r
    }

    /// Every family's text, in order.
    pub fn families(&self) -> impl Iterator<Item = &[u8]> + Clone {
        (0..self.families).map(|i| self.family(i))
    }
}

/// Renders the families of `families` selected by `enabled` (indexes into the table) for one object.
pub fn render<T>(
    obj: &T,
    identity: &[(&'static str, Str)],
    families: &[Family<T>],
    enabled: &[usize],
    ctx: &Ctx,
) -> Rendered {
    // Most lines are 100-200 bytes; sizing for that saves the buffer a string of regrowths.
    let mut buf = Vec::with_capacity(enabled.len() * 160);
    // The families' ends first, then the line ends (a pod has about one and a half lines a family).
    let mut ends = Vec::with_capacity(enabled.len() * 5 / 2);
    ends.resize(enabled.len(), 0);
    let identity = identity_text(identity);
    for (slot, &i) in enabled.iter().enumerate() {
        let fam = &families[i];
        let mut s = Samples::noting_lines(&mut buf, fam.name, &identity, &mut ends);
        (fam.generate)(obj, ctx, &mut s);
        ends[slot] = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    }
    // What `exposition::write_sample_after` puts after the name of every line.
    let prefix = if identity.is_empty() { 0 } else { 1 + identity.len() };
    Rendered { buf, ends, families: enabled.len(), prefix: Some(prefix) }
}
