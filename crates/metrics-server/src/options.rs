//! Command-line flags with upstream names and defaults, plus the generic apiserver flags that are
//! accepted and ignored so upstream manifests start unchanged.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Parser};

fn parse_go_duration(s: &str) -> Result<Duration, String> {
    gocompat::parse_duration(s).map_err(|e| e.to_string())
}

/// `kubestate metrics-server` flags.
#[derive(Parser, Debug, Clone)]
// Like pflag, a repeated flag is not an error: the last value wins (list flags accumulate), so manifests
// that append to a chart's default args start unchanged.
#[command(
    name = "metrics-server",
    about = "Scrape kubelets and serve the metrics.k8s.io/v1beta1 API",
    next_line_help = true,
    max_term_width = 80,
    args_override_self = true
)]
pub struct Options {
    /// The resolution at which metrics-server will retain metrics, must set value at least 10s.
    #[arg(long, default_value = "1m0s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub metric_resolution: Duration,
    /// The path to the kubeconfig used to connect to the Kubernetes API server and the Kubelets (defaults to in-cluster config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Show version.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub version: bool,

    /// The port to use to connect to Kubelets.
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// Use the port in the node status. Takes precedence over --kubelet-port flag.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub kubelet_use_node_status_port: bool,
    /// The priority of node address types to use when determining which address to use to connect to a particular node.
    #[arg(long, value_delimiter = ',', default_value = "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP")]
    pub kubelet_preferred_address_types: Vec<String>,
    /// Do not verify CA of serving certificates presented by Kubelets. For testing purposes only.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub kubelet_insecure_tls: bool,
    /// Path to the CA to use to validate the Kubelet's serving certificates.
    #[arg(long)]
    pub kubelet_certificate_authority: Option<PathBuf>,
    /// Path to a client cert file for TLS.
    #[arg(long)]
    pub kubelet_client_certificate: Option<PathBuf>,
    /// Path to a client key file for TLS.
    #[arg(long)]
    pub kubelet_client_key: Option<PathBuf>,
    /// The length of time to wait before giving up on a single request to Kubelet.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub kubelet_request_timeout: Duration,
    /// Selector (label query) to filter on, supports '=', '==', and '!='.
    #[arg(short = 'l', long, default_value = "")]
    pub node_selector: String,
    /// DEPRECATED: Do not use any encryption, authorization, or authentication when communicating with the Kubelet.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub deprecated_kubelet_completely_insecure: bool,

