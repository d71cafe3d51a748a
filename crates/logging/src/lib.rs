//! Logging for every `kubestate` subcommand, set up in one place: events go to stderr as text (plain when
//! stderr is not a terminal, so `kubectl logs` and files carry no colour codes) or, with
//! `--logging-format=json`, as one JSON object per line carrying the fields of Kubernetes' own JSON log
//! format (component-base): `ts` (Unix time in milliseconds, fractional), `caller` (`dir/file:line`),
//! `msg`, `v` (the klog verbosity of an informational line; absent on errors), `err` (an event's `error`
//! field), then the event's other fields by name. Also what every subcommand's log lines and exit share:
//! an error's causes on one line, and the wait for the signal that stops the process.

use std::fmt::{self, Write as _};
use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The values `--logging-format` takes, as upstream's component-base spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unsupported log format {other:?} (valid: text, json)")),
        }
    }
}

/// klog's `-v` mapped onto tracing levels: 0–1 info, 2–4 debug, 5 and up trace.
pub fn level_for_verbosity(v: u8) -> Level {
    match v {
        0 | 1 => Level::INFO,
        2..=4 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// The klog verbosity a line of `level` is written at (the `v` of JSON lines).
fn verbosity_of(level: Level) -> u8 {
    match level {
        Level::TRACE => 5,
        Level::DEBUG => 2,
        _ => 0,
    }
}

/// Installs the process-wide subscriber writing to stderr. `default_directives` is the `EnvFilter` used
/// when `RUST_LOG` is unset or invalid. A second call (tests, the demo's embedded servers) is a no-op.
pub fn init(format: LogFormat, default_directives: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directives));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.event_format(JsonLines::default()).try_init(),
    };
}

/// Logs one warning per flag that is accepted for compatibility but has no effect, with the reason.
pub fn warn_ignored_flags<'a>(flags: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (flag, why) in flags {
        tracing::warn!(flag, "flag accepted for compatibility and ignored: {why}");
    }
}

/// An error and its causes on one line ("client error (Connect): tcp connect error: Connection refused"),
/// leaving out a cause whose text the line already holds (many wrappers repeat their source's message).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cur = c.source();
    }
    line
}

/// Completes on SIGINT or SIGTERM (how Kubernetes stops a pod); on Ctrl-C alone where SIGTERM cannot be
/// watched.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// component-base's JSON line format for tracing events.
#[derive(Default)]
pub struct JsonLines {
    /// Fixed clock for tests (milliseconds); the wall clock when `None`.
    now_millis: Option<f64>,
}

impl JsonLines {
    /// A formatter that stamps every line with `ts` = `millis` (tests).
    pub fn at(millis: f64) -> Self {
        JsonLines { now_millis: Some(millis) }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let ts = self.now_millis.unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        });
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(128);
        let _ = write!(line, "{{\"ts\":{}", json_number(ts));
        if let (Some(file), Some(n)) = (meta.file(), meta.line()) {
            line.push_str(",\"caller\":");
            push_json_str(&mut line, &format!("{}:{n}", short_caller(file)));
        }
        line.push_str(",\"msg\":");
        push_json_str(&mut line, &fields.message);
        if *meta.level() != Level::ERROR {
            let _ = write!(line, ",\"v\":{}", verbosity_of(*meta.level()));
        }
        for (k, v) in &fields.pairs {
            line.push(',');
            push_json_str(&mut line, k);
            line.push(':');
            line.push_str(v);
        }
        line.push('}');
        writeln!(w, "{line}")
    }
}

/// zap's short caller: the file and its directory (`src/engine.rs`), with the crate's directory in
/// front when that directory is `src` (`state-metrics/src/engine.rs`), so two crates' files differ.
fn short_caller(file: &str) -> String {
    let parts: Vec<&str> = file.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let keep = match parts.len() {
        n if n >= 3 && parts[n - 2] == "src" => 3,
        n => n.min(2),
    };
    parts[parts.len() - keep..].join("/")
}

/// A float as a JSON number (JSON has no NaN or infinity; those become `null`).
fn json_number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { "null".to_owned() }
}

