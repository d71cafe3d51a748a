//! Command-line flags and the `--config` YAML file of `kubestate kube-state-metrics`, spelled as upstream
//! spells them so that upstream manifests start unchanged.
//!
//! Flags that belong to features not built yet are still accepted (an upstream manifest passes many of
//! them with their default values); giving one a non-default value is a startup error that says so,
//! rather than a silently ignored setting.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgAction, Parser};
use serde_json::Value;

use crate::family::KeyAllow;
use crate::filter::{FamilyFilter, FilterError};
use crate::sharding::ShardMode;

#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("resource {name:?} does not exist; valid resources are: {valid}")]
    UnknownResource { name: String, valid: String },
    #[error("{flag} is not supported yet by kubestate (given {value:?})")]
    NotSupported { flag: &'static str, value: String },
    /// The cause is part of the message (and not a `source`), so that it is printed once.
    #[error("reading config file {path}: {error}")]
    ConfigRead { path: PathBuf, error: std::io::Error },
    #[error("parsing config file {path}: {message}")]
    ConfigParse { path: PathBuf, message: String },
    #[error("config file {path}: key {key}: {message}")]
    ConfigValue { path: PathBuf, key: String, message: String },
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("{0}")]
    Invalid(String),
}

/// Flags of `kubestate kube-state-metrics`. Each also reads `KSM_<FLAG_NAME>` from the environment.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kube-state-metrics",
    about = "Expose the state of Kubernetes objects as Prometheus metrics (kube-state-metrics, in Rust).",
    disable_version_flag = true,
    next_line_help = true,
    max_term_width = 80,
    // Go's flag parsing lets a repeated flag's last value win; manifests that append an override rely on it.
    args_override_self = true
)]
pub struct Options {
    /// The URL of the apiserver to use as a master.
    #[arg(long, env = "KSM_APISERVER", default_value = "")]
    pub apiserver: String,
    /// Absolute path to the kubeconfig file. Empty: in-cluster config, else $KUBECONFIG / ~/.kube/config.
    #[arg(long, env = "KSM_KUBECONFIG", default_value = "")]
    pub kubeconfig: String,
    /// Port to expose metrics on.
    #[arg(long, env = "KSM_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Host to expose metrics on.
    #[arg(long, env = "KSM_HOST", default_value = "::")]
    pub host: String,
    /// Port to expose kube-state-metrics self metrics on.
    #[arg(long, env = "KSM_TELEMETRY_PORT", default_value_t = 8081)]
    pub telemetry_port: u16,
    /// Host to expose kube-state-metrics self metrics on.
    #[arg(long, env = "KSM_TELEMETRY_HOST", default_value = "::")]
    pub telemetry_host: String,
    /// Comma-separated list of resources to be enabled; empty means the default set.
    #[arg(long, env = "KSM_RESOURCES", value_delimiter = ',', action = ArgAction::Append)]
    pub resources: Vec<String>,
    /// Comma-separated list of namespaces to be enabled; empty means all.
    #[arg(long, env = "KSM_NAMESPACES", value_delimiter = ',', action = ArgAction::Append)]
    pub namespaces: Vec<String>,
    /// Comma-separated list of namespaces not to be enabled.
    #[arg(long, env = "KSM_NAMESPACES_DENYLIST", value_delimiter = ',', action = ArgAction::Append)]
    pub namespaces_denylist: Vec<String>,
    /// Comma-separated list of metrics (regexes) to be exposed; excludes the denylist.
    #[arg(long, env = "KSM_METRIC_ALLOWLIST", value_delimiter = ',', action = ArgAction::Append)]
    pub metric_allowlist: Vec<String>,
    /// Comma-separated list of metrics (regexes) not to be exposed; excludes the allowlist.
    #[arg(long, env = "KSM_METRIC_DENYLIST", value_delimiter = ',', action = ArgAction::Append)]
    pub metric_denylist: Vec<String>,
    /// Comma-separated list of opt-in metrics (regexes) to be exposed.
    #[arg(long, env = "KSM_METRIC_OPT_IN_LIST", value_delimiter = ',', action = ArgAction::Append)]
    pub metric_opt_in_list: Vec<String>,
    /// Kubernetes label keys to add to kube_<resource>_labels, per resource (e.g. pods=[app,team],*=[*]).
    #[arg(long, env = "KSM_METRIC_LABELS_ALLOWLIST", action = ArgAction::Append)]
    pub metric_labels_allowlist: Vec<String>,
    /// Kubernetes annotation keys to add to kube_<resource>_annotations, per resource.
    #[arg(long, env = "KSM_METRIC_ANNOTATIONS_ALLOWLIST", action = ArgAction::Append)]
    pub metric_annotations_allowlist: Vec<String>,
    /// The instances shard nominal (zero indexed) within the total number of shards.
    #[arg(long, env = "KSM_SHARD", default_value_t = 0, allow_negative_numbers = true)]
    pub shard: i32,
    /// The total number of shards; 1 disables sharding.
    #[arg(long, env = "KSM_TOTAL_SHARDS", default_value_t = 1, allow_negative_numbers = true)]
    pub total_shards: i32,
    /// Where objects are divided among shards; every shard of a deployment must use the same mode
    /// (docs/sharding.md).
    #[arg(long, env = "KSM_SHARD_MODE", value_enum, default_value_t = ShardMode::Auto)]
    pub shard_mode: ShardMode,
    /// Name of the pod that contains this process, for StatefulSet auto-sharding.
    #[arg(long, env = "KSM_POD", default_value = "")]
    pub pod: String,
    /// Namespace of the pod that contains this process, for auto-sharding.
    #[arg(long, env = "KSM_POD_NAMESPACE", default_value = "")]
    pub pod_namespace: String,
    /// Name of the node whose pods are watched (per-node pod sharding; only pods may be enabled).
    #[arg(long, env = "KSM_NODE", default_value = "")]
    pub node: String,
    /// Only watch unscheduled pods (only pods may be enabled).
    #[arg(long, env = "KSM_TRACK_UNSCHEDULED_PODS", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub track_unscheduled_pods: bool,
    /// Inline custom resource state metrics config; wins over the file.
    #[arg(long, env = "KSM_CUSTOM_RESOURCE_STATE_CONFIG", default_value = "")]
    pub custom_resource_state_config: String,
    /// Path to a custom resource state metrics config file; re-read when it changes.
    #[arg(long, env = "KSM_CUSTOM_RESOURCE_STATE_CONFIG_FILE", default_value = "")]
    pub custom_resource_state_config_file: String,
    /// Keep running when the custom resource state config file is missing.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value_t = false,
          default_missing_value = "true", action = ArgAction::Set)]
    pub continue_without_custom_resource_state_config_file: bool,
    /// Only provide custom resource state metrics (no built-in resources).
    #[arg(long, env = "KSM_CUSTOM_RESOURCE_STATE_ONLY", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub custom_resource_state_only: bool,
    /// Path to a YAML file with the same options; its values override the flags.
    #[arg(long, env = "KSM_CONFIG", default_value = "")]
    pub config: String,
    /// Start even if the --config file is missing or unreadable.
    #[arg(long, env = "KSM_CONTINUE_WITHOUT_CONFIG", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub continue_without_config: bool,
    /// List with resourceVersion=0, served from the API server's watch cache.
    #[arg(long, env = "KSM_USE_APISERVER_CACHE", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub use_apiserver_cache: bool,
    /// Maximum number of objects listed per resource (not supported yet).
    #[arg(long, env = "KSM_OBJECT_LIMIT", default_value_t = 0, allow_negative_numbers = true)]
    pub object_limit: i64,
    /// Gzip the /metrics response when the client accepts it.
    #[arg(long, env = "KSM_ENABLE_GZIP_ENCODING", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub enable_gzip_encoding: bool,
    /// Require Kubernetes authentication and authorization (TokenReview + SubjectAccessReview) on the
    /// main and telemetry /metrics.
    #[arg(long, env = "KSM_AUTH_FILTER", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true", action = ArgAction::Set)]
    pub auth_filter: bool,
    /// Show CPU and memory usage on the overview page at / (read from metrics.k8s.io through the API
    /// server with this process's identity; needs get/list on nodes and pods of metrics.k8s.io).
    #[arg(long, env = "KSM_OVERVIEW_USAGE", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true", action = ArgAction::Set)]
    pub overview_usage: bool,
    /// Path to an exporter-toolkit web config file (TLS, client certificates, basic auth, headers),
    /// applied to both servers.
    #[arg(long, env = "KSM_TLS_CONFIG", default_value = "")]
    pub tls_config: String,
    /// Time allowed to read a whole request (Go duration, e.g. 1m0s; 0 disables).
    #[arg(long, env = "KSM_SERVER_READ_TIMEOUT", default_value = "1m0s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub server_read_timeout: Duration,
    /// Time allowed to write a whole response (Go duration; 0 disables).
    #[arg(long, env = "KSM_SERVER_WRITE_TIMEOUT", default_value = "1m0s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub server_write_timeout: Duration,
    /// How long an idle keep-alive connection stays open (Go duration; 0 disables).
    #[arg(long, env = "KSM_SERVER_IDLE_TIMEOUT", default_value = "5m0s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub server_idle_timeout: Duration,
    /// Time allowed to read request headers (Go duration; 0 disables).
    #[arg(long, env = "KSM_SERVER_READ_HEADER_TIMEOUT", default_value = "5s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub server_read_header_timeout: Duration,
    /// Go-runtime memory tuning; meaningless here and ignored.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_value_t = false,
          default_missing_value = "true", action = ArgAction::Set)]
    pub auto_gomemlimit: bool,
    /// Go-runtime memory tuning ratio; ignored.
    #[arg(long, default_value_t = 0.9)]
    pub auto_gomemlimit_ratio: f64,

    /// Log verbosity (klog's -v): 0-1 info, 2-4 debug, 5+ trace. RUST_LOG, when set, wins.
    #[arg(short = 'v', long = "v", env = "KSM_V", default_value_t = 0)]
    pub v: u8,
    /// Log format: "text", or "json" for one JSON object per line (Kubernetes' JSON log fields).
    #[arg(long, env = "KSM_LOGGING_FORMAT", default_value = "text", value_parser = parse_log_format)]
    pub logging_format: logging::LogFormat,
    #[command(flatten)]
    pub klog: KlogCompat,
    /// `labels_allow_list` of the `--config` file (map form); when set it replaces the flag.
    #[arg(skip)]
    pub labels_allow_list_config: Option<BTreeMap<String, Vec<String>>>,
    /// `annotations_allow_list` of the `--config` file (map form); when set it replaces the flag.
    #[arg(skip)]
    pub annotations_allow_list_config: Option<BTreeMap<String, Vec<String>>>,
}