    /// The port on which to serve HTTPS with authentication and authorization.
    #[arg(long, default_value_t = 443)]
    pub secure_port: u16,
    /// The IP address on which to listen for the --secure-port port.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// The directory where the TLS certs are located (ignored if --tls-cert-file and --tls-private-key-file are provided).
    #[arg(long, default_value = "apiserver.local.config/certificates")]
    pub cert_dir: PathBuf,
    /// File containing the default x509 Certificate for HTTPS.
    #[arg(long)]
    pub tls_cert_file: Option<PathBuf>,
    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long)]
    pub tls_private_key_file: Option<PathBuf>,
    /// Minimum TLS version served: VersionTLS12 (the default) or VersionTLS13. VersionTLS10 and VersionTLS11 are refused: this server speaks TLS 1.2 and 1.3 only.
    #[arg(long, value_parser = crate::tls::parse_min_version)]
    pub tls_min_version: Option<crate::tls::MinVersion>,
    /// Comma-separated cipher suites (IANA names, as Go spells them) allowed for TLS 1.2; TLS 1.3 suites are always on. Only AEAD suites with ECDHE key exchange are served; others are refused. Default: all of those.
    #[arg(long, value_delimiter = ',', value_parser = crate::tls::parse_cipher_suite)]
    pub tls_cipher_suites: Vec<String>,
    /// A certificate and key file, optionally followed by the domain patterns it serves ("cert,key" or "cert,key:*.foo.com,foo.com"); without patterns the certificate's own names are used. Repeat for several pairs; an exact name beats a wildcard, explicit patterns beat a certificate's names, an earlier flag beats a later one. The files are reloaded when they change.
    #[arg(long, value_parser = crate::tls::parse_sni_cert_key)]
    pub tls_sni_cert_key: Vec<crate::tls::SniCertKey>,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create tokenreviews.
    #[arg(long)]
    pub authentication_kubeconfig: Option<PathBuf>,
    /// Treat requests without credentials as user system:anonymous (group system:unauthenticated), authorized like any other user. When false they get 401 on every path, /healthz, /livez and /readyz included.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub anonymous_auth: bool,
    /// If false, the authentication-kubeconfig will be used to lookup missing authentication configuration from the cluster.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub authentication_skip_lookup: bool,
    /// If true, failures to look up missing authentication configuration from the cluster are not considered fatal.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub authentication_tolerate_lookup_failure: bool,
    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub authentication_token_webhook_cache_ttl: Duration,
    /// If set, any request presenting a client certificate signed by one of the authorities in the client-ca-file is authenticated with an identity corresponding to the CommonName of the client certificate.
    #[arg(long)]
    pub client_ca_file: Option<PathBuf>,
    /// Root certificate bundle to use to verify client certificates on incoming requests before trusting usernames in headers specified by --requestheader-username-headers.
    #[arg(long)]
    pub requestheader_client_ca_file: Option<PathBuf>,
    /// List of client certificate common names to allow to provide usernames in headers specified by --requestheader-username-headers.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_allowed_names: Vec<String>,
    /// List of request headers to inspect for usernames.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_username_headers: Vec<String>,
    /// List of request headers to inspect for groups.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_group_headers: Vec<String>,
    /// List of request header prefixes to inspect.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_extra_headers_prefix: Vec<String>,
    /// List of request headers to inspect for UIDs.
    #[arg(long, value_delimiter = ',')]
    pub requestheader_uid_headers: Vec<String>,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create subjectaccessreviews.
    #[arg(long)]
    pub authorization_kubeconfig: Option<PathBuf>,
    /// A list of HTTP paths to skip during authorization.
    #[arg(long, value_delimiter = ',', default_value = "/healthz,/readyz,/livez")]
    pub authorization_always_allow_paths: Vec<String>,
    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub authorization_webhook_cache_authorized_ttl: Duration,
    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_go_duration)]
    pub authorization_webhook_cache_unauthorized_ttl: Duration,

    /// Number for the log level verbosity.
    #[arg(short = 'v', long = "v", default_value_t = 0)]
    pub verbosity: u8,
    /// Sets the log format. Permitted formats: "json", "text".
    #[arg(long, default_value = "text", value_parser = |s: &str| s.parse::<logging::LogFormat>())]
    pub logging_format: logging::LogFormat,
    /// Generic API-server flags given on the command line that have no effect here (`--name`).
    #[arg(skip)]
    pub ignored_flags: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OptionsError {
    #[error("metric-resolution should be a time duration at least 10s, but value {0:?} provided")]
    Resolution(Duration),
    #[error(
        "metric-resolution should be larger than kubelet-request-timeout, but metric-resolution value {0:?} kubelet-request-timeout value {1:?} provided"
    )]
    ResolutionVsTimeout(Duration, Duration),
    #[error("kubelet-request-timeout should be positive")]
    Timeout,
    #[error("cannot use both --kubelet-certificate-authority and --kubelet-insecure-tls")]
    CaAndInsecure,
    #[error("need both --kubelet-client-certificate and --kubelet-client-key")]
    CertWithoutKey,
    #[error("cannot use both --deprecated-kubelet-completely-insecure and TLS options")]
    DeprecatedWithTls,
    #[error("need both --tls-cert-file and --tls-private-key-file")]
    ServingCertWithoutKey,
}

impl Options {
    pub fn validate(&self) -> Result<(), OptionsError> {
        if self.metric_resolution < Duration::from_secs(10) {
            return Err(OptionsError::Resolution(self.metric_resolution));
        }
        if self.kubelet_request_timeout.is_zero() {
            return Err(OptionsError::Timeout);
        }
        if self.metric_resolution.mul_f64(0.9) < self.kubelet_request_timeout {
            return Err(OptionsError::ResolutionVsTimeout(self.metric_resolution, self.kubelet_request_timeout));
        }
        if self.kubelet_certificate_authority.is_some() && self.kubelet_insecure_tls {
            return Err(OptionsError::CaAndInsecure);
        }
        if self.kubelet_client_certificate.is_some() != self.kubelet_client_key.is_some() {
            return Err(OptionsError::CertWithoutKey);
        }
        if self.deprecated_kubelet_completely_insecure
            && (self.kubelet_insecure_tls
                || self.kubelet_certificate_authority.is_some()
                || self.kubelet_client_certificate.is_some())
        {
            return Err(OptionsError::DeprecatedWithTls);
        }
        if self.tls_cert_file.is_some() != self.tls_private_key_file.is_some() {
            return Err(OptionsError::ServingCertWithoutKey);
        }
        Ok(())
    }

    /// Parse argv (argv[0] is the program name), dropping the generic apiserver flags we do not act on.
    pub fn parse_args(args: Vec<OsString>) -> Result<Options, clap::Error> {
        let (args, ignored) = strip_ignored(args);
        let mut opts = Options::try_parse_from(args)?;
        opts.ignored_flags = ignored;
        Ok(opts)
    }
}

