//! Generates `include/wasmcell.h` from `src/ffi/` with cbindgen. The header is
//! committed; CI regenerates it and fails when the committed one differs.
//! It is only rewritten when its content changes, so builds stay incremental.

use std::path::PathBuf;

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
    let path = crate_dir.join("include/wasmcell.h");
    if std::fs::read(&path).ok().as_deref() != Some(&generated[..]) {
        std::fs::create_dir_all(path.parent().expect("include/")).expect("create include/");
        std::fs::write(&path, generated).expect("write include/wasmcell.h");
    }
}
