//! Reads of the process's own `/proc` entries that both servers' `process_*` families need, made cheap
//! enough to run on every `/metrics` read: metrics-server keeps a connection per kubelet, so at a few
//! thousand nodes a directory listing of `/proc/self/fd` on each read cost more than the read itself.

use std::path::Path;

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
}
