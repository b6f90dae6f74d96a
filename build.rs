//! Generates `include/wasmcell.h` from `src/ffi/` with cbindgen. The header is
//! committed; CI regenerates it and fails when the committed one differs.
//! It is only rewritten when its content changes, so builds stay incremental.

use std::path::{Path, PathBuf};

/// The header's sections in reading order: the file of `src/ffi/` whose
/// functions make up each one, and its title. cbindgen emits functions
/// grouped by file in alphabetical order; `in_reading_order` regroups them.
const SECTIONS: &[(&str, &str)] = &[
    ("status", "Status codes and error messages"),
    ("version", "Version"),
    ("runtime", "Runtime: create, configure, free"),
    ("program", "Programs: load, poll, reset, unload, inspect"),
    ("host", "Host functions and what a callback may do"),
    ("process_image", "Process image: inputs, outputs, signals"),
    ("reload", "Hot swap: reload, prepare, commit"),
    ("log", "Logging"),
    ("clock", "Clock"),
    ("cache", "Compiled-module cache"),
];

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // The shared library's SONAME carries the major version (libwasmcell.so.0
    // while the major version is 0), so installed hosts bind to an ABI, not a file.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwasmcell.so.{major}");
    }
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // The wasmer release compiled in, for the module cache's keys: read from
    // Cargo.toml, where it is pinned, so it is written down once.
    let windows = std::env::var("CARGO_CFG_WINDOWS").is_ok();
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!(
        "cargo:rustc-env=WASMCELL_WASMER_VERSION={}",
        pinned_wasmer(&crate_dir, windows)
    );
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let bindings = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => bindings,
        Err(error) => {
            // A header that cannot be generated must fail the build loudly,
            // not leave a stale header behind.
            panic!("cbindgen could not generate include/wasmcell.h: {error}");
        }
    };
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = in_reading_order(
        &String::from_utf8(generated).expect("cbindgen writes UTF-8"),
        &crate_dir,
    )
    .into_bytes();
    let path = crate_dir.join("include/wasmcell.h");
    if std::fs::read(&path).ok().as_deref() != Some(&generated[..]) {
        std::fs::create_dir_all(path.parent().expect("include/")).expect("create include/");
        std::fs::write(&path, generated).expect("write include/wasmcell.h");
    }
}

/// Regroups the function declarations of the generated header (each one a
/// doc comment and a declaration, separated by blank lines) into
/// [`SECTIONS`], keeping the source order within a file, under a banner per
/// section. Panics (failing the build) when a function's file is not listed.
fn in_reading_order(header: &str, crate_dir: &Path) -> String {
    const OPEN: &str = "extern \"C\" {\n#endif // __cplusplus\n";
    const CLOSE: &str = "#ifdef __cplusplus\n}  // extern \"C\"";
    let start = header.find(OPEN).expect("extern \"C\" block") + OPEN.len();
    let end = header[start..].find(CLOSE).expect("end of extern \"C\"") + start;
    let mut sections: Vec<Vec<&str>> = vec![Vec::new(); SECTIONS.len()];
    for block in header[start..end].split("\n\n") {
        let block = block.trim_matches('\n');
        if block.is_empty() {
            continue;
        }
        let declaration = block.rsplit("*/").next().expect("a declaration");
        let name = declaration
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|word| word.starts_with("wasmcell_") && declaration.contains(&format!("{word}(")))
            .unwrap_or_else(|| panic!("no function name in:\n{block}"));
        let section = SECTIONS
            .iter()
            .position(|(file, _)| defines(crate_dir, file, name))
            .unwrap_or_else(|| panic!("{name}: its src/ffi file is not in build.rs SECTIONS"));
        sections[section].push(block);
    }
    let mut body = String::from("\n");
    for ((_, title), blocks) in SECTIONS.iter().zip(&sections) {
        if blocks.is_empty() {
            continue;
        }
        body.push_str(&format!("/* ---- {title} ---- */\n\n"));
        for block in blocks {
            body.push_str(block);
            body.push_str("\n\n");
        }
    }
    format!("{}{}{}", &header[..start], body, &header[end..])
}

/// Whether `src/ffi/<file>.rs` defines the C function `name`.
fn defines(crate_dir: &Path, file: &str, name: &str) -> bool {
    let path = crate_dir.join("src/ffi").join(format!("{file}.rs"));
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    source.contains(&format!("extern \"C\" fn {name}("))
}

/// The exact wasmer version Cargo.toml pins for the target (`wasmer = {
/// version = "=X.Y.Z", ... }` in the `cfg(windows)` or `cfg(not(windows))`
/// dependency table).
fn pinned_wasmer(crate_dir: &Path, windows: bool) -> String {
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).expect("Cargo.toml");
    let table = if windows {
        "[target.'cfg(windows)'.dependencies]"
    } else {
        "[target.'cfg(not(windows))'.dependencies]"
    };
    let section = manifest
        .split(table)
        .nth(1)
        .unwrap_or_else(|| panic!("Cargo.toml has no {table}"));
    let line = section
        .lines()
        .take_while(|line| !line.starts_with('['))
        .find(|line| line.starts_with("wasmer ="))
        .unwrap_or_else(|| panic!("no wasmer dependency in {table}"));
    let version = line
        .split("version = \"=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("wasmer is not pinned with \"=X.Y.Z\" in {table}"));
    version.to_string()
}
