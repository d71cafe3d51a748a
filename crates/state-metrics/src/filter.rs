//! Which families, label/annotation keys and namespaces an instance exports: the pure part of
//! `--metric-allowlist`, `--metric-denylist`, `--metric-opt-in-list`, `--metric-labels-allowlist`,
//! `--metric-annotations-allowlist`, `--namespaces` and `--namespaces-denylist` (ksm-flags.md §4).

use std::collections::BTreeMap;

use crate::family::KeyAllow;

/// The exact text upstream prints for any syntax error in a label/annotation allowlist value.
pub const ALLOWLIST_FORMAT_ERROR: &str = "invalid format, metric=[label1,label2,labeln...],metricN=[]";
/// The exact text for a key pattern with more than one `*`.
pub const WILDCARD_ERROR: &str = "only one wildcard per label allowed";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("metric allowlist and denylist are both set; they are mutually exclusive, only one of them can be set")]
    AllowAndDeny,
    #[error("invalid regex {pattern:?} in {list}: {message}")]
    BadRegex { list: &'static str, pattern: String, message: String },
    #[error("{}", ALLOWLIST_FORMAT_ERROR)]
    AllowlistFormat,
    #[error("{}", WILDCARD_ERROR)]
    Wildcard,
    #[error("resource {resource} does not exist. Available resources: {available}")]
    UnknownResource { resource: String, available: String },
    #[error("resource {0} can't be sharded by field selector spec.nodeName (only pods may be enabled)")]
    NodeShardingResource(String),
}

/// Splits list-flag values the way upstream's set/list flags do: every value may itself be a comma list;
/// entries are trimmed and empty ones dropped.
pub fn split_list<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.as_ref().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One allow/deny entry. Upstream compiles these as ECMAScript regexes, so look-arounds and
/// back-references are legal there; the `regex` crate (linear time) is tried first and `fancy-regex`
/// only takes the entries it refuses.
#[derive(Debug)]
enum NamePattern {
    Linear(regex::Regex),
    Backtracking(fancy_regex::Regex),
}

impl NamePattern {
    fn compile(list: &'static str, pattern: &str) -> Result<Self, FilterError> {
        match regex::Regex::new(pattern) {
            Ok(re) => Ok(NamePattern::Linear(re)),
            Err(linear_err) => match fancy_regex::Regex::new(pattern) {
                Ok(re) => Ok(NamePattern::Backtracking(re)),
                // The linear engine's message is the more helpful one unless only the fallback knows the
                // construct; report whichever engine got further.
                Err(fancy_err) => Err(FilterError::BadRegex {
                    list,
                    pattern: pattern.to_owned(),
                    message: match linear_err {
                        regex::Error::Syntax(_) => fancy_err.to_string(),
                        other => other.to_string(),
                    },
                }),
            },
        }
    }

    /// `None` when the backtracking engine gave up (upstream: evaluation error → family excluded).
    fn search(&self, name: &str) -> Option<bool> {
        match self {
            NamePattern::Linear(re) => Some(re.is_match(name)),
            NamePattern::Backtracking(re) => match re.is_match(name) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::error!(pattern = re.as_str(), family = name, error = %e, "evaluating metric filter regex");
                    None
                }
            },
        }
    }
}

#[derive(Debug)]
enum Mode {
    Allow,
    Deny,
}

/// Decides per family name whether it is generated at all (allow/deny AND opt-in).
#[derive(Debug)]
pub struct FamilyFilter {
    mode: Mode,
    patterns: Vec<NamePattern>,
    opt_in: Vec<regex::Regex>,
}

