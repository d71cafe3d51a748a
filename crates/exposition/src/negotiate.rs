//! `Accept` / `Accept-Encoding` handling of the main `/metrics` endpoint (ksm-format.md §2).
//!
//! kube-state-metrics calls prometheus/common `expfmt.NegotiateIncludingOpenMetrics` (v0.70), which is
//! `NegotiateAccept(h, OpenMetrics 1.0.0, OpenMetrics 0.0.1, proto delimited, proto text, proto
//! compact-text, text 0.0.4)`:
//! * the `Accept` header is split with munnerz/goautoneg (`,` then `;`, spaces trimmed, `q` parsed
//!   as a 32-bit float, entries without a `/` dropped unless they are `*`) and sorted by q;
//! * entries are walked in that order; an `escaping=` parameter with a known value (`allow-utf-8`,
//!   `underscores`, `dots`, `values`) replaces the escaping scheme for this and later entries;
//! * the first entry matching one of the formats wins (type and subtype equal or `*`; every
//!   non-charset parameter of the format equal, with a missing `version` read as `0.0.1` for
//!   OpenMetrics and `0.0.4` for text/plain);
//! * nothing matches → text.
//!
//! The result carries `; escaping=<scheme>` (default `underscores`, prometheus/common's
//! `NameEscapingScheme`). kube-state-metrics then replaces anything that is not OpenMetrics (text or
//! any protobuf flavour) by the plain `text/plain; version=0.0.4; charset=utf-8`, without escaping,
//! and sends OpenMetrics results as negotiated, e.g.
//! `application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores`.

/// The `Content-Type` kube-state-metrics sends for every non-OpenMetrics response.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const OPENMETRICS_1_0_0: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const OPENMETRICS_0_0_1: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";

/// The negotiated response format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4 (also the answer to protobuf requests); send [`TEXT_CONTENT_TYPE`].
    Text,
    /// OpenMetrics: keep `info`/`stateset` TYPE lines and end with `# EOF`. Holds the exact
    /// `Content-Type` to send.
    OpenMetrics(String),
}

impl Format {
    /// The `Content-Type` header value for this format.
    pub fn content_type(&self) -> &str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics(ct) => ct,
        }
    }

    pub fn is_open_metrics(&self) -> bool {
        matches!(self, Format::OpenMetrics(_))
    }
}

/// The format kube-state-metrics answers with for this `Accept` header (`None`: no header).
pub fn negotiate(accept: Option<&str>) -> Format {
    let mut escaping = "underscores";
    for entry in parse_accept(accept.unwrap_or("")) {
        if let Some(scheme) = entry.param("escaping")
            && matches!(scheme, "allow-utf-8" | "underscores" | "dots" | "values")
        {
            escaping = scheme;
        }
        if let Some(offered) = OFFERED.iter().find(|o| o.matches(&entry)) {
            return match offered.open_metrics {
                Some(ct) => Format::OpenMetrics(format!("{ct}; escaping={escaping}")),
                None => Format::Text,
            };
        }
    }
    Format::Text
}

/// Whether `Accept-Encoding` allows gzip: some comma-separated token, trimmed, is `gzip` or starts
/// with `gzip;` (kube-state-metrics' own check; no q-value handling, so `gzip;q=0` still counts).
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|h| h.split(',').map(str::trim).any(|t| t == "gzip" || t.starts_with("gzip;")))
}

/// One format in `NegotiateIncludingOpenMetrics`' preference order, as goautoneg parses its
/// content type (charset is ignored by the matcher, so it is left out).
struct Offered {
    kind: &'static str,
    sub: &'static str,
    params: &'static [(&'static str, &'static str)],
    /// Content type when this is an OpenMetrics format; `None`: answered as text.
    open_metrics: Option<&'static str>,
}

const PROTO: &str = "io.prometheus.client.MetricFamily";

static OFFERED: [Offered; 6] = [
    Offered {
        kind: "application",
        sub: "openmetrics-text",
        params: &[("version", "1.0.0")],
        open_metrics: Some(OPENMETRICS_1_0_0),
    },
    Offered {
        kind: "application",
        sub: "openmetrics-text",
        params: &[("version", "0.0.1")],
        open_metrics: Some(OPENMETRICS_0_0_1),
    },
    Offered {
        kind: "application",
        sub: "vnd.google.protobuf",
        params: &[("proto", PROTO), ("encoding", "delimited")],
        open_metrics: None,
    },
    Offered {
        kind: "application",
        sub: "vnd.google.protobuf",
        params: &[("proto", PROTO), ("encoding", "text")],
        open_metrics: None,
    },
    Offered {
        kind: "application",
        sub: "vnd.google.protobuf",
        params: &[("proto", PROTO), ("encoding", "compact-text")],
        open_metrics: None,
    },
    Offered { kind: "text", sub: "plain", params: &[("version", "0.0.4")], open_metrics: None },
];

