//! Tidy: repository rules checked as a test (rust-analyzer's tidy).

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn files(dir: &str) -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    rust_files(&root().join(dir), &mut paths);
    paths.sort();
    paths.into_iter().map(|p| (p.clone(), fs::read_to_string(&p).expect("utf-8 source"))).collect()
}

#[test]
fn every_source_file_says_what_it_owns() {
    for (path, text) in files("src") {
        assert!(text.trim_start().starts_with("//!"), "{} has no //! header", path.display());
    }
}

#[test]
fn unsafe_lives_only_in_the_fiber_module() {
    for (path, text) in files("src") {
        if path.ends_with("sim/fiber.rs") {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            assert!(
                !code.contains("unsafe"),
                "{}:{}: unsafe outside sim/fiber.rs",
                path.display(),
                n + 1
            );
        }
    }
}

#[test]
fn no_test_is_expected_to_panic_or_skipped() {
    let banned = [concat!("#[should", "_panic"), concat!("#[ig", "nore")];
    for dir in ["src", "tests", "benches", "examples"] {
        for (path, text) in files(dir) {
            for word in banned {
                assert!(!text.contains(word), "{} uses {word}]", path.display());
            }
        }
    }
}

#[test]
fn every_ddk_call_is_in_the_book_map() {
    let ddk = fs::read_to_string(root().join("src/ddk.rs")).expect("ddk.rs");
    let map = fs::read_to_string(root().join("docs/BOOK_MAP.md")).expect("BOOK_MAP.md");
    let mut checked = 0;
    for line in ddk.lines() {
        let Some(rest) = line.strip_prefix("pub use crate::") else { continue };
        let name = match rest.split_once(" as ") {
            Some((_, alias)) => alias.trim_end_matches(';'),
            None if !rest.contains('{') => {
                rest.rsplit("::").next().unwrap_or_default().trim_end_matches(';')
            }
            None => continue,
        };
        if name == "*" {
            continue;
        }
        assert!(map.contains(&format!("`{name}")), "docs/BOOK_MAP.md does not list `{name}`");
        checked += 1;
    }
    assert!(checked > 30, "parsed only {checked} ddk calls");
}

#[test]
fn the_readme_opens_with_the_run_and_test_commands() {
    let readme = fs::read_to_string(root().join("README.md")).expect("README.md");
    let head: Vec<&str> = readme.lines().take(8).collect();
    assert!(head.iter().any(|l| l.starts_with("cargo run")), "{head:?}");
    assert!(head.iter().any(|l| l.starts_with("cargo test")), "{head:?}");
    let ci = fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(ci.lines().any(|l| l == "cargo test"), "CI runs the README's test command");
}