/// klog's flags: accepted so that upstream manifests parse; logging always goes to stderr.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct KlogCompat {
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub logtostderr: Option<bool>,
    #[arg(long, hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub alsologtostderr: Option<bool>,
    #[arg(long = "add_dir_header", alias = "add-dir-header", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub add_dir_header: Option<bool>,
    #[arg(long = "one_output", alias = "one-output", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub one_output: Option<bool>,
    #[arg(long = "skip_headers", alias = "skip-headers", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub skip_headers: Option<bool>,
    #[arg(long = "skip_log_headers", alias = "skip-log-headers", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub skip_log_headers: Option<bool>,
    #[arg(long = "legacy_stderr_threshold_behavior", alias = "legacy-stderr-threshold-behavior", hide = true, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub legacy_stderr_threshold_behavior: Option<bool>,
    #[arg(long, hide = true)]
    pub alsologtostderrthreshold: Option<String>,
    #[arg(long, hide = true)]
    pub stderrthreshold: Option<String>,
    #[arg(long = "log_backtrace_at", alias = "log-backtrace-at", hide = true)]
    pub log_backtrace_at: Option<String>,
    #[arg(long = "log_dir", alias = "log-dir", hide = true)]
    pub log_dir: Option<String>,
    #[arg(long = "log_file", alias = "log-file", hide = true)]
    pub log_file: Option<String>,
    #[arg(long = "log_file_max_size", alias = "log-file-max-size", hide = true)]
    pub log_file_max_size: Option<String>,
    #[arg(long, hide = true)]
    pub vmodule: Option<String>,
}