impl Offered {
    fn matches(&self, ac: &Accept<'_>) -> bool {
        if ac.kind != "*" && ac.kind != self.kind {
            return false;
        }
        if ac.sub != "*" && ac.sub != self.sub {
            return false;
        }
        let mut version = ac.param("version").unwrap_or("");
        if version.is_empty() {
            if ac.kind == "application" && ac.sub == "openmetrics-text" {
                version = "0.0.1";
            } else if ac.kind == "text" && ac.sub == "plain" {
                version = "0.0.4";
            }
        }
        self.params.iter().all(|&(k, v)| {
            let got = if k == "version" { version } else { ac.param(k).unwrap_or("") };
            got == v
        })
    }
}

/// One media range of an `Accept` header, as goautoneg represents it.
struct Accept<'a> {
    kind: &'a str,
    sub: &'a str,
    q: f64,
    /// Later duplicates of a key win, like assignments into a Go map.
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> Accept<'a> {
    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().rev().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }
}

/// Go's `strings.Trim(s, " ")`: spaces only, not tabs.
fn trim_spaces(s: &str) -> &str {
    s.trim_matches(' ')
}

fn parse_accept(header: &str) -> Vec<Accept<'_>> {
    let mut out = Vec::new();
    for part in header.split(',') {
        let mut pieces = trim_spaces(part).split(';');
        let media = pieces.next().unwrap_or("");
        let halves: Vec<&str> = media.split('/').collect();
        let kind = trim_spaces(halves[0]);
        let sub = match halves.len() {
            1 if kind == "*" => "*",
            2 => trim_spaces(halves[1]),
            _ => continue,
        };
        let mut a = Accept { kind, sub, q: 1.0, params: Vec::new() };
        for param in pieces {
            let Some((k, v)) = param.split_once('=') else { continue };
            let k = trim_spaces(k);
            if k == "q" {
                // Go: strconv.ParseFloat(v, 32) with the error ignored, so junk reads as 0.
                a.q = v.parse::<f32>().map(f64::from).unwrap_or(0.0);
            } else {
                a.params.push((k, trim_spaces(v)));
            }
        }
        out.push(a);
    }
    sort_like_goautoneg(&mut out);
    out
}

