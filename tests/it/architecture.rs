//! The shape of the code, as docs/ARCHITECTURE.md describes it: no cycle between the modules
//! of `src/` (a module is a top-level file or folder; an edge is a `crate::<module>` use
//! outside test code), and no source file over 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 600;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file of `src/` belongs to.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).expect("a file under src/");
    let first = relative.components().next().expect("a path");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

/// The code of a file without its unit tests (`#[cfg(test)] mod tests { ... }` at the end, or
/// a whole `tests.rs`).
fn non_test_code(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = fs::read_to_string(file).expect("a readable file");
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src()) {
        let from = module_of(&file);
        if from == "main" || from == "lib" {
            continue;
        }
        let code = non_test_code(&file);
        let uses = graph.entry(from.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != from {
                uses.insert(name);
            }
        }
    }
    graph
}

/// A cycle through `node`, if the graph has one reachable from it.
fn find_cycle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    node: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    path.push(node.to_owned());
    for next in graph.get(node).into_iter().flatten() {
        if let Some(cycle) = find_cycle(graph, next, path) {
            return Some(cycle);
        }
    }
    path.pop();
    None
}

#[test]
fn the_modules_have_no_cycle() {
    let graph = module_graph();
    assert!(graph.contains_key("config") && graph.contains_key("cluster"));
    assert!(
        graph["cluster"].contains("config"),
        "the graph sees crate:: uses"
    );
    for module in graph.keys() {
        if let Some(cycle) = find_cycle(&graph, module, &mut Vec::new()) {
            panic!("modules form a cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = rust_files(&src());
    files.extend(rust_files(&root.join("tests")));
    assert!(files.len() > 20, "found {} files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = fs::read_to_string(file).expect("readable").lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
