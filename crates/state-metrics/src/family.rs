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
    /// In store form ([`Form::Store`]): write only each line's rest and note where it ends here.
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

    /// Like [`Samples::new`] for the store form: only each line's rest, its end noted in `line_ends`.
    fn rests(out: &'a mut Vec<u8>, name: &'a str, identity: &'a [u8], line_ends: &'a mut Vec<u32>) -> Self {
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
        match &mut self.line_ends {
            None => exposition::write_sample_after(self.out, self.name, self.identity, labels, value),
            Some(ends) => {
                exposition::write_sample_rest(self.out, !self.identity.is_empty(), labels, value);
                ends.push(u32::try_from(self.out.len()).unwrap_or(u32::MAX));
            }
        }
    }
}

/// The rendered text of one object: every enabled family's lines in one buffer, `ends[i]` marking where
/// family `i` stops (family `i` starts where `i-1` ends).
///
/// In store form ([`Form::Store`]) `buf` holds what the store keeps: the prefix every line has after
/// its family's name (`{` and the identity labels, or nothing for an object without identity), then
/// only each line's rest, and where each line stops follows the families' ends in `ends`. Writing the
/// name and identity into every line only for the store to find and drop them again cost the pods'
/// start a sixth of its CPU (BENCHMARKS.md, ninth round).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub buf: Vec<u8>,
    /// `families` family ends, then, in store form, the line ends.
    pub(crate) ends: Vec<u32>,
    pub(crate) families: usize,
    /// In store form: the length of the prefix at the start of `buf`.
    pub(crate) prefix: Option<usize>,
}

impl Rendered {
    /// Family `i`'s text (in store form, its lines' rests).
    pub fn family(&self, i: usize) -> &[u8] {
        let ends = self.family_ends();
        let start = if i == 0 { self.prefix.unwrap_or(0) } else { ends[i - 1] as usize };
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

    /// Marks the end of the family whose lines were just written to `buf` (a rendering in store form
    /// must not get more families).
    pub fn end_family(&mut self) {
        debug_assert!(self.prefix.is_none(), "text after a rendering in store form");
        self.forget_lines();
        self.ends.push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
        self.families += 1;
    }

    /// Appends `other`'s families after these (both text, not store form).
    pub fn append(&mut self, other: &Rendered) {
        debug_assert!(self.prefix.is_none() && other.prefix.is_none(), "appending a rendering in store form");
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

    /// In store form: the prefix's length and the line ends.
    pub(crate) fn lines(&self) -> Option<(usize, &[u32])> {
        Some((self.prefix?, &self.ends[self.families..]))
    }

    /// The same rendering as exposition text; `names[i]` is family `i`'s name, which the store form
    /// leaves out.
    pub fn text_form(&self, names: &[impl AsRef<[u8]>]) -> Rendered {
        let Some((prefix, line_ends)) = self.lines() else { return self.clone() };
        let mut out = Rendered { buf: Vec::with_capacity(self.buf.len() * 4), ..Rendered::default() };
        let (mut from, mut lines) = (prefix, line_ends.iter());
        for (i, &end) in self.family_ends().iter().enumerate() {
            let name = names.get(i).map_or(&b""[..], |n| n.as_ref());
            while from < end as usize {
                let Some(&e) = lines.next() else { break };
                out.buf.extend_from_slice(name);
                out.buf.extend_from_slice(&self.buf[..prefix]);
                out.buf.extend_from_slice(&self.buf[from..e as usize]);
                from = e as usize;
            }
            out.end_family();
        }
        out
    }

    /// The exposition text it stands for (see [`Rendered::text_form`]).
    pub fn to_text(&self, names: &[impl AsRef<[u8]>]) -> Vec<u8> {
        self.text_form(names).buf
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

/// The form [`render`] writes an object's lines in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Exposition text, every line whole.
    Text,
    /// What the store keeps (see [`Rendered`]): the prefix the lines share after their names once,
    /// then only each line's rest.
    Store,
}

/// Renders the families of `families` selected by `enabled` (indexes into the table) for one object.
pub fn render<T>(
    obj: &T,
    identity: &[(&'static str, Str)],
    families: &[Family<T>],
    enabled: &[usize],
    ctx: &Ctx,
    form: Form,
) -> Rendered {
    let identity = identity_text(identity);
    let store = form == Form::Store;
    // Sized for the usual: whole lines are 100-200 bytes, a line's rest 20-60, and there are about one
    // and a half lines a family; that saves the buffers a string of regrowths.
    let (per_family, ends_per_family) = if store { (64, 5) } else { (160, 2) };
    let mut buf = Vec::with_capacity(identity.len() + 1 + enabled.len() * per_family);
    if store && !identity.is_empty() {
        buf.push(b'{');
        buf.extend_from_slice(&identity);
    }
    let prefix = buf.len();
    // The families' ends first, then, in store form, the line ends.
    let mut ends = Vec::with_capacity(enabled.len() * ends_per_family / 2);
    ends.resize(enabled.len(), 0);
    for (slot, &i) in enabled.iter().enumerate() {
        let fam = &families[i];
        let mut s = if store {
            Samples::rests(&mut buf, fam.name, &identity, &mut ends)
        } else {
            Samples::new(&mut buf, fam.name, &identity)
        };
        (fam.generate)(obj, ctx, &mut s);
        ends[slot] = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    }
    Rendered { buf, ends, families: enabled.len(), prefix: store.then_some(prefix) }
}
