//! Private keys and credentials written to disk (metrics-server's self-signed serving key, the
//! simulator's CA and serving keys, its admin kubeconfig) are readable by their owner alone: mode 0600
//! from the moment the file exists, and an existing file with a looser mode is tightened before it is
//! rewritten.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

/// Writes `contents` to `path` (created or truncated) with owner-only permissions on Unix.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    // `mode` applies only when the file is created; an existing file keeps its own until told.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(contents.as_ref())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_end_owner_only() {
        let dir = std::env::temp_dir().join(format!("privatefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("fresh.key");
        super::write(&fresh, "secret").unwrap();
        assert_eq!(mode(&fresh), 0o600);
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "secret");

        let old = dir.join("old.key");
        std::fs::write(&old, "a much longer old secret").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write(&old, b"new").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
