//! Module fuzzer for wasmcell (stable Rust, no cargo-fuzz): generated
//! WebAssembly modules, valid and deliberately broken, each loaded, polled
//! under small budgets and memory limits, checked against raw wasmer,
//! reset, hot-swapped to another generated module and unloaded. See
//! docs/reliability.md.
//!
//! ```text
//! cargo run --release --example fuzz_modules -- [--seed N] [--iterations M] [--seconds S]
//!     [--replay SEED] [--verbose] [--hang-seconds H] [--save DIR] [--rss-tolerance-mib T]
//! ```
//!
//! Iteration i runs seed N + i; a failure names its seed, and
//! `--replay SEED` (`make fuzz-replay SEED=...`) runs that one seed again,
//! printing every step. Exit status: 0 clean, 1 a check failed, 2 bad
//! arguments, 3 a hang (watchdog), 70 a crash (signal).

#[cfg(not(windows))]
#[path = "../tests/fuzz_driver/mod.rs"]
mod fuzz_driver;

#[cfg(not(windows))]
use fuzz_driver::Options;
#[cfg(not(windows))]
use std::path::PathBuf;

/// Not on Windows: the crash reporter is built on POSIX signal handlers,
/// and the generator (wasm-smith 0.257) matches wasmer 7's wasmparser.
#[cfg(windows)]
fn main() {
    eprintln!("fuzz_modules: not available on Windows (POSIX crash reporter; generator matched to wasmer 7); run it on Linux");
    std::process::exit(2)
}

#[cfg(not(windows))]
fn usage() -> ! {
    eprintln!(
        "usage: fuzz_modules [--seed N] [--iterations M] [--seconds S] [--replay SEED] [--verbose]\n\
         \x20                   [--hang-seconds H] [--save DIR] [--rss-tolerance-mib T]\n\
         Without --iterations or --seconds it runs for 60 s from seed 1."
    );
    std::process::exit(2)
}

#[cfg(not(windows))]
fn main() {
    let mut options = Options {
        save_dir: Some(PathBuf::from("build/fuzz-failures")),
        ..Options::default()
    };
    let mut limited = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> String {
            args.next().unwrap_or_else(|| {
                eprintln!("{name} needs a value");
                usage()
            })
        };
        let number = |text: String| -> u64 {
            text.parse().unwrap_or_else(|_| {
                eprintln!("not a number: {text}");
                usage()
            })
        };
        match arg.as_str() {
            "--seed" => options.seed = number(value("--seed")),
            "--iterations" => {
                options.iterations = Some(number(value("--iterations")));
                limited = true;
            }
            "--seconds" => {
                let text = value("--seconds");
                options.seconds = Some(text.parse().unwrap_or_else(|_| usage()));
                limited = true;
            }
            "--replay" => {
                options.seed = number(value("--replay"));
                options.iterations = Some(1);
                options.seconds = None;
                options.verbose = true;
                limited = true;
            }
            "--verbose" => options.verbose = true,
            "--hang-seconds" => options.hang_seconds = number(value("--hang-seconds")),
            "--save" => options.save_dir = Some(PathBuf::from(value("--save"))),
            "--rss-tolerance-mib" => {
                options.rss_tolerance_mib = number(value("--rss-tolerance-mib"))
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("unknown argument {other}");
                usage()
            }
        }
    }
    if limited && options.iterations.is_some() && !std::env::args().any(|a| a == "--seconds") {
        options.seconds = None;
    }
    options.progress = !options.verbose;
    println!(
        "fuzzing wasmcell {} from seed {}{}{}",
        wasmcell::VERSION,
        options.seed,
        options
            .iterations
            .map(|n| format!(", {n} iterations"))
            .unwrap_or_default(),
        options
            .seconds
            .map(|s| format!(", {s} s"))
            .unwrap_or_default()
    );
    let summary = fuzz_driver::run(&options);
    summary.print();
    std::process::exit(if summary.failures.is_empty() { 0 } else { 1 });
}
