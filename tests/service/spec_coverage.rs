//! Every rule of `orgroster::rules` outside STAT is cited by at least one test.

use std::{collections::BTreeSet, fs, path::Path};

/// Rule ids named in `text` (`INV-2`, and ranges such as `INV-10..12`).
fn ids_in(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_uppercase() {
            i += 1;
        }
        if i - start >= 3 && i + 1 < bytes.len() && bytes[i] == '-' && bytes[i + 1].is_ascii_digit()
        {
            let prefix: String = bytes[start..i].iter().collect();
            i += 1;
            let n_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let first: u32 = bytes[n_start..i]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(0);
            let mut last = first;
            if i + 2 < bytes.len() && bytes[i] == '.' && bytes[i + 1] == '.' {
                let r_start = i + 2;
                let mut j = r_start;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                if let Ok(end) = bytes[r_start..j].iter().collect::<String>().parse::<u32>() {
                    last = end.max(first);
                    i = j;
                }
            }
            ids.extend((first..=last).map(|n| format!("{prefix}-{n}")));
        } else if i == start {
            i += 1;
        }
    }
    ids
}

/// Citations in test code: every file under `dir` when `whole_files`, otherwise only what
/// follows a file's `#[cfg(test)]` (unit tests beside the code). The conformance suite is test
/// code as a whole.
fn cited_in(dir: &Path, whole_files: bool, out: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            let whole = whole_files || path.ends_with("conformance");
            cited_in(&path, whole, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            let tests = if whole_files {
                text.as_str()
            } else {
                text.find("#[cfg(test)]").map_or("", |at| &text[at..])
            };
            for line in tests.lines() {
                if let Some(at) = line.find("spec:") {
                    out.extend(ids_in(&line[at..]));
                }
            }
        }
    }
}

#[test]
fn every_rule_outside_stat_is_cited_by_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = fs::read_to_string(root.join("src/rules.rs")).unwrap();
    let defined: BTreeSet<String> = rules
        .lines()
        .filter_map(|l| l.strip_prefix("//! ### "))
        .flat_map(|l| ids_in(l.split(' ').next().unwrap_or("")))
        .filter(|id| !id.starts_with("STAT-"))
        .collect();
    assert!(defined.len() > 30, "rules parsed: {defined:?}");
    let mut cited = BTreeSet::new();
    cited_in(&root.join("tests"), true, &mut cited);
    cited_in(&root.join("src"), false, &mut cited);
    let missing: Vec<_> = defined.difference(&cited).collect();
    assert!(missing.is_empty(), "rules no test cites: {missing:?}");
}

#[test]
fn rule_ranges_expand() {
    assert_eq!(
        ids_in("spec: INV-10..12, ROLE-2"),
        ["INV-10", "INV-11", "INV-12", "ROLE-2"]
    );
}
