//! Library version, zstd style: macros for compile time, functions for the
//! library actually loaded at run time.

use std::ffi::c_char;

/// Major version: changes when the C API or ABI changes incompatibly.
pub const WASMCELL_VERSION_MAJOR: u32 = 0;
/// Minor version: new functions, compatible.
pub const WASMCELL_VERSION_MINOR: u32 = 2;
/// Patch version: fixes only.
pub const WASMCELL_VERSION_PATCH: u32 = 0;
/// `MAJOR * 10000 + MINOR * 100 + PATCH` of the header you compiled against;
/// compare with `wasmcell_version_number()` to detect a mismatched library.
pub const WASMCELL_VERSION_NUMBER: u32 =
    WASMCELL_VERSION_MAJOR * 10000 + WASMCELL_VERSION_MINOR * 100 + WASMCELL_VERSION_PATCH;

/// The version of the loaded library as a static NUL-terminated string
/// ("0.2.0"). Never NULL; do not free. Any thread.
///
/// # Safety
///
/// Any argument values are safe (no pointers).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The version of the loaded library as `MAJOR * 10000 + MINOR * 100 + PATCH`.
/// Any thread.
///
/// # Safety
///
/// Any argument values are safe (no pointers).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_version_number() -> u32 {
    WASMCELL_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_macros_match_the_crate_version() {
        let expected =
            format!("{WASMCELL_VERSION_MAJOR}.{WASMCELL_VERSION_MINOR}.{WASMCELL_VERSION_PATCH}");
        assert_eq!(expected, env!("CARGO_PKG_VERSION"));
        let text = unsafe { std::ffi::CStr::from_ptr(wasmcell_version()) };
        assert_eq!(text.to_str().unwrap(), expected);
    }
}
