//! External tools some end-to-end tests drive (kubectl, promtool, prometheus, helm). `.ci/run` installs
//! them and sets `CI=true`; there a missing tool fails the test instead of skipping it, so a green CI run
//! means the tests ran. Elsewhere a missing tool skips the test with a notice. kube-sim's own kubectl
//! tests include this file too, so every test finds its tools the same way.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;

/// Whether the environment says this is a CI run (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// `name` found on `PATH`; `None` (after a notice) when it is missing outside CI.
///
/// # Panics
/// When the tool is missing and [`in_ci`] holds.
pub fn tool(name: &str) -> Option<PathBuf> {
    find_tool(name, std::env::var_os("PATH").as_deref(), in_ci())
}

/// [`tool`] with the search path and the CI flag given.
pub fn find_tool(name: &str, path: Option<&OsStr>, ci: bool) -> Option<PathBuf> {
    let found = path.and_then(|p| std::env::split_paths(p).map(|d| d.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(!ci, "{name} is required when CI=true (.ci/run installs it) but is not on PATH");
        println!("NOTICE: {name} not found on PATH; skipping the part of this test that needs it");
    }
    found
}
