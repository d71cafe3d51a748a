//! Go standard-library behaviour that kube-state-metrics and metrics-server users rely on, in one place
//! so that every flag, config file and API field reads and prints it the same way: `time.ParseDuration`
//! and `time.Duration.String()`, and the calendar arithmetic of `time.Date`. Pure functions; no IO.

pub mod civil;
mod duration;

pub use duration::{DurationError, format_duration, parse_duration, parse_duration_nanos};
