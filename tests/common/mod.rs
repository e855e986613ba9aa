//! Golden-file helpers shared by the integration tests.
//!
//! `UPDATE_GOLDEN=1 cargo test` rewrites expected files instead of comparing; review the
//! diff like code before committing it. Under `CI=true` rewriting is refused: a golden
//! file is a reviewed change, never something a CI run blesses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Fixture folders that hold Lambda trigger events (Step Functions logs and histories have
/// their own harness): the golden and robustness harnesses read every file in them.
pub const EVENT_SOURCES: &[&str] = &[
    "aws-lambda-dotnet",
    "aws-lambda-go",
    "aws-lambda-java-libs",
    "aws-lambda-rust-runtime",
    "datadog-lambda-extension",
    "datadog-lambda-js",
    "datadog-lambda-python",
    "powertools-lambda-python",
    "powertools-lambda-typescript",
];

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether golden files are rewritten: only `UPDATE_GOLDEN=1`, and never under `CI=true`
/// (the test fails instead, so a CI run cannot bless its own output).
pub fn update_golden() -> bool {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let ci =
        std::env::var("CI").is_ok_and(|v| matches!(v.as_str(), "true" | "TRUE" | "True" | "1"));
    assert!(
        !(update && ci),
        "UPDATE_GOLDEN=1 under CI=true: golden files are rewritten only outside CI, and the \
         diff is reviewed like code"
    );
    update
}

/// Compares `actual` with the file at `expected`, or rewrites it under `UPDATE_GOLDEN=1`.
/// Returns a readable mismatch message instead of panicking so a harness can report every
/// failing case at once.
pub fn check(expected: &Path, actual: &str) -> Result<(), String> {
    if update_golden() {
        if let Some(dir) = expected.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(expected, actual).map_err(|e| format!("{}: {e}", expected.display()))?;
        return Ok(());
    }
    let want = std::fs::read_to_string(expected).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            expected.display()
        )
    })?;
    if want == actual {
        return Ok(());
    }
    let line = want
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| want.lines().count().min(actual.lines().count()));
    Err(format!(
        "{}: differs from line {}\n  expected: {}\n  actual:   {}",
        expected.display(),
        line + 1,
        want.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    ))
}

/// Pretty JSON with a trailing newline, the form every golden file uses.
pub fn pretty(value: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

/// The folders directly under `dir` (one golden case each), sorted; panics naming `dir`
/// when it cannot be read.
pub fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut cases: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Fails the test with every collected mismatch.
pub fn report(failures: Vec<String>, checked: usize) {
    assert!(checked > 0, "no golden cases found");
    assert!(
        failures.is_empty(),
        "{} of {checked} golden cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