/// A flag given that has no effect here, and why: (`--flag`, reason).
pub type IgnoredFlag = (&'static str, &'static str);

/// Flags accepted so that upstream manifests start, with why each has no effect here.
const IGNORED_FLAGS: &[(&str, &str, &str)] = &[
    ("auto_gomemlimit", "--auto-gomemlimit", "it tunes the Go runtime's memory limit"),
    ("auto_gomemlimit_ratio", "--auto-gomemlimit-ratio", "it tunes the Go runtime's memory limit"),
    ("logtostderr", "--logtostderr", "logs always go to stderr"),
    ("alsologtostderr", "--alsologtostderr", "logs always go to stderr"),
    ("alsologtostderrthreshold", "--alsologtostderrthreshold", "logs always go to stderr"),
    ("stderrthreshold", "--stderrthreshold", "logs always go to stderr"),
    ("legacy_stderr_threshold_behavior", "--legacy_stderr_threshold_behavior", "logs always go to stderr"),
    ("log_dir", "--log_dir", "logs always go to stderr"),
    ("log_file", "--log_file", "logs always go to stderr"),
    ("log_file_max_size", "--log_file_max_size", "logs always go to stderr"),
    ("one_output", "--one_output", "logs always go to stderr"),
    ("add_dir_header", "--add_dir_header", "klog's header layout does not apply (use --logging-format)"),
    ("skip_headers", "--skip_headers", "klog's header layout does not apply (use --logging-format)"),
    ("skip_log_headers", "--skip_log_headers", "klog's header layout does not apply (use --logging-format)"),
    ("log_backtrace_at", "--log_backtrace_at", "there are no Go stack traces to print"),
    ("vmodule", "--vmodule", "per-file verbosity is set with RUST_LOG instead"),
];

fn parse_log_format(s: &str) -> Result<logging::LogFormat, String> {
    s.parse()
}

impl Default for Options {
    fn default() -> Self {
        Options::parse_from(["kube-state-metrics"])
    }
}

