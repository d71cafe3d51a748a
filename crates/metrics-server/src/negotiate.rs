//! Content negotiation as the generic apiserver does it: which encoding (JSON, YAML, protobuf) and which
//! conversion (`as=Table`, `as=PartialObjectMetadata[List]` in `meta.k8s.io/v1` or `v1beta1`) an
//! `Accept` header asks for, whether the output is indented, and whether it may be gzip-compressed.

/// The encodings this server writes, in the order the apiserver lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    Protobuf,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Yaml => "application/yaml",
            Format::Protobuf => PROTOBUF,
        }
    }
}

pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const FORMATS: [(&str, &str, Format); 3] = [
    ("application", "json", Format::Json),
    ("application", "yaml", Format::Yaml),
    ("application", "vnd.kubernetes.protobuf", Format::Protobuf),
];

/// The text of a 406: every media type this server can encode.
pub const NOT_ACCEPTABLE: &str = "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// What a `meta.k8s.io` conversion turns the answer into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Table,
    Partial,
    PartialList,
}

/// A conversion and the `meta.k8s.io` version it is asked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conversion {
    pub target: Target,
    pub v1beta1: bool,
}

impl Conversion {
    pub fn api_version(self) -> &'static str {
        if self.v1beta1 { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" }
    }
}

/// The negotiated output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub convert: Option<Conversion>,
    pub pretty: bool,
}

impl Output {
    pub const JSON: Output = Output { format: Format::Json, convert: None, pretty: false };
}

struct Clause<'a> {
    ty: &'a str,
    sub: &'a str,
    q: f32,
    params: Vec<(&'a str, &'a str)>,
}

/// Split an Accept header into clauses, best first: by q, then exact types before wildcards.
fn clauses(header: &str) -> Vec<Clause<'_>> {
    let mut out = Vec::new();
    for part in header.split(',') {
        let part = part.trim_matches(' ');
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or("");
        let mut sp = range.split('/');
        let ty = sp.next().unwrap_or("").trim_matches(' ');
        let sub = match (sp.next(), sp.next()) {
            (None, _) if ty == "*" => "*",
            (Some(s), None) => s.trim_matches(' '),
            _ => continue,
        };
        let mut c = Clause { ty, sub, q: 1.0, params: Vec::new() };
        for param in pieces {
            let Some((k, v)) = param.split_once('=') else { continue };
            let k = k.trim_matches(' ');
            if k == "q" {
                // An unparsable q counts as 0, as in Go.
                c.q = v.parse().unwrap_or(0.0);
            } else {
                c.params.push((k, v.trim_matches(' ')));
            }
        }
        out.push(c);
    }
    // Stable: among equals the header's order stands.
    out.sort_by(|a, b| {
        let rank = |c: &Clause<'_>| (c.ty == "*", c.sub == "*");
        b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal).then(rank(a).cmp(&rank(b)))
    });
    out
}

/// Negotiate the output for `accept` (the first Accept header, if any). `conversions` says whether the
/// endpoint serves objects that can be shown as a Table or as metadata only (discovery documents cannot).
/// `None` means nothing acceptable: answer 406.
pub fn negotiate(accept: Option<&str>, conversions: bool) -> Option<Output> {
    let Some(header) = accept.filter(|h| !h.is_empty()) else { return Some(Output::JSON) };
    for c in clauses(header) {
        for (ty, sub, format) in FORMATS {
            let matches = (c.ty == ty && (c.sub == sub || c.sub == "*")) || (c.ty == "*" && c.sub == "*");
            if !matches {
                continue;
            }
            if let Some(out) = accept_clause(&c, format, conversions) {
                return Some(out);
            }
        }
    }
    None
}

fn accept_clause(c: &Clause<'_>, format: Format, conversions: bool) -> Option<Output> {
    let (mut kind, mut group, mut version) = (None, None, None);
    let mut pretty = false;
    for &(k, v) in &c.params {
        match k {
            "as" => kind = Some(v),
            "g" => group = Some(v),
            "v" => version = Some(v),
            "pretty" => pretty = v == "1",
            // Streaming is only defined for watches, which this API refuses anyway.
            "stream" if !v.is_empty() && v != "watch" => return None,
            _ => {}
        }
    }
    let convert = match (kind, group, version) {
        (None, None, None) => None,
        (kind, group, version) => {
            if !conversions || group != Some("meta.k8s.io") {
                return None;
            }
            let v1beta1 = match version {
                Some("v1") => false,
                Some("v1beta1") => true,
                _ => return None,
            };
            let target = match kind {
                // Tables have no protobuf form.
                Some("Table") if format != Format::Protobuf => Target::Table,
                Some("PartialObjectMetadata") => Target::Partial,
                Some("PartialObjectMetadataList") => Target::PartialList,
                _ => return None,
            };
            Some(Conversion { target, v1beta1 })
        }
    };
    Some(Output { format, convert, pretty })
}