fn push_json_str(out: &mut String, s: &str) {
    // serde_json's string escaping cannot fail on a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// An event's message and its other fields as JSON values, in the order they were recorded; an
/// `error` field is written under upstream's key `err`.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Fields {
    fn key(field: &Field) -> String {
        match field.name() {
            "error" => "err".to_owned(),
            // `r#type = ...` fields keep their raw-identifier prefix in tracing.
            name => name.strip_prefix("r#").unwrap_or(name).to_owned(),
        }
    }

    fn push_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            let mut v = String::new();
            push_json_str(&mut v, value);
            self.pairs.push((Self::key(field), v));
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push_str(field, &format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push_str(field, value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push_str(field, &value.to_string());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pairs.push((Self::key(field), value.to_string()));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pairs.push((Self::key(field), value.to_string()));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.pairs.push((Self::key(field), json_number(value)));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pairs.push((Self::key(field), value.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<serde_json::Value> {
        let buf = Buf::default();
        let sink = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(move || sink.clone())
            .event_format(JsonLines::at(1_700_000_000_123.5))
            .finish();
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn an_error_and_its_new_causes_on_one_line() {
        let refused = Layer("Connection refused", None);
        let tcp = Layer("tcp connect error: Connection refused", Some(Box::new(refused)));
        let e = Layer("client error (Connect)", Some(Box::new(tcp)));
        assert_eq!(error_chain(&e), "client error (Connect): tcp connect error: Connection refused");
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }

    #[test]
    fn json_lines_carry_component_base_fields() {
        let err = std::io::Error::other("connection refused");
        let lines = capture(|| {
            tracing::info!(resource = "pods", count = 3_u64, ok = true, "list done");
            tracing::warn!(flag = "--vmodule", "ignored");
            tracing::debug!(ratio = 0.5, "detail");
            tracing::trace!("fine detail");
            tracing::error!(error = %err, url = "https://10.0.0.1:443", "API server unreachable");
        });
        assert_eq!(lines.len(), 5);
        let info = &lines[0];
        assert_eq!(info["ts"], 1_700_000_000_123.5);
        assert_eq!(info["msg"], "list done");
        assert_eq!(info["v"], 0);
        assert_eq!(
            (info["resource"].as_str(), info["count"].as_u64(), info["ok"].as_bool()),
            (Some("pods"), Some(3), Some(true))
        );
        let caller = info["caller"].as_str().unwrap();
        assert!(caller.starts_with("logging/src/lib.rs:"), "{caller}");
        assert_eq!((lines[1]["v"].as_u64(), lines[1]["flag"].as_str()), (Some(0), Some("--vmodule")));
        assert_eq!((lines[2]["v"].as_u64(), lines[2]["ratio"].as_f64()), (Some(2), Some(0.5)));
        assert_eq!(lines[3]["v"], 5);
        let error = lines[4].as_object().unwrap();
        assert!(!error.contains_key("v"), "errors carry no verbosity: {error:?}");
        assert_eq!(error["err"], "connection refused");
        assert_eq!(error["url"], "https://10.0.0.1:443");
        let keys: Vec<&str> = error.keys().map(String::as_str).collect();
        for k in ["ts", "caller", "msg", "err", "url"] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
    }

    #[test]
    fn json_strings_are_escaped_and_one_event_is_one_line() {
        let lines = capture(|| tracing::info!(path = "a\"b\\c", "two\nlines \u{1b}[31m"));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["msg"], "two\nlines \u{1b}[31m");
        assert_eq!(lines[0]["path"], "a\"b\\c");
    }

    #[test]
    fn formats_parse_as_upstream_spells_them() {
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert!("JSON".parse::<LogFormat>().is_err());
        assert!("".parse::<LogFormat>().is_err());
    }

    #[test]
    fn verbosity_maps_like_klog() {
        assert_eq!(level_for_verbosity(0), Level::INFO);
        assert_eq!(level_for_verbosity(1), Level::INFO);
        assert_eq!(level_for_verbosity(2), Level::DEBUG);
        assert_eq!(level_for_verbosity(4), Level::DEBUG);
        assert_eq!(level_for_verbosity(5), Level::TRACE);
        assert_eq!(level_for_verbosity(10), Level::TRACE);
    }

    #[test]
    fn short_callers() {
        assert_eq!(short_caller("crates/state-metrics/src/engine.rs"), "state-metrics/src/engine.rs");
        assert_eq!(
            short_caller("/usr/local/cargo/registry/src/idx/kube-runtime-5.0.0/src/watcher.rs"),
            "kube-runtime-5.0.0/src/watcher.rs"
        );
        assert_eq!(short_caller("src/main.rs"), "src/main.rs");
        assert_eq!(short_caller("a/b/c/d.rs"), "c/d.rs");
        assert_eq!(short_caller("lib.rs"), "lib.rs");
    }
}