impl Options {
    /// Parses argv (argv[0] is the program name) and names the flags given that have no effect here,
    /// each with the reason, so that the caller can warn about them once logging is set up.
    pub fn parse_with_ignored(args: &[OsString]) -> Result<(Options, Vec<IgnoredFlag>), clap::Error> {
        let matches = <Options as clap::CommandFactory>::command().try_get_matches_from(args)?;
        let opts = <Options as clap::FromArgMatches>::from_arg_matches(&matches)?;
        let given =
            |id: &str| matches!(matches.value_source(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable));
        let ignored = IGNORED_FLAGS.iter().filter(|(id, ..)| given(id)).map(|(_, flag, why)| (*flag, *why)).collect();
        Ok((opts, ignored))
    }

    /// Overlays the `--config` file, if one is named, onto the flags. A missing or unreadable file is an
    /// error unless `--continue-without-config`; then it is logged and the flags stand.
    pub fn apply_config_file(&mut self) -> Result<(), OptionsError> {
        if self.config.is_empty() {
            return Ok(());
        }
        let path = PathBuf::from(&self.config);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(error) if self.continue_without_config => {
                tracing::warn!(path = %path.display(), %error, "config file unreadable; continuing with flags");
                return Ok(());
            }
            Err(error) => return Err(OptionsError::ConfigRead { path, error }),
        };
        self.apply_config_text(&text, &path)
    }

    /// Overlays YAML text (the `--config` file's content); `path` only labels errors.
    pub fn apply_config_text(&mut self, text: &str, path: &std::path::Path) -> Result<(), OptionsError> {
        let doc: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_saphyr::from_str(text)
                .map_err(|e| OptionsError::ConfigParse { path: path.to_owned(), message: e.to_string() })?
        };
        let map = match doc {
            Value::Null => return Ok(()),
            Value::Object(m) => m,
            _ => {
                return Err(OptionsError::ConfigParse {
                    path: path.to_owned(),
                    message: "the document must be a mapping of option names to values".into(),
                });
            }
        };
        let err = |key: &str, message: String| OptionsError::ConfigValue {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        for (key, value) in &map {
            let k = key.as_str();
            match k {
                "apiserver" => self.apiserver = yaml_string(value).map_err(|m| err(k, m))?,
                "kubeconfig" => self.kubeconfig = yaml_string(value).map_err(|m| err(k, m))?,
                "host" => self.host = yaml_string(value).map_err(|m| err(k, m))?,
                "telemetry_host" => self.telemetry_host = yaml_string(value).map_err(|m| err(k, m))?,
                "port" => self.port = yaml_int(value).map_err(|m| err(k, m))?,
                "telemetry_port" => self.telemetry_port = yaml_int(value).map_err(|m| err(k, m))?,
                "resources" => replace_if_nonempty(&mut self.resources, yaml_set(value).map_err(|m| err(k, m))?),
                "metric_allowlist" => {
                    replace_if_nonempty(&mut self.metric_allowlist, yaml_set(value).map_err(|m| err(k, m))?)
                }
                "metric_denylist" => {
                    replace_if_nonempty(&mut self.metric_denylist, yaml_set(value).map_err(|m| err(k, m))?)
                }
                "metric_opt_in_list" => {
                    replace_if_nonempty(&mut self.metric_opt_in_list, yaml_set(value).map_err(|m| err(k, m))?)
                }
                "labels_allow_list" => {
                    let m = yaml_allowlist(value).map_err(|m| err(k, m))?;
                    if !m.is_empty() {
                        self.labels_allow_list_config = Some(m);
                    }
                }
                "annotations_allow_list" => {
                    let m = yaml_allowlist(value).map_err(|m| err(k, m))?;
                    if !m.is_empty() {
                        self.annotations_allow_list_config = Some(m);
                    }
                }
                "namespaces" => self.namespaces = yaml_set(value).map_err(|m| err(k, m))?,
                "namespaces_denylist" => self.namespaces_denylist = yaml_set(value).map_err(|m| err(k, m))?,
                "custom_resource_config" => {
                    self.custom_resource_state_config = yaml_string(value).map_err(|m| err(k, m))?
                }
                "custom_resource_state_config_file" | "custom_resource_config_file" => {
                    self.custom_resource_state_config_file = yaml_string(value).map_err(|m| err(k, m))?
                }
                "continue_without_custom_resource_state_config_file" => {
                    self.continue_without_custom_resource_state_config_file = yaml_bool(value).map_err(|m| err(k, m))?
                }
                "custom_resources_only" => self.custom_resource_state_only = yaml_bool(value).map_err(|m| err(k, m))?,
                "namespace" => self.pod_namespace = yaml_string(value).map_err(|m| err(k, m))?,
                "node" => self.node = yaml_string(value).map_err(|m| err(k, m))?,
                "pod" => self.pod = yaml_string(value).map_err(|m| err(k, m))?,
                "tls_config" => self.tls_config = yaml_string(value).map_err(|m| err(k, m))?,
                "continue_without_config" => self.continue_without_config = yaml_bool(value).map_err(|m| err(k, m))?,
                "total_shards" => self.total_shards = yaml_int(value).map_err(|m| err(k, m))?,
                "shard" => self.shard = yaml_int(value).map_err(|m| err(k, m))?,
                "shard_mode" => {
                    let text = yaml_string(value).map_err(|m| err(k, m))?;
                    self.shard_mode = <ShardMode as clap::ValueEnum>::from_str(&text, false)
                        .map_err(|_| err(k, format!("{text:?} is not one of auto, server, client")))?;
                }
                "server_read_timeout" => self.server_read_timeout = yaml_duration(value).map_err(|m| err(k, m))?,
                "server_write_timeout" => self.server_write_timeout = yaml_duration(value).map_err(|m| err(k, m))?,
                "server_idle_timeout" => self.server_idle_timeout = yaml_duration(value).map_err(|m| err(k, m))?,
                "server_read_header_timeout" => {
                    self.server_read_header_timeout = yaml_duration(value).map_err(|m| err(k, m))?
                }
                "auto-gomemlimit" | "auto-gomemlimit-ratio" => {
                    if k == "auto-gomemlimit" {
                        self.auto_gomemlimit = yaml_bool(value).map_err(|m| err(k, m))?;
                    } else {
                        self.auto_gomemlimit_ratio =
                            value.as_f64().ok_or_else(|| err(k, "expected a number".into()))?;
                    }
                    tracing::warn!(key = k, path = %path.display(), "config key accepted for compatibility and ignored: it tunes the Go runtime's memory limit");
                }
                "enable_gzip_encoding" => self.enable_gzip_encoding = yaml_bool(value).map_err(|m| err(k, m))?,
                "track_unscheduled_pods" => self.track_unscheduled_pods = yaml_bool(value).map_err(|m| err(k, m))?,
                "use_api_server_cache" => self.use_apiserver_cache = yaml_bool(value).map_err(|m| err(k, m))?,
                "object_limit" => self.object_limit = yaml_int(value).map_err(|m| err(k, m))?,
                "auth_filter" => self.auth_filter = yaml_bool(value).map_err(|m| err(k, m))?,
                "overview_usage" => self.overview_usage = yaml_bool(value).map_err(|m| err(k, m))?,
                "help" => {}
                other => tracing::warn!(key = other, path = %path.display(), "unknown key in config file ignored"),
            }
        }
        Ok(())
    }

    /// Fails on the first flag that names a feature this build does not have yet, or on metric
    /// allow/deny lists that cannot be used. The lists are checked here, before any part compiles them
    /// for its own families, so that their error names the flags rather than that part.
    pub fn check_supported(&self) -> Result<(), OptionsError> {
        if self.object_limit != 0 {
            return Err(OptionsError::NotSupported { flag: "--object-limit", value: self.object_limit.to_string() });
        }
        self.family_filter()?;
        Ok(())
    }

    /// Checks the options that only make sense together: sharding bounds, auto-sharding's pod and
    /// namespace, the metric allow/deny lists and per-node pod sharding.
    pub fn validate(&self, resources: &[String]) -> Result<(), OptionsError> {
        if self.total_shards < 1 {
            return Err(OptionsError::Invalid(format!("--total-shards must be at least 1, got {}", self.total_shards)));
        }
        if self.shard < 0 || self.shard >= self.total_shards {
            return Err(OptionsError::Invalid(format!(
                "--shard must be between 0 and --total-shards - 1 ({}), got {}",
                self.total_shards - 1,
                self.shard
            )));
        }
        if self.pod.is_empty() != self.pod_namespace.is_empty() {
            return Err(OptionsError::Invalid(
                "auto-sharding needs both --pod and --pod-namespace (or neither)".to_owned(),
            ));
        }
        self.family_filter()?;
        let names: Vec<&str> = resources.iter().map(String::as_str).collect();
        crate::filter::validate_node_sharding(&self.node, self.track_unscheduled_pods, &names)?;
        self.key_allowlists(&names)?;
        Ok(())
    }

    /// `--metric-allowlist` / `--metric-denylist` / `--metric-opt-in-list` compiled.
    pub fn family_filter(&self) -> Result<FamilyFilter, FilterError> {
        FamilyFilter::new(&self.metric_allowlist, &self.metric_denylist, &self.metric_opt_in_list)
    }

    /// The label and annotation key filters of every enabled resource, from the flags or, when the
    /// `--config` file has the map form, from there.
    #[allow(clippy::type_complexity)]
    pub fn key_allowlists(
        &self,
        enabled: &[&str],
    ) -> Result<(BTreeMap<String, KeyAllow>, BTreeMap<String, KeyAllow>), FilterError> {
        let known: Vec<&str> = crate::registry::resource_names().collect();
        let resolve = |flag: &[String], config: &Option<BTreeMap<String, Vec<String>>>| {
            let map = match config {
                Some(m) => m.clone(),
                None => {
                    let mut m = BTreeMap::new();
                    // A repeated flag adds groups; a later group for the same resource wins.
                    for v in flag.iter().filter(|v| !v.trim().is_empty()) {
                        m.extend(crate::filter::parse_allowlist(v)?);
                    }
                    m
                }
            };
            crate::filter::resolve_allowlist(&map, enabled, &known)
        };
        let labels = resolve(&self.metric_labels_allowlist, &self.labels_allow_list_config)?;
        let annotations = resolve(&self.metric_annotations_allowlist, &self.annotations_allow_list_config)?;
        Ok((labels, annotations))
    }

    /// The enabled resource names, sorted and de-duplicated: `--resources` or the default set. Every name
    /// must be one of upstream's; an unknown one is an error listing the valid names.
    pub fn resource_names(&self) -> Result<Vec<String>, OptionsError> {
        let given: BTreeSet<String> =
            self.resources.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if given.is_empty() {
            return Ok(crate::registry::default_resources().map(str::to_owned).collect());
        }
        let valid: BTreeSet<&str> = crate::registry::resource_names().collect();
        for name in &given {
            if !valid.contains(name.as_str()) {
                return Err(OptionsError::UnknownResource {
                    name: name.clone(),
                    valid: valid.iter().copied().collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(given.into_iter().collect())
    }
}

fn replace_if_nonempty(target: &mut Vec<String>, value: Vec<String>) {
    if !value.is_empty() {
        *target = value;
    }
}

fn yaml_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("expected a string".into()),
    }
}

fn yaml_bool(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        Value::String(s) => s.trim().parse::<bool>().map_err(|_| format!("expected true or false, got {s:?}")),
        _ => Err("expected true or false".into()),
    }
}

