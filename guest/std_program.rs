// A guest written against Rust's standard library, built the usual way for
// WASI preview 1 (as a library: it exports `poll`, not `main`):
//   rustc --target wasm32-wasip1 --crate-type cdylib -O std_program.rs
// It prints, hashes and reads the clock; the 5th poll panics on purpose.
use std::collections::HashMap;
use std::time::Instant;

static mut POLLS: u32 = 0;

#[no_mangle]
pub extern "C" fn poll() {
    // SAFETY: wasm32 guests run one poll at a time.
    let polls = unsafe {
        POLLS += 1;
        POLLS
    };
    let started = Instant::now();
    let mut counts: HashMap<String, u32> = HashMap::new();
    for word in "valve pump valve sensor valve".split(' ') {
        *counts.entry(word.to_string()).or_default() += 1;
    }
    let mut words: Vec<_> = counts.into_iter().collect();
    words.sort();
    println!("poll {polls}: {words:?}");
    eprintln!("poll {polls} took {} ns", started.elapsed().as_nanos() < 1_000_000_000);
    if polls == 5 {
        panic!("the fifth poll panics");
    }
}
