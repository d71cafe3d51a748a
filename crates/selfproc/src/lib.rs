//! The `process_*` families both servers expose, as Go's process collector writes them: read from the
//! process's own `/proc` entries, cheap enough to run on every `/metrics` read (metrics-server keeps a
//! connection per kubelet, so at a few thousand nodes a directory listing of `/proc/self/fd` on each read
//! cost more than the read itself).

use std::path::Path;

use exposition::{write_header, write_sample};

/// The number of open file descriptors, as Go's process collector reports it.
///
/// Linux 6.2 and later report the count as the size of `/proc/self/fd`, one `stat` call; older kernels
/// report 0 there, and the directory is listed instead (not counting the descriptor the listing holds).
pub fn open_fds() -> Option<usize> {
    open_fds_in(Path::new("/proc/self/fd"))
}

fn open_fds_in(dir: &Path) -> Option<usize> {
    match std::fs::metadata(dir) {
        Ok(m) if m.len() > 0 => Some(m.len() as usize),
        Ok(_) => std::fs::read_dir(dir).ok().map(|d| d.count().saturating_sub(1)),
        Err(_) => None,
    }
}

/// What the process collector reports, read from `/proc`; a value that cannot be read is left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub max_fds: Option<f64>,
    pub network_receive_bytes: Option<f64>,
    pub network_transmit_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub start_time_seconds: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub virtual_max_bytes: Option<f64>,
}

/// USER_HZ: /proc reports CPU times and the start time in these ticks.
const CLOCK_TICKS: f64 = 100.0;

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let fds = open_fds().map(|n| n as f64);
        Self::parse(
            read("/proc/self/stat").as_deref(),
            read("/proc/self/status").as_deref(),
            read("/proc/self/limits").as_deref(),
            read("/proc/stat").as_deref(),
            read("/proc/self/net/dev").as_deref(),
            fds,
        )
    }

    pub fn parse(
        stat: Option<&str>,
        status: Option<&str>,
        limits: Option<&str>,
        system_stat: Option<&str>,
        net_dev: Option<&str>,
        open_fds: Option<f64>,
    ) -> ProcessStats {
        // Fields after the command name, which is in parentheses and may hold spaces; index 0 is field 3.
        let fields: Vec<&str> =
            stat.and_then(|s| s.rfind(')').map(|i| s[i + 1..].split_whitespace().collect())).unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        let kib = |key: &str| {
            status?
                .lines()
                .find_map(|l| l.strip_prefix(key))?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
                .map(|k| k * 1024.0)
        };
        // A soft limit; "unlimited" is the largest 64-bit value, as Go's procfs reads it.
        let limit = |prefix: &str| {
            let line = limits?.lines().find(|l| l.starts_with(prefix))?;
            let soft = line[prefix.len()..].split_whitespace().next()?;
            if soft == "unlimited" { Some(u64::MAX as f64) } else { soft.parse::<f64>().ok() }
        };
        let boot =
            system_stat.and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse::<f64>().ok());
        // Receive bytes are the first number after the interface name, transmit bytes the ninth.
        let (mut rx, mut tx, mut any) = (0.0, 0.0, false);
        for line in net_dev.unwrap_or("").lines().skip(2) {
            let Some((_, nums)) = line.split_once(':') else { continue };
            let n: Vec<f64> = nums.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            if n.len() >= 9 {
                rx += n[0];
                tx += n[8];
                any = true;
            }
        }
        ProcessStats {
            cpu_seconds: field(14).zip(field(15)).map(|(u, s)| (u + s) / CLOCK_TICKS),
            max_fds: limit("Max open files"),
            network_receive_bytes: any.then_some(rx),
            network_transmit_bytes: any.then_some(tx),
            open_fds,
            resident_bytes: kib("VmRSS:"),
            start_time_seconds: field(22).zip(boot).map(|(start, boot)| boot + start / CLOCK_TICKS),
            virtual_bytes: kib("VmSize:"),
            virtual_max_bytes: limit("Max address space"),
        }
    }
}