fn yaml_int<T: TryFrom<i64>>(v: &Value) -> Result<T, String> {
    let n = match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("expected an integer, got {n}"))?,
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| format!("expected an integer, got {s:?}"))?,
        _ => return Err("expected an integer".into()),
    };
    T::try_from(n).map_err(|_| format!("{n} is out of range"))
}

/// A Go duration string, or an integer (nanoseconds, as Go's YAML decoding of time.Duration reads it).
fn yaml_duration(v: &Value) -> Result<Duration, String> {
    match v {
        Value::String(s) => parse_go_duration(s),
        Value::Number(n) => {
            let ns = n.as_u64().ok_or_else(|| format!("expected a non-negative duration, got {n}"))?;
            Ok(Duration::from_nanos(ns))
        }
        _ => Err("expected a duration such as 1m0s".into()),
    }
}

/// Upstream writes sets as maps of name to `{}`; lists and comma-separated strings are accepted too.
fn yaml_set(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m.keys().cloned().collect()),
        Value::Array(a) => a.iter().map(yaml_string).collect(),
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()),
        _ => Err("expected a set of names".into()),
    }
}

/// The `--config` form of a label/annotation allowlist: a map of resource to a list of keys.
fn yaml_allowlist(v: &Value) -> Result<BTreeMap<String, Vec<String>>, String> {
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .iter()
            .map(|(res, keys)| {
                let keys = match keys {
                    Value::Null => Vec::new(),
                    Value::Array(a) => a.iter().map(yaml_string).collect::<Result<Vec<_>, _>>()?,
                    _ => return Err(format!("{res}: expected a list of keys")),
                };
                Ok((res.clone(), keys))
            })
            .collect(),
        _ => Err("expected a map of resource to a list of keys".into()),
    }
}