/// Generic apiserver flags that take a value (`--flag=v` or `--flag v`).
const IGNORED_VALUE_FLAGS: &[&str] = &[
    "advertise-address",
    "cors-allowed-origins",
    "emulated-version",
    "min-compatibility-version",
    "external-hostname",
    "feature-gates",
    "goaway-chance",
    "livez-grace-period",
    "max-requests-inflight",
    "max-mutating-requests-inflight",
    "min-request-timeout",
    "request-timeout",
    "shutdown-delay-duration",
    "shutdown-watch-termination-grace-period",
    "storage-initialization-timeout",
    "strict-transport-security-directives",
    "tls-curve-preferences",
    "http2-max-streams-per-connection",
    "audit-policy-file",
    "audit-log-path",
    "audit-log-format",
    "audit-log-maxage",
    "audit-log-maxbackup",
    "audit-log-maxsize",
    "audit-log-mode",
    "audit-log-version",
    "audit-log-batch-buffer-size",
    "audit-log-batch-max-size",
    "audit-log-batch-max-wait",
    "audit-log-batch-throttle-burst",
    "audit-log-batch-throttle-qps",
    "audit-log-truncate-max-batch-size",
    "audit-log-truncate-max-event-size",
    "audit-webhook-config-file",
    "audit-webhook-mode",
    "audit-webhook-batch-buffer-size",
    "audit-webhook-batch-max-size",
    "audit-webhook-batch-max-wait",
    "audit-webhook-batch-throttle-burst",
    "audit-webhook-batch-throttle-qps",
    "audit-webhook-initial-backoff",
    "audit-webhook-truncate-max-batch-size",
    "audit-webhook-truncate-max-event-size",
    "audit-webhook-version",
    "debug-socket-path",
    "vmodule",
    "log-flush-frequency",
    "log-json-info-buffer-size",
    "log-text-info-buffer-size",
];

/// Generic apiserver boolean flags (`--flag` or `--flag=bool`).
const IGNORED_BOOL_FLAGS: &[&str] = &[
    "emulation-forward-compatible",
    "runtime-config-emulation-forward-compatible",
    "shutdown-send-retry-after",
    "disable-http2-serving",
    "permit-address-sharing",
    "permit-port-sharing",
    "audit-log-compress",
    "audit-log-batch-throttle-enable",
    "audit-log-truncate-enabled",
    "audit-webhook-batch-throttle-enable",
    "audit-webhook-truncate-enabled",
    "profiling",
    "contention-profiling",
    "enable-priority-and-fairness",
    "log-json-split-stream",
    "log-text-split-stream",
    "logtostderr",
    "alsologtostderr",
];

/// Why the flags above are accepted without effect (logged once per flag at start).
pub const IGNORED_REASON: &str = "a generic API-server setting kubestate does not implement";