/// The `process_*` families, in name order as a Prometheus registry gathers them; a value that could not
/// be read leaves its family out.
pub fn render(out: &mut Vec<u8>, p: &ProcessStats) {
    let families: [(&str, &str, &str, Option<f64>); 9] = [
        ("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", p.cpu_seconds),
        ("process_max_fds", "Maximum number of open file descriptors.", "gauge", p.max_fds),
        (
            "process_network_receive_bytes_total",
            "Number of bytes received by the process over the network.",
            "counter",
            p.network_receive_bytes,
        ),
        (
            "process_network_transmit_bytes_total",
            "Number of bytes sent by the process over the network.",
            "counter",
            p.network_transmit_bytes,
        ),
        ("process_open_fds", "Number of open file descriptors.", "gauge", p.open_fds),
        ("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", p.resident_bytes),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "gauge",
            p.start_time_seconds,
        ),
        ("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", p.virtual_bytes),
        (
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            "gauge",
            p.virtual_max_bytes,
        ),
    ];
    for (name, help, kind, value) in families {
        let Some(v) = value else { continue };
        write_header(out, name, help, kind);
        write_sample(out, name, &[], v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path and the listing agree, and a new descriptor shows in the count.
    #[test]
    fn counts_open_descriptors() {
        let listed = || std::fs::read_dir("/proc/self/fd").unwrap().count() - 1;
        // Other test threads may open files meanwhile; a small tolerance keeps this exact enough.
        let (a, b) = (open_fds().unwrap(), listed());
        assert!(a.abs_diff(b) <= 2, "stat says {a}, listing says {b}");
        let before = open_fds().unwrap();
        let files: Vec<std::fs::File> = (0..20).map(|_| std::fs::File::open("/proc/self/stat").unwrap()).collect();
        let after = open_fds().unwrap();
        assert!(after >= before + 18, "before {before}, after opening 20: {after}");
        drop(files);
    }

    #[test]
    fn a_missing_directory_is_no_value() {
        assert_eq!(open_fds_in(Path::new("/proc/self/no-such-dir")), None);
    }

    #[test]
    fn process_families_from_proc() {
        let stat = "4242 (metrics server) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 8 0 12345 700000000 3000 18446744073709551615";
        let status = "Name:\tkubestate\nVmSize:\t  683592 kB\nVmRSS:\t   14336 kB\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1048576              1048576              files\nMax address space         unlimited            unlimited            bytes\n";
        let net = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  eth0: 2500      20    0    0    0     0          0         0      700       7    0    0    0     0       0          0\n";
        let p = ProcessStats::parse(
            Some(stat),
            Some(status),
            Some(limits),
            Some("cpu 1 2\nbtime 1700000000\n"),
            Some(net),
            Some(9.0),
        );
        let mut out = Vec::new();
        render(&mut out, &p);
        let text = String::from_utf8(out).unwrap();
        let want = "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 2
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 1.048576e+06
# HELP process_network_receive_bytes_total Number of bytes received by the process over the network.
# TYPE process_network_receive_bytes_total counter
process_network_receive_bytes_total 3500
# HELP process_network_transmit_bytes_total Number of bytes sent by the process over the network.
# TYPE process_network_transmit_bytes_total counter
process_network_transmit_bytes_total 1700
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 9
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.4680064e+07
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.70000012345e+09
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 6.99998208e+08
# HELP process_virtual_memory_max_bytes Maximum amount of virtual memory available in bytes.
# TYPE process_virtual_memory_max_bytes gauge
process_virtual_memory_max_bytes 1.8446744073709552e+19
";
        assert_eq!(text, want);
        // This process's own numbers are there on Linux.
        let live = ProcessStats::read();
        if cfg!(target_os = "linux") {
            assert!(live.resident_bytes.unwrap() > 0.0 && live.open_fds.unwrap() > 0.0);
        }
    }

    /// A command name with spaces and parentheses, a limit file without the address-space line.
    #[test]
    fn odd_command_names_and_missing_lines() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 0 0 0 0 0 250 150 0 0 20 0 1 0 1000 0 0";
        let limits = "Limit  Soft Limit  Hard Limit  Units\nMax open files            1024              4096              files\n";
        let p = ProcessStats::parse(Some(stat), None, Some(limits), Some("btime 1700000000\n"), None, None);
        assert_eq!(p.cpu_seconds, Some(4.0));
        assert_eq!(p.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(p.max_fds, Some(1024.0));
        assert_eq!((p.virtual_max_bytes, p.resident_bytes, p.network_receive_bytes), (None, None, None));
        let mut out = Vec::new();
        render(&mut out, &p);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("process_resident_memory_bytes") && !text.contains("process_open_fds"), "{text}");
    }
}
