//! The shape of the code, held by a test: domain code names no storage attribute, key prefix,
//! index or item builder (those live in `store::schema`), no caller reads a transaction's
//! refusal by position, and no source file grows past the size a reader takes in at once.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target" && n != "node_modules") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Code lines (comments and `#[cfg(test)]` modules aside).
fn code_of(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start() == "#[cfg(test)]" {
            break;
        }
        if !line.trim_start().starts_with("//") {
            lines.push((n + 1, line));
        }
    }
    lines
}

#[test]
fn domain_code_names_no_storage_attribute_key_or_builder() {
    let mut files = Vec::new();
    rust_files(&workspace().join("shared/src/domain"), &mut files);
    assert!(files.len() > 10, "the domain modules are found");
    let forbidden_words = ["Item", "Update", "Condition", "Write", "Query", "GSI1PK", "GSI1SK", "TTL", "keys::"];
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_of(&text) {
            let words: Vec<&str> = line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).collect();
            for word in forbidden_words {
                if words.iter().any(|w| *w == word || w.starts_with(word) && word.ends_with("::")) {
                    found.push(format!("{}:{n}: {word}: {}", file.display(), line.trim()));
                }
            }
            // A key prefix in a string: `"ORDER#"`, `"USER#{id}"`.
            let prefix = line.split('"').skip(1).step_by(2).find(|s| {
                s.split_once('#').is_some_and(|(head, _)| {
                    !head.is_empty() && head.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            });
            if let Some(prefix) = prefix {
                found.push(format!("{}:{n}: key prefix {prefix:?}", file.display()));
            }
        }
    }
    assert!(found.is_empty(), "storage leaks into the domain:\n{}", found.join("\n"));
}

#[test]
fn no_caller_reads_a_transaction_refusal_by_position() {
    let mut files = Vec::new();
    for dir in ["shared/src", "functions", "cli/src"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let by_index = line.contains("failed_at(")
                || line.contains("failed.contains(&(")
                || line.split("failed.contains(&").skip(1).any(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            if by_index {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "refusals read by position:\n{}", found.join("\n"));
}

/// Lines a source file may have.
const MAX_LINES: usize = 400;

#[test]
fn no_source_file_passes_the_size_a_reader_takes_in() {
    let mut files = Vec::new();
    for dir in ["shared/src", "shared/tests", "functions", "cli", "testkit"] {
        rust_files(&workspace().join(dir), &mut files);
    }
    let mut long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    long.sort();
    assert!(long.is_empty(), "files past {MAX_LINES} lines:\n{}", long.join("\n"));
}
