//! Resource usage of a child process, read from /proc (Linux only; other systems report zeros).

use std::path::Path;

/// Resident set size now and its high-water mark, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mem {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    /// The anonymous part of `rss_kib` (heap, stacks): the process's own memory. The rest is mostly
    /// the binary's pages, whose count depends on how the file sits in the page cache (a fresh copy of
    /// the same binary maps ~3 MiB more), not on the code.
    pub anon_kib: u64,
}

/// Parses `VmRSS` / `VmHWM` out of a /proc/PID/status text.
pub fn parse_status(text: &str) -> Mem {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Mem { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:"), anon_kib: field("RssAnon:") }
}

/// Parses utime + stime (clock ticks) out of a /proc/PID/stat line. The command name may contain
/// spaces and parentheses, so fields are counted from the last ')'.
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 overall (index 0 here); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub fn mem(pid: u32) -> Mem {
    std::fs::read_to_string(format!("/proc/{pid}/status")).map(|t| parse_status(&t)).unwrap_or_default()
}

/// CPU time (user + system) the process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|t| parse_stat_ticks(&t));
    ticks.unwrap_or(0) as f64 / clk_tck()
}

/// CPU time the calling thread has used so far, in seconds (clock ticks: time long stretches).
pub fn thread_cpu_seconds() -> f64 {
    let ticks = std::fs::read_to_string("/proc/thread-self/stat").ok().and_then(|t| parse_stat_ticks(&t));
    ticks.unwrap_or(0) as f64 / clk_tck()
}

/// USER_HZ; 100 on every mainstream Linux, asked of getconf once in case this one differs.
fn clk_tck() -> f64 {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(100.0)
    })
}

/// `nproc` and the CPU model, for the report header.
pub fn machine() -> (usize, String) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let model = std::fs::read_to_string(Path::new("/proc/cpuinfo"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name").map(|r| r.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown".into());
    (cores, model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let t = "Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\nRssAnon:\t   50000 kB\nRssFile:\t 15000 kB\n";
        assert_eq!(parse_status(t), Mem { rss_kib: 65432, hwm_kib: 123456, anon_kib: 50000 });
        assert_eq!(parse_status(""), Mem::default());
    }

    #[test]
    fn stat_ticks_with_odd_name() {
        let t = "4242 (tokio (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 100 1000 200";
        assert_eq!(parse_stat_ticks(t), Some(300));
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn own_process_is_measurable() {
        let m = mem(std::process::id());
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib);
        assert!(m.anon_kib > 0 && m.anon_kib <= m.rss_kib);
    }
}