/// Indented output asked for outside the media type: `?pretty=<bool>`, or else a browser or command-line
/// HTTP tool's User-Agent (curl, Wget, Mozilla/5.0), as the apiserver decides.
pub fn pretty_requested(raw_query: Option<&str>, user_agent: Option<&str>) -> bool {
    if let Some(q) = raw_query.filter(|q| q.contains("pretty")) {
        let value = form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "pretty").map(|(_, v)| v.into_owned());
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            return matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True");
        }
    }
    let ua = user_agent.unwrap_or("");
    ua.starts_with("curl") || ua.starts_with("Wget") || ua.starts_with("Mozilla/5.0")
}

/// Whether the client takes gzip: one `gzip` token in Accept-Encoding (q-values are not read, as in Go).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|h| h.split(',').any(|t| t.trim() == "gzip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(format: Format) -> Option<Output> {
        Some(Output { format, convert: None, pretty: false })
    }

    #[test]
    fn plain_media_types() {
        assert_eq!(negotiate(None, true), out(Format::Json));
        assert_eq!(negotiate(Some("application/json"), true), out(Format::Json));
        assert_eq!(negotiate(Some("application/yaml"), true), out(Format::Yaml));
        assert_eq!(negotiate(Some("*/*"), true), out(Format::Json));
        assert_eq!(negotiate(Some("application/*"), true), out(Format::Json));
        // What client-go sends when protobuf is preferred (kubectl top, the HPA controller).
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf, */*"), true), out(Format::Protobuf));
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf,application/json"), true),
            out(Format::Protobuf)
        );
        // q-values reorder; a wildcard loses to an exact type of the same q.
        assert_eq!(
            negotiate(Some("application/json;q=0.5, application/vnd.kubernetes.protobuf"), true),
            out(Format::Protobuf)
        );
        assert_eq!(negotiate(Some("*/*, application/yaml"), true), out(Format::Yaml));
        assert_eq!(negotiate(Some("text/html, application/json"), true), out(Format::Json));
    }

    #[test]
    fn unsupported_is_none() {
        for h in ["text/html", "text/plain", "application/xml", "image/*", "application/cbor", " "] {
            assert_eq!(negotiate(Some(h), true), None, "{h}");
        }
    }

    #[test]
    fn conversions() {
        let table = Some(Conversion { target: Target::Table, v1beta1: false });
        let kubectl_get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(kubectl_get), true).unwrap().convert, table);
        // Discovery documents cannot be converted: the plain JSON clause wins.
        assert_eq!(negotiate(Some(kubectl_get), false), out(Format::Json));
        assert_eq!(negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io"), false), None);
        // No protobuf Table.
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"), true), None);
        let partial = negotiate(
            Some("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1beta1"),
            true,
        )
        .unwrap();
        assert_eq!(partial.format, Format::Protobuf);
        assert_eq!(partial.convert, Some(Conversion { target: Target::PartialList, v1beta1: true }));
        for bad in [
            "application/json;as=Table",
            "application/json;as=Table;g=meta.k8s.io;v=v2",
            "application/json;as=Foo;g=meta.k8s.io;v=v1",
            "application/json;as=Table;g=apps;v=v1",
            "application/json;g=meta.k8s.io;v=v1",
        ] {
            assert_eq!(negotiate(Some(bad), true), None, "{bad}");
        }
        assert!(negotiate(Some("application/json;pretty=1"), true).unwrap().pretty);
        assert!(negotiate(Some("application/json;stream=watch"), true).is_some());
        assert!(negotiate(Some("application/json;stream=other"), true).is_none());
    }

    #[test]
    fn pretty_and_gzip() {
        assert!(pretty_requested(Some("pretty=true"), None));
        assert!(pretty_requested(Some("a=b&pretty=1"), Some("kubectl/v1.36")));
        assert!(!pretty_requested(Some("pretty=false"), Some("curl/8.0")));
        assert!(!pretty_requested(Some("pretty=yes"), None));
        assert!(pretty_requested(Some("pretty="), Some("curl/8.0")));
        assert!(pretty_requested(None, Some("Mozilla/5.0 (X11)")));
        assert!(!pretty_requested(None, Some("kubectl/v1.36.0 (linux/amd64)")));
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip")));
        assert!(!accepts_gzip(Some("gzip;q=1")));
        assert!(!accepts_gzip(Some("br")));
        assert!(!accepts_gzip(None));
    }
}
