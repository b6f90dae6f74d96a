//! The core's modules form no dependency cycle (docs/architecture.md): a
//! module of `src/` (outside the C layer `src/ffi/`) may use only modules
//! below it. Each module's `crate::name` references, outside its unit tests,
//! are its edges; a cycle fails with the path that closes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The core modules and the core modules each one refers to.
fn core_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            let mut text = std::fs::read_to_string(&path).unwrap();
            // A module's own directory (program/reload.rs) belongs to it.
            let dir = src.join(name);
            if dir.is_dir() {
                for sub in std::fs::read_dir(dir).unwrap() {
                    text.push_str(&std::fs::read_to_string(sub.unwrap().path()).unwrap());
                }
            }
            sources.insert(name.to_string(), text);
        }
    }
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            let mut uses = BTreeSet::new();
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                // `crate::name::...`, `crate::name;` or `crate::{a, b::c}`.
                let group = if let Some(inner) = rest.strip_prefix('{') {
                    &inner[..inner.find('}').unwrap_or(inner.len())]
                } else {
                    rest
                };
                for part in group.split(',') {
                    let word: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if names.contains(&word) && &word != name {
                        uses.insert(word);
                    }
                    if !rest.starts_with('{') {
                        break;
                    }
                }
            }
            (name.clone(), uses)
        })
        .collect()
}

/// A cycle through `from`, as a path, if there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in &graph[node] {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_string()];
    walk(graph, from, from, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_core_modules_form_no_cycle() {
    let graph = core_dependencies();
    assert!(graph.len() > 20, "found only {} core modules", graph.len());
    assert!(
        graph["runtime"].contains("program"),
        "the scan lost the runtime's use of programs"
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|path| path.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_engine_layer_does_not_know_the_runtime() {
    let graph = core_dependencies();
    for module in [
        "instance",
        "link",
        "guest_env",
        "builtins",
        "wasi",
        "host_import",
    ] {
        for above in ["runtime", "runtime_shared", "program"] {
            assert!(
                !graph[module].contains(above),
                "{module} uses {above}: the engine layer gets the runtime's services through host::HostServices"
            );
        }
    }
}

#[test]
fn a_cycle_is_reported() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(m, uses)| (m.to_string(), uses.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycle_from(&graph, "a").unwrap().join(" -> "),
        "a -> b -> c -> a"
    );
    assert!(cycle_from(&graph, "d").is_none());
}
