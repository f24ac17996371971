//! SECURITY.md names, for each claim, the test that shows it as
//! `` `file` → `test`, `test` ``. This keeps those pointers true: every
//! file named exists and defines every test named after it, so renaming or
//! removing a test that backs a security claim fails here until the claim
//! is updated. (It lives with the fuzz targets, which SECURITY.md cites
//! too, as the workspace has no crate for documents.)

use std::path::Path;

/// The (file, test) pairs SECURITY.md cites.
fn citations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut file: Option<String> = None;
    let mut after_arrow = false;
    for (i, piece) in text.split('`').enumerate() {
        if i % 2 == 0 {
            // Between code spans: an arrow starts a file's tests; any
            // other text but list punctuation ends them.
            let rest = piece.trim_matches(|c: char| c.is_whitespace() || c == ',');
            if rest.contains('→') {
                after_arrow = file.is_some();
            } else if !rest.is_empty() {
                after_arrow = false;
            }
            continue;
        }
        if piece.ends_with(".rs") {
            file = Some(piece.to_owned());
            after_arrow = false;
        } else if after_arrow
            && let Some(f) = &file
            && piece
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            out.push((f.clone(), piece.to_owned()));
        }
    }
    out
}

#[test]
fn every_test_security_md_cites_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let cited = citations(&text);
    assert!(cited.len() >= 30, "only {} citations found", cited.len());
    let mut missing = Vec::new();
    for (file, test) in &cited {
        let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        if !source.contains(&format!("fn {test}(")) {
            missing.push(format!("{file} → {test}"));
        }
    }
    assert!(
        missing.is_empty(),
        "SECURITY.md cites missing tests:\n{}",
        missing.join("\n")
    );
}