/// goautoneg's ordering: "i before j" if q is higher, else if only j has a `*` type, else if only
/// j has a `*` subtype. That relation is not a strict weak order, so the result depends on the
/// algorithm: Go's `sort.Sort` runs insertion sort on up to 12 elements, reproduced here exactly.
/// Longer headers (never sent by real scrapers) get a stable sort on the consistent part.
fn sort_like_goautoneg(v: &mut [Accept<'_>]) {
    let less = |a: &Accept<'_>, b: &Accept<'_>| {
        a.q > b.q || (a.kind != "*" && b.kind == "*") || (a.sub != "*" && b.sub == "*")
    };
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        v.sort_by(|a, b| {
            b.q.partial_cmp(&a.q)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then((a.kind == "*").cmp(&(b.kind == "*")))
                .then((a.sub == "*").cmp(&(b.sub == "*")))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn om(version: &str, escaping: &str) -> Format {
        Format::OpenMetrics(format!(
            "application/openmetrics-text; version={version}; charset=utf-8; escaping={escaping}"
        ))
    }

    #[test]
    fn no_or_empty_or_browser_accept_gives_text() {
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("")), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            negotiate(Some("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8")),
            Format::Text
        );
        assert_eq!(negotiate(Some("text/plain")), Format::Text);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        assert_eq!(Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    }

    #[test]
    fn prometheus_3_default_accept_header_gets_openmetrics_with_utf8_escaping() {
        // scrape_protocols default [OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0,
        // PrometheusText0.0.4], escaping scheme allow-utf-8 (UTF-8 name validation, the 3.x default).
        let h = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                 application/openmetrics-text;version=0.0.1;q=0.5,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
                 text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        let f = negotiate(Some(h));
        assert_eq!(f, om("1.0.0", "allow-utf-8"));
        assert!(f.is_open_metrics());
        // With legacy name validation Prometheus 3 asks for underscores.
        let legacy = h.replace("allow-utf-8", "underscores");
        assert_eq!(negotiate(Some(&legacy)), om("1.0.0", "underscores"));
    }

    #[test]
    fn prometheus_2_default_accept_headers_get_openmetrics_1_0_0() {
        // 2.49 .. 2.55: four known protocols, default [OM 1.0.0, OM 0.0.1, text 0.0.4].
        let h = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,\
                 text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "underscores"));
        // Before 2.49.
        let old = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                   text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(old)), om("1.0.0", "underscores"));
        // 2.5 .. 2.x with only OpenMetrics 0.0.1 known.
        let older = "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(older)), om("0.0.1", "underscores"));
    }

    #[test]
    fn protobuf_first_accept_headers_fall_back_to_text() {
        // Native histograms enabled: PrometheusProto is listed first (kube-state-metrics #3010).
        let p3 = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
                  application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                  application/openmetrics-text;version=0.0.1;q=0.4,\
                  text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(negotiate(Some(p3)), Format::Text);
        let p2 = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,\
                  application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,\
                  text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(negotiate(Some(p2)), Format::Text);
        for enc in ["text", "compact-text"] {
            let h = format!("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding={enc}");
            assert_eq!(negotiate(Some(&h)), Format::Text);
        }
    }

    #[test]
    fn unsupported_versions_are_skipped_for_the_next_entry() {
        // text/plain 1.0.0 is not among KSM's formats; OpenMetrics further down is.
        let h = "text/plain;version=1.0.0;q=0.9,application/openmetrics-text;version=0.0.1;q=0.5";
        assert_eq!(negotiate(Some(h)), om("0.0.1", "underscores"));
        assert_eq!(negotiate(Some("application/openmetrics-text;version=2.0.0")), Format::Text);
        assert_eq!(negotiate(Some("application/openmetrics-text")), om("0.0.1", "underscores"));
        // Protobuf without the proto parameter is not protobuf.
        assert_eq!(
            negotiate(Some("application/vnd.google.protobuf;encoding=delimited,application/openmetrics-text;q=0.1")),
            om("0.0.1", "underscores")
        );
    }

    #[test]
    fn q_values_order_the_entries_not_their_position() {
        let h = "text/plain;version=0.0.4;q=0.2,application/openmetrics-text;version=1.0.0;q=0.8";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "underscores"));
        let h = "application/openmetrics-text;version=1.0.0;q=0.2,text/plain;q=0.8";
        assert_eq!(negotiate(Some(h)), Format::Text);
        // Spaces around parameters are trimmed; an unparsable q counts as 0.
        let h = "text/plain ; q=junk, application/openmetrics-text ; version = 1.0.0 ; q=0.1";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "underscores"));
        // The q value itself is not trimmed, except at the ends of the whole entry.
        let h = "text/plain;q= 0.9,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "underscores"));
        let h = "text/plain;q=0.9 ,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(negotiate(Some(h)), Format::Text);
    }

    #[test]
    fn escaping_parameter_is_sticky_and_validated() {
        // Seen on an earlier (unmatched) entry, it still applies to the chosen one.
        let h = "text/plain;version=1.0.0;escaping=dots;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "dots"));
        let h = "application/openmetrics-text;version=1.0.0;escaping=bogus";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "underscores"));
        let h = "application/openmetrics-text;version=1.0.0;escaping=values";
        assert_eq!(negotiate(Some(h)), om("1.0.0", "values"));
        // Text responses never carry an escaping parameter.
        assert_eq!(negotiate(Some("text/plain;escaping=allow-utf-8")).content_type(), TEXT_CONTENT_TYPE);
    }

    #[test]
    fn wildcards_match_only_when_parameters_agree() {
        assert_eq!(negotiate(Some("application/*")), Format::Text);
        assert_eq!(negotiate(Some("application/*;version=1.0.0")), om("1.0.0", "underscores"));
        assert_eq!(negotiate(Some("*/*;version=0.0.1")), om("0.0.1", "underscores"));
        assert_eq!(negotiate(Some("text/*")), Format::Text);
        // Garbage media ranges are dropped.
        assert_eq!(negotiate(Some("nonsense, a/b/c, application/openmetrics-text")), om("0.0.1", "underscores"));
    }

    #[test]
    fn goautoneg_sort_quirk_is_reproduced() {
        // Insertion sort with goautoneg's relation moves the concrete type ahead of `*/*` even though
        // its q is lower: `*/*;version=1.0.0` (OpenMetrics) loses to text/plain.
        let h = "*/*;version=1.0.0;q=0.9,text/plain;q=0.1";
        assert_eq!(negotiate(Some(h)), Format::Text);
    }

    #[test]
    fn gzip_token_detection() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip")));
        assert!(accepts_gzip(Some("br,  gzip;q=0.5 ")));
        assert!(accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("x-gzip")));
        assert!(!accepts_gzip(Some("gzipped")));
        assert!(!accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("")));
        assert!(!accepts_gzip(None));
    }
}