/// A Go `time.Duration` flag value (`1m0s`, `1.5h`, `300ms`, `0`); negative durations are refused.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    gocompat::parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::try_parse_from(std::iter::once("kube-state-metrics").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_match_upstream() {
        let o = parse(&[]);
        assert_eq!(o.port, 8080);
        assert_eq!(o.telemetry_port, 8081);
        assert_eq!(o.host, "::");
        assert_eq!(o.server_read_timeout, Duration::from_secs(60));
        assert_eq!(o.server_write_timeout, Duration::from_secs(60));
        assert_eq!(o.server_idle_timeout, Duration::from_secs(300));
        assert_eq!(o.server_read_header_timeout, Duration::from_secs(5));
        assert!(!o.enable_gzip_encoding);
        assert_eq!(o.resource_names().unwrap().len(), 32);
        o.check_supported().unwrap();
    }

    #[test]
    fn resources_accept_commas_and_repeats_and_are_sorted() {
        let o = parse(&["--resources=pods,nodes", "--resources", "configmaps", "--resources=pods"]);
        assert_eq!(o.resource_names().unwrap(), vec!["configmaps", "nodes", "pods"]);
    }

    #[test]
    fn a_repeated_single_value_flag_takes_the_last_value() {
        let o = parse(&["--port=1", "--port=2", "--enable-gzip-encoding", "--enable-gzip-encoding"]);
        assert_eq!(o.port, 2);
        assert!(o.enable_gzip_encoding);
    }

    #[test]
    fn empty_resources_means_default_set() {
        let o = parse(&["--resources="]);
        let defaults = o.resource_names().unwrap();
        assert_eq!(defaults, crate::registry::default_resources().collect::<Vec<_>>());
        assert_eq!(defaults.len(), 32);
        assert!(defaults.contains(&"pods".to_owned()) && !defaults.contains(&"endpoints".to_owned()));
    }

    #[test]
    fn unknown_resource_lists_valid_names() {
        let o = parse(&["--resources=pods,podz"]);
        let e = o.resource_names().unwrap_err().to_string();
        assert!(e.contains("\"podz\""), "{e}");
        assert!(e.contains("certificatesigningrequests, clusterrolebindings"), "{e}");
        assert!(e.contains("volumeattachments"), "{e}");
    }

    #[test]
    fn opt_in_resources_are_valid_names() {
        let o = parse(&["--resources=endpoints,roles"]);
        assert_eq!(o.resource_names().unwrap(), vec!["endpoints", "roles"]);
    }

    #[test]
    fn bool_flags_take_optional_equals_value() {
        let o = parse(&["--enable-gzip-encoding", "--use-apiserver-cache=true"]);
        assert!(o.enable_gzip_encoding && o.use_apiserver_cache);
        let o = parse(&["--enable-gzip-encoding=false"]);
        assert!(!o.enable_gzip_encoding);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("1m0s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_go_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_go_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_go_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_go_duration("2us").unwrap(), Duration::from_micros(2));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("-5s").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("s").is_err());
    }

    #[test]
    fn timeout_flags_take_go_durations() {
        let o = parse(&["--server-write-timeout=2m30s", "--server-read-header-timeout", "10s"]);
        assert_eq!(o.server_write_timeout, Duration::from_secs(150));
        assert_eq!(o.server_read_header_timeout, Duration::from_secs(10));
        assert!(Options::try_parse_from(["ksm", "--server-idle-timeout=forever"]).is_err());
    }

    #[test]
    fn klog_flags_are_accepted() {
        let o = parse(&["--v=2", "--logtostderr", "--vmodule=x=1", "--skip_headers=true"]);
        assert_eq!(o.v, 2);
        let o = parse(&["-v", "4"]);
        assert_eq!(o.v, 4);
        let o = parse(&["-v=3"]);
        assert_eq!(o.v, 3);
    }

    #[test]
    fn upstream_default_valued_flags_are_accepted() {
        let o = parse(&[
            "--shard=0",
            "--total-shards=1",
            "--namespaces=",
            "--metric-labels-allowlist=",
            "--auto-gomemlimit",
            "--auto-gomemlimit-ratio=0.8",
            "--object-limit=0",
        ]);
        o.check_supported().unwrap();
    }

    #[test]
    fn unsupported_features_are_refused_when_used() {
        let e = parse(&["--object-limit=5"]).check_supported().unwrap_err().to_string();
        assert!(e.contains("not supported yet"), "{e}");
        parse(&["--tls-config=/etc/web.yaml", "--auth-filter"]).check_supported().unwrap();
    }

    #[test]
    fn config_file_overrides_flags() {
        let mut o = parse(&["--port=9000", "--resources=pods"]);
        let yaml = "port: 9090\nresources:\n  nodes: {}\n  configmaps: {}\nenable_gzip_encoding: true\n\
                    server_write_timeout: 2m0s\nserver_idle_timeout: 1000000000\nuse_api_server_cache: true\n";
        o.apply_config_text(yaml, std::path::Path::new("c.yaml")).unwrap();
        assert_eq!(o.port, 9090);
        assert_eq!(o.resource_names().unwrap(), vec!["configmaps", "nodes"]);
        assert!(o.enable_gzip_encoding && o.use_apiserver_cache);
        assert_eq!(o.server_write_timeout, Duration::from_secs(120));
        assert_eq!(o.server_idle_timeout, Duration::from_secs(1));
    }

    #[test]
    fn shard_mode_from_flag_environment_and_config_file() {
        assert_eq!(parse(&[]).shard_mode, ShardMode::Auto);
        assert_eq!(parse(&["--shard-mode=server"]).shard_mode, ShardMode::Server);
        assert_eq!(parse(&["--shard-mode", "client"]).shard_mode, ShardMode::Client);
        assert!(Options::try_parse_from(["ksm", "--shard-mode=both"]).is_err());
        let mut o = parse(&["--shard-mode=server"]);
        o.apply_config_text("shard_mode: client\n", std::path::Path::new("c.yaml")).unwrap();
        assert_eq!(o.shard_mode, ShardMode::Client);
        let e = o.apply_config_text("shard_mode: sever\n", std::path::Path::new("c.yaml")).unwrap_err().to_string();
        assert!(e.contains("shard_mode") && e.contains("auto, server, client"), "{e}");
    }

    #[test]
    fn config_file_empty_set_keeps_flag_value() {
        let mut o = parse(&["--resources=pods"]);
        o.apply_config_text("resources: {}\nhost: 127.0.0.1\n", std::path::Path::new("c.yaml")).unwrap();
        assert_eq!(o.resource_names().unwrap(), vec!["pods"]);
        assert_eq!(o.host, "127.0.0.1");
    }

    #[test]
    fn config_file_errors_name_the_key() {
        let mut o = parse(&[]);
        let e = o.apply_config_text("port: eighty\n", std::path::Path::new("c.yaml")).unwrap_err().to_string();
        assert!(e.contains("port"), "{e}");
        let e = o.apply_config_text("- a\n- b\n", std::path::Path::new("c.yaml")).unwrap_err().to_string();
        assert!(e.contains("mapping"), "{e}");
    }

    #[test]
    fn config_file_allowlist_maps_replace_the_flags() {
        let mut o = parse(&["--metric-labels-allowlist=pods=[team]", "--metric-annotations-allowlist=nodes=[a]"]);
        o.apply_config_text("labels_allow_list:\n  pods: [app, 'x-*']\n", std::path::Path::new("c.yaml")).unwrap();
        let (labels, annotations) = o.key_allowlists(&["pods", "nodes"]).unwrap();
        assert!(labels["pods"].allows("app") && labels["pods"].allows("x-y") && !labels["pods"].allows("team"));
        assert!(labels["nodes"].is_nothing());
        assert!(annotations["nodes"].allows("a"));
        o.apply_config_text("labels_allow_list:\n  pods: ['a*b*']\n", std::path::Path::new("c.yaml")).unwrap();
        assert_eq!(o.key_allowlists(&["pods"]).unwrap_err(), FilterError::Wildcard);
        o.apply_config_text("labels_allow_list:\n  podz: [a]\n", std::path::Path::new("c.yaml")).unwrap();
        assert!(matches!(o.key_allowlists(&["pods"]), Err(FilterError::UnknownResource { .. })));
        assert!(o.apply_config_text("labels_allow_list: [a]\n", std::path::Path::new("c.yaml")).is_err());
    }

    #[test]
    fn allowlist_flags_merge_and_star_wins() {
        let o = parse(&["--metric-labels-allowlist=pods=[app]", "--metric-labels-allowlist=nodes=[zone]"]);
        let (labels, _) = o.key_allowlists(&["pods", "nodes", "secrets"]).unwrap();
        assert!(labels["pods"].allows("app") && labels["nodes"].allows("zone"));
        assert!(labels["secrets"].is_nothing());
        let o = parse(&["--metric-labels-allowlist=pods=[app],*=[*]"]);
        let (labels, _) = o.key_allowlists(&["pods", "secrets"]).unwrap();
        assert!(labels["pods"].allows("anything") && labels["secrets"].allows("x"));
        let o = parse(&["--metric-labels-allowlist=pods=app"]);
        assert_eq!(o.key_allowlists(&["pods"]).unwrap_err(), FilterError::AllowlistFormat);
    }

    #[test]
    fn validation_catches_conflicts() {
        let res = vec!["pods".to_owned()];
        let check = |args: &[&str], res: &[String]| parse(args).validate(res).map_err(|e| e.to_string());
        check(&["--shard=2", "--total-shards=3"], &res).unwrap();
        assert!(check(&["--shard=3", "--total-shards=3"], &res).unwrap_err().contains("--shard"));
        assert!(check(&["--total-shards=0"], &res).unwrap_err().contains("--total-shards"));
        assert!(check(&["--shard=-1"], &res).is_err());
        assert!(check(&["--pod=ksm-0"], &res).unwrap_err().contains("--pod-namespace"));
        let both = check(&["--metric-allowlist=a", "--metric-denylist=b"], &res).unwrap_err();
        assert!(both.contains("mutually exclusive"), "{both}");
        assert!(check(&["--metric-denylist=("], &res).unwrap_err().contains("invalid regex"));
        check(&["--node=n1"], &res).unwrap();
        let two = vec!["nodes".to_owned(), "pods".to_owned()];
        assert!(check(&["--node=n1"], &two).unwrap_err().contains("nodes"));
        assert!(check(&["--track-unscheduled-pods"], &two).is_err());
        check(&["--metric-labels-allowlist=pods=[app]"], &res).unwrap();
        assert!(check(&["--metric-labels-allowlist=podz=[app]"], &res).is_err());
    }

    #[test]
    fn missing_config_file_is_an_error_unless_told_to_continue() {
        let mut o = parse(&["--config=/nonexistent/ksm.yaml"]);
        assert!(matches!(o.apply_config_file(), Err(OptionsError::ConfigRead { .. })));
        let mut o = parse(&["--config=/nonexistent/ksm.yaml", "--continue-without-config"]);
        o.apply_config_file().unwrap();
    }
}
