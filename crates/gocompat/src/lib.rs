//! Go standard-library behaviour that kube-state-metrics and metrics-server users rely on, in one place
//! so that every flag, config file and API field reads and prints it the same way: `time.ParseDuration`
//! and `time.Duration.String()`, RFC 3339 times as `time.Parse` reads them, and the calendar arithmetic of
//! `time.Date`. Pure functions; no IO.

pub mod civil;
mod duration;
pub mod rfc3339;

pub use duration::{DurationError, format_duration, parse_duration, parse_duration_nanos};
