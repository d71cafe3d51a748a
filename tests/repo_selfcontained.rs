//! The repository is self-contained: what a build, a test or a document needs lives inside it. No tracked
//! file names a path of the machine it was written on, and no relative path climbs out of the checkout
//! (a test that reads a directory beside the checkout passes only there, never on a fresh clone).

mod tools;

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tracked files (`git ls-files`), or every file outside build output when this is no git checkout.
fn tracked_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git").arg("-C").arg(repo()).args(["ls-files", "-z"]).output();
    if let Some(out) = out.ok().filter(|o| o.status.success() && !o.stdout.is_empty()) {
        return out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()).map(|p| repo().join(bytes_path(p))).collect();
    }
    let mut files = Vec::new();
    walk(&repo(), &mut files);
    files
}

fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if !matches!(name.to_str(), Some("target" | ".git" | "bench-results")) {
                walk(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// Path fragments that only exist on the machine the project was developed on. Spelled in pieces so
/// that this file does not match itself.
fn machine_paths() -> Vec<String> {
    let parent = "..";
    vec![
        format!("{parent}/shared"),
        format!("{parent}\\shared"),
        ["/", "work", "/"].concat(),
        ["/", "root", "/"].concat(),
        ["/", "home", "/"].concat(),
    ]
}

/// Lexically resolves `rel` against `base`; `None` when it climbs above the filesystem root.
fn resolve(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            // Popping in the guard: a `..` that finds nothing left to pop leaves the root.
            Component::ParentDir if !out.pop() => return None,
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    Some(out)
}

/// The directory of the crate a Rust file belongs to (nearest ancestor with a Cargo.toml).
fn crate_dir(file: &Path) -> PathBuf {
    file.ancestors().skip(1).find(|d| d.join("Cargo.toml").is_file()).unwrap_or(&repo()).to_path_buf()
}

/// `..` and a slash, spelled so that this file's own text does not contain it.
const UP: &str = concat!("..", "/");

/// Relative paths starting with [`UP`] in `line`, up to the next quote, bracket, backtick or blank.
fn relative_paths(line: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find(UP) {
        let starts_token = i == 0 || matches!(rest.as_bytes()[i - 1], b'"' | b'(' | b'`' | b' ' | b'\'' | b'=');
        let tail = &rest[i..];
        let end = tail.find(['"', ')', '`', ' ', '\'', '\t', ']', ',']).unwrap_or(tail.len());
        if starts_token {
            found.push(&tail[..end]);
        }
        rest = &tail[end.max(3)..];
    }
    found
}

#[test]
fn no_tracked_file_refers_to_a_path_outside_the_repository() {
    let root = repo();
    let files = tracked_files();
    assert!(files.len() > 100, "found only {} files under {}", files.len(), root.display());
    let forbidden = machine_paths();
    let mut problems = Vec::new();
    for f in &files {
        // Binary files (fuzz corpus, images) hold no paths worth checking.
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let shown = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        let is_rust = f.extension() == Some(OsStr::new("rs"));
        for (n, line) in text.lines().enumerate() {
            for frag in &forbidden {
                if line.contains(frag.as_str()) {
                    problems.push(format!("{shown}:{}: names {frag:?}: {}", n + 1, line.trim()));
                }
            }
            for rel in relative_paths(line) {
                // Rust code joins paths to CARGO_MANIFEST_DIR, i.e. the crate; `#[path]` and documents
                // are relative to their own file.
                let base = if is_rust && !line.trim_start().starts_with("#[path") {
                    crate_dir(f)
                } else {
                    f.parent().unwrap_or(&root).to_path_buf()
                };
                if resolve(&base, rel).is_none_or(|p| !p.starts_with(&root)) {
                    problems.push(format!("{shown}:{}: {rel:?} leads outside the repository", n + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "paths outside the repository:\n{}", problems.join("\n"));
}

#[test]
fn the_guard_sees_what_it_guards_against() {
    let root = repo();
    // Relative paths are spelled with `up` so that the scan of this file does not flag its own examples.
    let up = "..";
    let crate_file = root.join("crates/state-metrics/tests/common/mod.rs");
    let escapes = |rel: &str| resolve(&crate_dir(&crate_file), rel).is_none_or(|p| !p.starts_with(&root));
    assert_eq!(crate_dir(&crate_file), root.join("crates/state-metrics"));
    assert!(escapes(&format!("{up}/{up}/{up}/shared/spec/ksm-metrics.tsv")));
    assert!(!escapes(&format!("{up}/{up}/spec/families.tsv")));
    let line = format!(r#"x.join("{up}/{up}/spec/a.tsv") and [doc]({up}/b.md) `{up}/c`"#);
    assert_eq!(relative_paths(&line), [format!("{up}/{up}/spec/a.tsv"), format!("{up}/b.md"), format!("{up}/c")]);
    assert!(relative_paths(&format!("a/{up}/b and foo{up}/bar")).is_empty());
    let line = format!("read {}/spec", machine_paths()[0]);
    assert!(machine_paths().iter().any(|f| line.contains(f.as_str())));
}

#[test]
#[should_panic(expected = "required when CI=true")]
fn a_missing_tool_fails_the_test_under_ci() {
    tools::find_tool("kubestate-no-such-tool", Some(OsStr::new("")), true);
}

#[test]
fn a_missing_tool_skips_outside_ci() {
    assert_eq!(tools::find_tool("kubestate-no-such-tool", Some(OsStr::new("")), false), None);
    let sh = tools::find_tool("sh", Some(OsStr::new("/bin:/usr/bin")), true);
    assert!(sh.is_some_and(|p| p.ends_with("sh")));
}