impl FamilyFilter {
    /// `allow`, `deny` and `opt_in` are raw flag values (comma lists allowed, entries trimmed, empty dropped).
    pub fn new<S: AsRef<str>>(allow: &[S], deny: &[S], opt_in: &[S]) -> Result<Self, FilterError> {
        let allow = split_list(allow);
        let deny = split_list(deny);
        if !allow.is_empty() && !deny.is_empty() {
            return Err(FilterError::AllowAndDeny);
        }
        let (mode, list, entries) = if allow.is_empty() {
            (Mode::Deny, "metric denylist", deny)
        } else {
            (Mode::Allow, "metric allowlist", allow)
        };
        let patterns = entries.iter().map(|p| NamePattern::compile(list, p)).collect::<Result<Vec<_>, _>>()?;
        // Upstream compiles the opt-in list with Go's RE2, which the `regex` crate matches closely.
        let opt_in = split_list(opt_in)
            .into_iter()
            .map(|p| {
                regex::Regex::new(&p).map_err(|e| FilterError::BadRegex {
                    list: "metric opt-in list",
                    pattern: p.clone(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FamilyFilter { mode, patterns, opt_in })
    }

    /// A filter that keeps every non-opt-in family.
    pub fn keep_all() -> Self {
        FamilyFilter { mode: Mode::Deny, patterns: Vec::new(), opt_in: Vec::new() }
    }

    /// Whether family `name` is generated; `opt_in` is the family's own opt-in flag.
    pub fn keep(&self, name: &str, opt_in: bool) -> bool {
        if opt_in && !self.opt_in.iter().any(|re| re.is_match(name)) {
            return false;
        }
        let mut hit = false;
        for p in &self.patterns {
            match p.search(name) {
                Some(true) => {
                    hit = true;
                    break;
                }
                Some(false) => {}
                None => return false,
            }
        }
        match self.mode {
            Mode::Allow => hit,
            Mode::Deny => !hit,
        }
    }
}

/// Parses a `--metric-labels-allowlist` / `--metric-annotations-allowlist` value
/// (`res1=[k1,k2],res2=[k3],*=[*]`). Text outside any `name=[...]` group without a syntax character is
/// silently ignored, as upstream does; a later group for the same resource replaces an earlier one.
pub fn parse_allowlist(s: &str) -> Result<BTreeMap<String, Vec<String>>, FilterError> {
    let chars: Vec<char> = s.chars().collect();
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = String::new();
    let mut word_start = 0usize;
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>().trim().to_owned();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        // At the very start upstream compares against the character itself, which makes a leading
        // comma look like a double comma.
        let previous = if i == 0 { c } else { chars[i - 1] };
        match c {
            '=' => {
                if previous == ',' || next != Some('[') {
                    return Err(FilterError::AllowlistFormat);
                }
                name = text(word_start, i);
                map.insert(name.clone(), Vec::new());
                word_start = i + 1;
            }
            '[' => {
                if previous != '=' {
                    return Err(FilterError::AllowlistFormat);
                }
                word_start = i + 1;
            }
            ']' => {
                if next.is_some_and(|n| n != ',') {
                    return Err(FilterError::AllowlistFormat);
                }
                if previous != '[' {
                    map.entry(name.clone()).or_default().push(text(word_start, i));
                }
                word_start = i + 1;
            }
            ',' => {
                if previous == ',' || next.is_none() || next == Some(']') {
                    return Err(FilterError::AllowlistFormat);
                }
                if previous != ']' {
                    map.entry(name.clone()).or_default().push(text(word_start, i));
                }
                word_start = i + 1;
            }
            _ => {}
        }
    }
    check_wildcards(&map)?;
    Ok(map)
}

/// Rejects any key pattern with more than one `*` (also applied to the `--config` map form).
pub fn check_wildcards(map: &BTreeMap<String, Vec<String>>) -> Result<(), FilterError> {
    if map.values().flatten().any(|k| k.matches('*').count() > 1) {
        return Err(FilterError::Wildcard);
    }
    Ok(())
}

/// Turns a parsed allowlist (flag or `--config` form) into the per-resource key filter for every
/// enabled resource. Resources without an entry get [`KeyAllow::Nothing`].
pub fn resolve_allowlist(
    map: &BTreeMap<String, Vec<String>>,
    enabled_resources: &[&str],
    known_resources: &[&str],
) -> Result<BTreeMap<String, KeyAllow>, FilterError> {
    check_wildcards(map)?;
    for res in map.keys() {
        if res != "*" && !known_resources.contains(&res.as_str()) {
            return Err(FilterError::UnknownResource { resource: res.clone(), available: known_resources.join(",") });
        }
    }
    let star = map.get("*");
    let mut out = BTreeMap::new();
    for &res in enabled_resources {
        let keys = star.or_else(|| map.get(res));
        out.insert(res.to_owned(), keys.map(|k| key_allow(k)).unwrap_or_default());
    }
    Ok(out)
}

/// The key filter for one resource's list (assumed already wildcard-checked).
pub fn key_allow(keys: &[String]) -> KeyAllow {
    match keys.first() {
        None => KeyAllow::Nothing,
        Some(first) if first == "*" => KeyAllow::All,
        Some(_) => {
            let mut exact = Vec::new();
            let mut patterns = Vec::new();
            for k in keys {
                match k.split_once('*') {
                    None => exact.push(k.clone()),
                    // A bare `*` after the first position means nothing upstream.
                    Some(("", "")) => {}
                    Some((prefix, suffix)) => {
                        let src = format!("^{}.*{}$", regex::escape(prefix), regex::escape(suffix));
                        // Escaped literals around `.*` always compile; a failure would mean an impossible
                        // size limit, and dropping the entry is the conservative answer.
                        match regex::Regex::new(&src) {
                            Ok(re) => patterns.push(re),
                            Err(e) => tracing::error!(pattern = %k, error = %e, "compiling allowlist key pattern"),
                        }
                    }
                }
            }
            KeyAllow::Keys { exact, patterns }
        }
    }
}

/// Which namespaces namespaced resources are watched in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamespaceScope {
    /// One cluster-wide store/reflector per resource.
    All,
    /// One store/reflector per listed namespace (duplicates removed, first occurrence kept, since a
    /// repeated namespace would otherwise export every series twice).
    Only(Vec<String>),
}

/// `--namespaces` raw values → scope; nothing (or only empty entries such as `""`) means all namespaces.
pub fn namespace_scope<S: AsRef<str>>(namespaces: &[S]) -> NamespaceScope {
    let mut out: Vec<String> = Vec::new();
    for ns in split_list(namespaces) {
        if !out.contains(&ns) {
            out.push(ns);
        }
    }
    if out.is_empty() { NamespaceScope::All } else { NamespaceScope::Only(out) }
}

/// Escapes a field-selector value the way apimachinery does (`\`, `,`, `=` are special).
fn escape_field_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `--namespaces-denylist` raw values → `metadata.namespace!=a,metadata.namespace!=b` ("" when empty).
pub fn namespace_denylist_selector<S: AsRef<str>>(denylist: &[S]) -> String {
    split_list(denylist)
        .iter()
        .map(|ns| format!("metadata.namespace!={}", escape_field_value(ns)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `--node` / `--track-unscheduled-pods` → `spec.nodeName=<node>` / `spec.nodeName=` ("" when neither);
/// tracking unscheduled pods wins over a node name.
pub fn node_selector(node: &str, track_unscheduled_pods: bool) -> String {
    if track_unscheduled_pods {
        "spec.nodeName=".to_owned()
    } else if node.is_empty() {
        String::new()
    } else {
        format!("spec.nodeName={}", escape_field_value(node))
    }
}

/// AND of field selectors in order, skipping empty ones.
pub fn merge_field_selectors(parts: &[&str]) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(",")
}

/// The field selector for LIST/WATCH of namespaced resources: namespace exclusions first, then the node
/// selector. Cluster-scoped resources ignore field selectors entirely.
pub fn field_selector<S: AsRef<str>>(namespaces_denylist: &[S], node: &str, track_unscheduled_pods: bool) -> String {
    let ns = namespace_denylist_selector(namespaces_denylist);
    let node = node_selector(node, track_unscheduled_pods);
    merge_field_selectors(&[&ns, &node])
}

/// `--node` and `--track-unscheduled-pods` shard by `spec.nodeName`, which only pods have: every other
/// enabled resource is an error. (Upstream only checks when `--node` is set; `--track-unscheduled-pods`
/// applies the same selector, so it is checked too.)
pub fn validate_node_sharding(node: &str, track_unscheduled_pods: bool, resources: &[&str]) -> Result<(), FilterError> {
    if node.is_empty() && !track_unscheduled_pods {
        return Ok(());
    }
    match resources.iter().find(|r| **r != "pods") {
        Some(r) => Err(FilterError::NodeShardingResource((*r).to_owned())),
        None => Ok(()),
    }
}