/// Drops the generic API-server flags from argv and names each one given (once, in order).
fn strip_ignored(args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let mut ignored: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(a0) = iter.next() {
        out.push(a0);
    }
    while let Some(arg) = iter.next() {
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        let Some(body) = s.strip_prefix("--") else {
            out.push(arg);
            continue;
        };
        let (name, has_value) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        let takes_value = IGNORED_VALUE_FLAGS.contains(&name);
        if takes_value || IGNORED_BOOL_FLAGS.contains(&name) {
            let flag = format!("--{name}");
            if !ignored.contains(&flag) {
                ignored.push(flag);
            }
            if takes_value && !has_value {
                let _value = iter.next();
            }
            continue;
        }
        out.push(arg);
    }
    (out, ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_flags_take_the_last_value_and_lists_accumulate() {
        let o = parse(&[
            "--kubelet-request-timeout=5s",
            "--kubelet-request-timeout=9s",
            "--secure-port=1",
            "--secure-port",
            "2",
            "--kubelet-preferred-address-types=InternalIP",
            "--kubelet-preferred-address-types=Hostname,ExternalIP",
        ])
        .unwrap();
        assert_eq!(o.kubelet_request_timeout, Duration::from_secs(9));
        assert_eq!(o.secure_port, 2);
        assert_eq!(o.kubelet_preferred_address_types, ["InternalIP", "Hostname", "ExternalIP"]);
    }

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        let mut v: Vec<OsString> = vec!["metrics-server".into()];
        v.extend(args.iter().map(OsString::from));
        Options::parse_args(v)
    }

    #[test]
    fn defaults_match_upstream() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.metric_resolution, Duration::from_secs(60));
        assert_eq!(o.kubelet_port, 10250);
        assert_eq!(o.secure_port, 443);
        assert_eq!(o.kubelet_request_timeout, Duration::from_secs(10));
        assert_eq!(
            o.kubelet_preferred_address_types,
            ["Hostname", "InternalDNS", "InternalIP", "ExternalDNS", "ExternalIP"]
        );
        assert_eq!(o.authorization_always_allow_paths, ["/healthz", "/readyz", "/livez"]);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn seed_manifest_args_start_unchanged() {
        let o = parse(&[
            "--cert-dir=/tmp",
            "--secure-port=4443",
            "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port",
            "--kubelet-insecure-tls",
            "--metric-resolution=15s",
            "--profiling=false",
            "--audit-log-path",
            "-",
            "--tls-min-version=VersionTLS12",
            "--v=4",
        ])
        .unwrap();
        assert_eq!(o.secure_port, 4443);
        assert!(o.kubelet_use_node_status_port && o.kubelet_insecure_tls);
        assert_eq!(o.metric_resolution, Duration::from_secs(15));
        assert_eq!(o.kubelet_preferred_address_types, ["InternalIP", "ExternalIP", "Hostname"]);
        assert_eq!(o.verbosity, 4);
        assert!(o.validate().is_ok());
        let o = parse(&["--metric-resolution=30s", "--kubelet-insecure-tls=false", "-l", "a!=b"]).unwrap();
        assert!(!o.kubelet_insecure_tls);
        assert_eq!(o.node_selector, "a!=b");
    }

    #[test]
    fn validation_rules() {
        let bad = |args: &[&str]| parse(args).unwrap().validate().unwrap_err();
        assert!(matches!(bad(&["--metric-resolution=5s"]), OptionsError::Resolution(_)));
        assert!(parse(&["--metric-resolution=10s", "--kubelet-request-timeout=9s"]).unwrap().validate().is_ok());
        assert!(matches!(
            bad(&["--metric-resolution=10s", "--kubelet-request-timeout=10s"]),
            OptionsError::ResolutionVsTimeout(..)
        ));
        assert_eq!(bad(&["--kubelet-insecure-tls", "--kubelet-certificate-authority=/x"]), OptionsError::CaAndInsecure);
        assert_eq!(bad(&["--kubelet-client-certificate=/x"]), OptionsError::CertWithoutKey);
        assert_eq!(
            bad(&["--deprecated-kubelet-completely-insecure", "--kubelet-insecure-tls"]),
            OptionsError::DeprecatedWithTls
        );
    }

    #[test]
    fn tls_flags() {
        use crate::tls::MinVersion;
        let o = parse(&[
            "--tls-min-version=VersionTLS13",
            "--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
            "--tls-sni-cert-key=a.crt,a.key",
            "--tls-sni-cert-key",
            "b.crt, b.key:*.foo.com,foo.com",
        ])
        .unwrap();
        assert_eq!(o.tls_min_version, Some(MinVersion::Tls13));
        assert_eq!(o.tls_cipher_suites, ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"]);
        assert_eq!(o.tls_sni_cert_key.len(), 2);
        assert_eq!(o.tls_sni_cert_key[1].names, ["*.foo.com", "foo.com"]);
        assert_eq!(o.tls_sni_cert_key[1].key, std::path::PathBuf::from("b.key"));
        assert_eq!(parse(&["--tls-min-version=VersionTLS12"]).unwrap().tls_min_version, Some(MinVersion::Tls12));
        let err = |args: &[&str]| parse(args).unwrap_err().to_string();
        assert!(err(&["--tls-min-version=VersionTLS99"]).contains("unknown tls version \"VersionTLS99\""));
        assert!(err(&["--tls-min-version=VersionTLS10"]).contains("TLS 1.2 and 1.3 only"));
        assert!(err(&["--tls-min-version=VersionTLS11"]).contains("VersionTLS11 cannot be served"));
        let e = err(&["--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA"]);
        assert!(e.contains("TLS_RSA_WITH_AES_128_CBC_SHA is not served by this server"), "{e}");
        assert!(
            err(&["--tls-cipher-suites=TLS_MADE_UP"])
                .contains("cipher suite TLS_MADE_UP not supported or doesn't exist")
        );
        assert!(err(&["--tls-sni-cert-key=a.crt"]).contains("expected comma separated certificate and key file paths"));
        assert!(err(&["--tls-sni-cert-key=a.crt,a.key:"]).contains("empty names list is not allowed"));
        assert!(parse(&[]).unwrap().anonymous_auth);
        assert!(!parse(&["--anonymous-auth=false"]).unwrap().anonymous_auth);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1m0s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_go_duration("15").is_err());
        assert!(parse_go_duration("").is_err());
    }
}
