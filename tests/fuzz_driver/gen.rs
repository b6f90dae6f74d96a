//! Module generation for the fuzzer: wasm-smith modules configured the way
//! wasmcell runs them (its WebAssembly features, its built-in imports plus
//! the fuzzer's host functions, a `poll` export), optionally with a process
//! image descriptor, and deliberately broken variants of them.
//!
//! Everything is derived from one seeded [`Rng`], so a seed reproduces the
//! same modules on any machine with the same crate versions.

use arbitrary::Unstructured;
use wasm_smith::{Config, Module};

/// SplitMix64: small, fast and good enough to drive a generator.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Picks an index with the given relative weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// A host function the fuzzer defines on every runtime (module `fuzz`),
/// with its wasmcell signature and the wasm type guests import it with.
pub struct HostFn {
    pub name: &'static str,
    pub signature: &'static str,
    pub wat: &'static str,
}

pub const HOST_MODULE: &str = "fuzz";

/// Typed and dynamic paths, scalars of every type, `*~` buffers (one and
/// two), no parameters, several results, failing and panicking callbacks.
pub const HOST_FUNCTIONS: &[HostFn] = &[
    HostFn {
        name: "add",
        signature: "(ii)i",
        wat: "(param i32 i32) (result i32)",
    },
    HostFn {
        name: "check",
        signature: "(i)i",
        wat: "(param i32) (result i32)",
    },
    HostFn {
        name: "sum",
        signature: "(*~)i",
        wat: "(param i32 i32) (result i32)",
    },
    HostFn {
        name: "fill",
        signature: "(*~i)",
        wat: "(param i32 i32 i32)",
    },
    HostFn {
        name: "mix",
        signature: "(IfF)F",
        wat: "(param i64 f32 f64) (result f64)",
    },
    HostFn {
        name: "cmp",
        signature: "(*~*~)i",
        wat: "(param i32 i32 i32 i32) (result i32)",
    },
    HostFn {
        name: "wide",
        signature: "(iIfFi)I",
        wat: "(param i32 i64 f32 f64 i32) (result i64)",
    },
    HostFn {
        name: "boom",
        signature: "(I)",
        wat: "(param i64)",
    },
    HostFn {
        name: "none",
        signature: "()",
        wat: "",
    },
    HostFn {
        name: "pair",
        signature: "(i)iI",
        wat: "(param i32) (result i32 i64)",
    },
];

/// The built-in imports every program may use, as WAT import types.
pub const BUILTINS: &[(&str, &str, &str)] = &[
    ("env", "print", "(param i32 i32) (result i32)"),
    ("wasmcell", "log", "(param i32 i32 i32) (result i32)"),
    ("wasmcell", "now_ns", "(result i64)"),
    ("wasmcell", "start_kind", "(result i32)"),
    ("wasmcell", "retain_restored", "(result i32)"),
];

/// What kind of module was generated, and so what wasmcell may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Valid, every import available, memory and tables bounded by the
    /// module itself (so wasmcell's limits change nothing): checked against
    /// raw wasmer.
    Bounded,
    /// Valid, memory and tables unbounded: wasmcell's memory, table and
    /// shape limits decide.
    Unbounded,
    /// Valid but without a `poll` export: must fail with LINK.
    NoPoll,
    /// Valid, with `poll` or `init` of the wrong type: must fail with LINK.
    BadExport,
    /// Generated with one feature wasmcell does not enable.
    OffFeature,
    /// Imports that are not defined (or defined with another type).
    ForeignImports,
    Truncated,
    BitFlipped,
    /// A section whose length runs past the end of the module.
    OversizedSection,
    /// A vector section claiming 2^32-1 entries.
    HugeCount,
    /// A large custom section (up to past the module size limit).
    HugeCustom,
    DuplicateSection,
    /// Random bytes after a wasm header.
    Garbage,
    /// Random text (the WAT path).
    GarbageText,
    Empty,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Bounded => "bounded",
            Class::Unbounded => "unbounded",
            Class::NoPoll => "no-poll",
            Class::BadExport => "bad-export",
            Class::OffFeature => "off-feature",
            Class::ForeignImports => "foreign-imports",
            Class::Truncated => "truncated",
            Class::BitFlipped => "bit-flipped",
            Class::OversizedSection => "oversized-section",
            Class::HugeCount => "huge-count",
            Class::HugeCustom => "huge-custom",
            Class::DuplicateSection => "duplicate-section",
            Class::Garbage => "garbage",
            Class::GarbageText => "garbage-text",
            Class::Empty => "empty",
        }
    }

    /// Broken on purpose: any documented load status may come back (a
    /// mutation can leave the module valid).
    pub fn is_broken(self) -> bool {
        matches!(
            self,
            Class::Truncated
                | Class::BitFlipped
                | Class::OversizedSection
                | Class::HugeCount
                | Class::HugeCustom
                | Class::DuplicateSection
                | Class::Garbage
                | Class::GarbageText
                | Class::Empty
        )
    }
}

const CLASSES: &[(Class, u64)] = &[
    (Class::Bounded, 36),
    (Class::Unbounded, 20),
    (Class::NoPoll, 4),
    (Class::BadExport, 3),
    (Class::OffFeature, 5),
    (Class::ForeignImports, 3),
    (Class::Truncated, 7),
    (Class::BitFlipped, 8),
    (Class::OversizedSection, 4),
    (Class::HugeCount, 3),
    (Class::HugeCustom, 2),
    (Class::DuplicateSection, 2),
    (Class::Garbage, 2),
    (Class::GarbageText, 1),
    (Class::Empty, 1),
];

pub fn pick_class(rng: &mut Rng) -> Class {
    let weights: Vec<u64> = CLASSES.iter().map(|(_, w)| *w).collect();
    CLASSES[rng.weighted(&weights)].0
}

/// A generated module.
pub struct Generated {
    pub class: Class,
    pub bytes: Vec<u8>,
    /// Whether a process image descriptor was added.
    pub image: bool,
}

/// What the generated module's exports look like.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PollShape {
    Unit,
    Status,
    Missing,
    WrongParam,
    WrongResult,
    Global,
}

struct Shape {
    poll: PollShape,
    init: bool,
    bad_init: bool,
    /// Exported memory: minimum and maximum pages.
    memory: Option<(u32, Option<u32>)>,
    image: bool,
}

fn exports_wat(shape: &Shape) -> String {
    let mut wat = String::from("(module\n");
    wat.push_str(match shape.poll {
        PollShape::Unit => "(func (export \"poll\"))\n",
        PollShape::Status => "(func (export \"poll\") (result i32) i32.const 0)\n",
        PollShape::Missing => "(func (export \"run\"))\n",
        PollShape::WrongParam => "(func (export \"poll\") (param i32))\n",
        PollShape::WrongResult => "(func (export \"poll\") (result i64) i64.const 0)\n",
        PollShape::Global => "(global (export \"poll\") i32 (i32.const 0))\n",
    });
    if shape.bad_init {
        wat.push_str("(func (export \"init\") (param i32))\n");
    } else if shape.init {
        wat.push_str("(func (export \"init\"))\n");
    }
    if let Some((min, max)) = shape.memory {
        match max {
            Some(max) => wat.push_str(&format!("(memory (export \"memory\") {min} {max})\n")),
            None => wat.push_str(&format!("(memory (export \"memory\") {min})\n")),
        }
    }
    if shape.image {
        wat.push_str("(func (export \"wasmcell_image\") (result i32) i32.const 0)\n");
    }
    wat.push(')');
    wat
}

/// The imports a generated module may use: the built-ins and the fuzzer's
/// host functions; `foreign` adds some no runtime defines and some with
/// the wrong type.
fn imports_wat(foreign: bool) -> String {
    let mut wat = String::from("(module\n");
    for (module, name, ty) in BUILTINS {
        wat.push_str(&format!("(import \"{module}\" \"{name}\" (func {ty}))\n"));
    }
    for f in HOST_FUNCTIONS {
        wat.push_str(&format!(
            "(import \"{HOST_MODULE}\" \"{}\" (func {}))\n",
            f.name, f.wat
        ));
    }
    if foreign {
        wat.push_str("(import \"plant\" \"valve\" (func (param i32)))\n");
        wat.push_str("(import \"env\" \"puts\" (func (param i32) (result i32)))\n");
        wat.push_str("(import \"wasmcell\" \"sleep_ns\" (func (param i64)))\n");
    }
    wat.push(')');
    wat
}

/// A feature wasmcell refuses, turned on in the generator.
#[derive(Clone, Copy)]
enum OffFeature {
    Threads,
    Exceptions,
    TailCalls,
    Memory64,
    RelaxedSimd,
    MultiMemory,
    Gc,
    WideArithmetic,
    CustomPageSizes,
}

const OFF_FEATURES: &[OffFeature] = &[
    OffFeature::Threads,
    OffFeature::Exceptions,
    OffFeature::TailCalls,
    OffFeature::Memory64,
    OffFeature::RelaxedSimd,
    OffFeature::MultiMemory,
    OffFeature::Gc,
    OffFeature::WideArithmetic,
    OffFeature::CustomPageSizes,
];

struct SmithOptions {
    shape: Shape,
    /// Memories and tables declare a maximum within these bounds.
    bounded: bool,
    max_memory_bytes: u64,
    off_feature: Option<OffFeature>,
    foreign: bool,
}

/// wasm-smith configured like wasmcell: bulk memory, reference types,
/// multi-value, SIMD and extended constant expressions on; threads,
/// exceptions, multi-memory, memory64, tail calls, relaxed SIMD, GC and the
/// other proposals off (docs/guest-abi.md).
// Field by field, each with its reason, reads better than one initializer.
#[allow(clippy::field_reassign_with_default)]
fn config(rng: &mut Rng, o: &SmithOptions) -> Config {
    let mut c = Config::default();
    c.available_imports = Some(wat::parse_str(imports_wat(o.foreign)).expect("imports WAT"));
    c.exports = Some(wat::parse_str(exports_wat(&o.shape)).expect("exports WAT"));

    c.bulk_memory_enabled = true;
    c.reference_types_enabled = true;
    c.multi_value_enabled = true;
    c.simd_enabled = rng.chance(60);
    c.extended_const_enabled = true;
    c.saturating_float_to_int_enabled = true;
    c.sign_extension_ops_enabled = true;
    c.threads_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.exceptions_enabled = false;
    c.memory64_enabled = false;
    c.tail_call_enabled = false;
    c.relaxed_simd_enabled = false;
    c.gc_enabled = false;
    c.custom_descriptors_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.wide_arithmetic_enabled = false;
    // wasm-smith adds the exported memory on top of the ones it generates.
    c.max_memories = if o.shape.memory.is_some() { 0 } else { 1 };

    c.max_funcs = rng.range(1, 12) as usize;
    c.max_instructions = rng.range(5, 150) as usize;
    c.max_types = 24;
    c.max_globals = rng.range(0, 10) as usize;
    c.max_data_segments = rng.range(0, 4) as usize;
    c.max_element_segments = rng.range(0, 4) as usize;
    c.max_elements = 32;
    c.max_tables = rng.range(0, 4) as usize;
    c.max_tags = 0;
    c.allow_start_export = rng.chance(60);
    c.disallow_traps = rng.chance(20);
    c.generate_custom_sections = rng.chance(15);
    c.min_uleb_size = if rng.chance(10) {
        rng.range(1, 5) as u8
    } else {
        1
    };
    if o.bounded {
        // The module's own maxima stay within wasmcell's limits, so both
        // runtimes see the same memory.grow and table.grow results; NaNs are
        // canonical so the outputs compare bit for bit.
        c.memory_max_size_required = true;
        c.table_max_size_required = true;
        c.max_memory32_bytes = o.max_memory_bytes.max(65536);
        c.max_table_elements = 1000;
        c.canonicalize_nans = true;
    } else {
        c.max_memory32_bytes = if rng.chance(80) { 256 << 20 } else { 1 << 32 };
        c.max_table_elements = if rng.chance(80) { 5000 } else { 1_000_000 };
        if rng.chance(15) {
            c.max_tables = 6;
        }
    }
    match o.off_feature {
        None => {}
        Some(OffFeature::Threads) => c.threads_enabled = true,
        Some(OffFeature::Exceptions) => {
            c.exceptions_enabled = true;
            c.max_tags = 4;
        }
        Some(OffFeature::TailCalls) => c.tail_call_enabled = true,
        Some(OffFeature::Memory64) => c.memory64_enabled = true,
        Some(OffFeature::RelaxedSimd) => {
            c.simd_enabled = true;
            c.relaxed_simd_enabled = true;
        }
        Some(OffFeature::MultiMemory) => c.max_memories = 3,
        Some(OffFeature::Gc) => c.gc_enabled = true,
        Some(OffFeature::WideArithmetic) => c.wide_arithmetic_enabled = true,
        Some(OffFeature::CustomPageSizes) => c.custom_page_sizes_enabled = true,
    }
    c
}

/// Runs wasm-smith; a module that wasm-smith cannot build from the bytes
/// (rare) is replaced by a minimal one of the same shape.
fn smith(rng: &mut Rng, o: &SmithOptions) -> Vec<u8> {
    let config = config(rng, o);
    let len = rng.range(64, 6000) as usize;
    let data = rng.bytes(len);
    let mut u = Unstructured::new(&data);
    let terminate = rng.chance(25);
    let fuel = rng.range(1, 5000) as u32;
    match Module::new(config, &mut u) {
        Ok(mut module) => {
            if terminate {
                let _ = module.ensure_termination(fuel);
            }
            module.to_bytes()
        }
        Err(_) => wat::parse_str(exports_wat(&o.shape)).expect("exports WAT"),
    }
}

/// Generates one module of the given class. `max_memory_bytes` is the
/// memory limit the program runs with (bounded modules stay within it).
pub fn generate(rng: &mut Rng, class: Class, max_memory_bytes: u64) -> Generated {
    let mut image = false;
    let bytes = match class {
        Class::Bounded | Class::Unbounded => {
            let bounded = class == Class::Bounded;
            let limit_pages = (max_memory_bytes / 65536).clamp(1, 65536) as u32;
            let memory = if rng.chance(75) {
                let max = if bounded {
                    Some(rng.range(1, u64::from(limit_pages.min(64))) as u32)
                } else if rng.chance(30) {
                    Some(rng.range(1, 65536) as u32)
                } else {
                    None
                };
                Some((1, max))
            } else {
                None
            };
            let want_image = memory.is_some() && rng.chance(35);
            let shape = Shape {
                poll: if rng.chance(70) {
                    PollShape::Unit
                } else {
                    PollShape::Status
                },
                init: rng.chance(40),
                bad_init: false,
                memory,
                image: want_image,
            };
            let options = SmithOptions {
                shape,
                bounded,
                max_memory_bytes,
                off_feature: None,
                foreign: false,
            };
            let bytes = smith(rng, &options);
            if want_image {
                match add_image(rng, &bytes) {
                    Some(with_image) => {
                        image = true;
                        with_image
                    }
                    None => bytes,
                }
            } else {
                bytes
            }
        }
        Class::NoPoll | Class::BadExport | Class::OffFeature | Class::ForeignImports => {
            let poll = match class {
                Class::NoPoll => PollShape::Missing,
                Class::BadExport => rng.pick(&[
                    PollShape::WrongParam,
                    PollShape::WrongResult,
                    PollShape::Global,
                    PollShape::Unit,
                ]),
                _ => PollShape::Unit,
            };
            let shape = Shape {
                poll,
                init: rng.chance(30),
                // A valid poll with a badly typed init is still a bad export.
                bad_init: class == Class::BadExport && poll == PollShape::Unit,
                memory: if rng.chance(60) {
                    Some((1, None))
                } else {
                    None
                },
                image: false,
            };
            let options = SmithOptions {
                shape,
                bounded: false,
                max_memory_bytes,
                off_feature: (class == Class::OffFeature).then(|| rng.pick(OFF_FEATURES)),
                foreign: class == Class::ForeignImports,
            };
            smith(rng, &options)
        }
        broken => {
            let base = generate(rng, Class::Unbounded, max_memory_bytes).bytes;
            mutate(rng, broken, base)
        }
    };
    Generated {
        class,
        bytes,
        image,
    }
}

// ---- binary surgery ---------------------------------------------------------

fn leb(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `n` as a 5-byte (padded) LEB128.
fn leb5(n: u32) -> [u8; 5] {
    [
        (n & 0x7f) as u8 | 0x80,
        ((n >> 7) & 0x7f) as u8 | 0x80,
        ((n >> 14) & 0x7f) as u8 | 0x80,
        ((n >> 21) & 0x7f) as u8 | 0x80,
        ((n >> 28) & 0x0f) as u8,
    ]
}

fn sleb(mut n: i64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(result).ok();
        }
    }
    None
}

fn read_name<'a>(bytes: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = read_leb(bytes, pos)? as usize;
    let name = bytes.get(*pos..*pos + len)?;
    *pos += len;
    Some(name)
}

/// The sections of a module: (id, payload).
fn sections(bytes: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    if bytes.len() < 8 {
        return None;
    }
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let id = bytes[pos];
        pos += 1;
        let len = read_leb(bytes, &mut pos)? as usize;
        out.push((id, bytes.get(pos..pos + len)?.to_vec()));
        pos += len;
    }
    Some(out)
}

fn section_bytes(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    out.extend(leb(payload.len() as u32));
    out.extend_from_slice(payload);
    out
}

fn assemble(header: &[u8], sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = header[..8].to_vec();
    for (id, payload) in sections {
        out.extend(section_bytes(*id, payload));
    }
    out
}

const SECTION_CODE: u8 = 10;
const SECTION_DATA: u8 = 11;
const SECTION_DATA_COUNT: u8 = 12;
const SECTION_EXPORT: u8 = 7;

/// Number of imported functions (they come first in the function index space).
fn imported_functions(bytes: &[u8]) -> Option<u32> {
    use wasmer::wasmparser::{Parser, Payload, TypeRef};
    let mut count = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        if let Payload::ImportSection(reader) = payload.ok()? {
            for import in reader.into_imports() {
                if let TypeRef::Func(_) = import.ok()?.ty {
                    count += 1;
                }
            }
        }
    }
    Some(count)
}

/// The function index exported as `name`.
fn exported_function(export_section: &[u8], name: &str) -> Option<u32> {
    let mut pos = 0;
    let count = read_leb(export_section, &mut pos)?;
    for _ in 0..count {
        let export_name = read_name(export_section, &mut pos)?;
        let kind = *export_section.get(pos)?;
        pos += 1;
        let index = read_leb(export_section, &mut pos)?;
        if kind == 0 && export_name == name.as_bytes() {
            return Some(index);
        }
    }
    None
}

/// Gives a module generated with a `wasmcell_image` export and a memory a
/// process image: a descriptor with random areas and signals in a data
/// segment, and a `wasmcell_image` body that returns its address (now and
/// then a wrong address, or a corrupted descriptor).
fn add_image(rng: &mut Rng, bytes: &[u8]) -> Option<Vec<u8>> {
    let mut secs = sections(bytes)?;
    let imported = imported_functions(bytes)?;
    let export = secs.iter().find(|(id, _)| *id == SECTION_EXPORT)?;
    let function = exported_function(&export.1, "wasmcell_image")?;
    let defined = function.checked_sub(imported)? as usize;

    let base = (rng.below(65536 - 512) & !7) as u32;
    let blob = descriptor(rng, base);
    let address: i64 = match rng.below(20) {
        0 => 65530, // descriptor runs past the first page
        1 => -1,    // 0xffffffff
        _ => i64::from(base),
    };

    // The new body of wasmcell_image: `i32.const address`.
    let mut body = vec![0x00, 0x41];
    body.extend(sleb(address));
    body.push(0x0b);

    let code_at = secs.iter().position(|(id, _)| *id == SECTION_CODE)?;
    let code = &secs[code_at].1;
    let mut pos = 0;
    let count = read_leb(code, &mut pos)?;
    let mut new_code = leb(count);
    for index in 0..count as usize {
        let size = read_leb(code, &mut pos)? as usize;
        let old = code.get(pos..pos + size)?;
        pos += size;
        if index == defined {
            new_code.extend(leb(body.len() as u32));
            new_code.extend_from_slice(&body);
        } else {
            new_code.extend(leb(size as u32));
            new_code.extend_from_slice(old);
        }
    }
    secs[code_at].1 = new_code;

    // An active segment for memory 0, applied after the module's own.
    let mut segment = vec![0x00, 0x41];
    segment.extend(sleb(i64::from(base as i32)));
    segment.push(0x0b);
    segment.extend(leb(blob.len() as u32));
    segment.extend_from_slice(&blob);
    match secs.iter().position(|(id, _)| *id == SECTION_DATA) {
        Some(at) => {
            let data = &secs[at].1;
            let mut pos = 0;
            let count = read_leb(data, &mut pos)?;
            let mut new_data = leb(count + 1);
            new_data.extend_from_slice(&data[pos..]);
            new_data.extend(segment);
            secs[at].1 = new_data;
        }
        None => {
            let mut new_data = leb(1);
            new_data.extend(segment);
            secs.insert(code_at + 1, (SECTION_DATA, new_data));
        }
    }
    if let Some(at) = secs.iter().position(|(id, _)| *id == SECTION_DATA_COUNT) {
        let mut pos = 0;
        let count = read_leb(&secs[at].1, &mut pos)?;
        secs[at].1 = leb(count + 1);
    }
    Some(assemble(bytes, &secs))
}

/// A process image descriptor placed at `base`, with its areas, signal
/// table and names after it (448 bytes). Mostly valid; now and then one
/// field is corrupted.
fn descriptor(rng: &mut Rng, base: u32) -> Vec<u8> {
    let mut blob = vec![0u8; 448];
    let put = |blob: &mut Vec<u8>, at: usize, value: u32| {
        blob[at..at + 4].copy_from_slice(&value.to_le_bytes());
    };
    let areas: [(u32, u32); 3] = [
        (
            base + 64,
            if rng.chance(80) {
                rng.range(1, 64) as u32
            } else {
                0
            },
        ),
        (
            base + 128,
            if rng.chance(80) {
                rng.range(1, 64) as u32
            } else {
                0
            },
        ),
        (
            base + 192,
            if rng.chance(50) {
                rng.range(1, 32) as u32
            } else {
                0
            },
        ),
    ];
    blob[0..4].copy_from_slice(b"WCIM");
    put(&mut blob, 4, 1);
    for (i, (offset, len)) in areas.iter().enumerate() {
        put(&mut blob, 8 + 8 * i, *offset);
        put(&mut blob, 12 + 8 * i, *len);
    }
    put(&mut blob, 32, rng.below(3) as u32);
    let declared: Vec<u8> = (0..3u8).filter(|a| areas[*a as usize].1 > 0).collect();
    let count = if declared.is_empty() {
        0
    } else {
        rng.below(7) as u32
    };
    put(&mut blob, 36, base + 224);
    put(&mut blob, 40, count);
    let mut name_at = 320usize;
    for i in 0..count as usize {
        let entry = 224 + 16 * i;
        let name: Vec<u8> = if i > 0 && rng.chance(5) {
            b"s0".to_vec() // a duplicate name
        } else {
            format!("s{i}{}", "x".repeat(rng.below(12) as usize)).into_bytes()
        };
        let name = &name[..name.len().min(16)];
        blob[name_at..name_at + name.len()].copy_from_slice(name);
        put(&mut blob, entry, base + name_at as u32);
        put(&mut blob, entry + 4, name.len() as u32);
        name_at += 16;
        let area = rng.pick(&declared);
        let area_len = areas[area as usize].1;
        const SIZES: [u32; 11] = [1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8];
        let fitting: Vec<u8> = (0..11u8)
            .filter(|t| SIZES[*t as usize] <= area_len)
            .collect();
        let ty = rng.pick(&fitting);
        let size = SIZES[ty as usize];
        let offset = rng.below(u64::from(area_len - size + 1)) as u32;
        blob[entry + 8] = area;
        blob[entry + 9] = ty;
        put(&mut blob, entry + 12, offset);
    }
    if rng.chance(15) {
        match rng.below(10) {
            0 => blob[0] = b'X',                   // bad magic
            1 => put(&mut blob, 4, 2),             // version 2
            2 => put(&mut blob, 8, 70_000 + base), // inputs outside one page
            3 => put(&mut blob, 40, 5000),         // too many signals
            4 => put(&mut blob, 224 + 4, 0),       // empty name
            5 => put(&mut blob, 224 + 4, 129),     // name too long
            6 => blob[224 + 8] = 3,                // no such area
            7 => blob[224 + 9] = 11,               // no such type
            8 => put(&mut blob, 224 + 12, 1000),   // outside its area
            _ => put(&mut blob, 36, 0xffff_fff0),  // table outside memory
        }
    }
    blob
}

/// A deliberately broken variant of a valid module.
fn mutate(rng: &mut Rng, class: Class, base: Vec<u8>) -> Vec<u8> {
    let mut bytes = base;
    match class {
        Class::Truncated => {
            let cut = rng.below(bytes.len() as u64) as usize;
            bytes.truncate(cut);
        }
        Class::BitFlipped => {
            let flips = rng.range(1, 8);
            for _ in 0..flips {
                let at = if rng.chance(90) && bytes.len() > 8 {
                    rng.range(8, bytes.len() as u64 - 1) as usize
                } else {
                    rng.below(bytes.len() as u64) as usize
                };
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        Class::OversizedSection => {
            if let Some(secs) = sections(&bytes).filter(|s| !s.is_empty()) {
                let victim = rng.below(secs.len() as u64) as usize;
                let mut out = bytes[..8].to_vec();
                for (i, (id, payload)) in secs.iter().enumerate() {
                    out.push(*id);
                    if i == victim {
                        let claimed = (payload.len() as u64 + rng.range(1, 1 << 31))
                            .min(u64::from(u32::MAX)) as u32;
                        out.extend(leb5(claimed));
                    } else {
                        out.extend(leb(payload.len() as u32));
                    }
                    out.extend_from_slice(payload);
                }
                bytes = out;
            }
        }
        Class::HugeCount => {
            if let Some(mut secs) = sections(&bytes) {
                let vectors: Vec<usize> = secs
                    .iter()
                    .enumerate()
                    .filter(|(_, (id, p))| matches!(id, 1..=7 | 9..=11) && !p.is_empty())
                    .map(|(i, _)| i)
                    .collect();
                if !vectors.is_empty() {
                    let at = rng.pick(&vectors);
                    let payload = &secs[at].1;
                    let mut pos = 0;
                    if read_leb(payload, &mut pos).is_some() {
                        let mut new = leb5(rng.pick(&[u32::MAX, 0x1000_0000, 100_000])).to_vec();
                        new.extend_from_slice(&payload[pos..]);
                        secs[at].1 = new;
                        bytes = assemble(&bytes, &secs);
                    }
                }
            }
        }
        Class::HugeCustom => {
            let size = match rng.below(10) {
                0 => 17 << 20, // past the default 16 MiB module limit
                1..=2 => 1 << 20,
                _ => rng.range(1, 65536) as usize,
            };
            let mut payload = vec![4, b'f', b'u', b'z', b'z'];
            payload.resize(payload.len() + size, 0xab);
            let at = if rng.chance(50) || bytes.len() <= 8 {
                bytes.len()
            } else {
                8
            };
            let section = section_bytes(0, &payload);
            let _ = bytes.splice(at..at, section);
        }
        Class::DuplicateSection => {
            if let Some(mut secs) = sections(&bytes).filter(|s| !s.is_empty()) {
                let at = rng.below(secs.len() as u64) as usize;
                let copy = secs[at].clone();
                secs.insert(at + 1, copy);
                bytes = assemble(&bytes, &secs);
            }
        }
        Class::Garbage => {
            let mut out = b"\0asm".to_vec();
            out.extend(if rng.chance(70) {
                vec![1, 0, 0, 0]
            } else {
                rng.bytes(4)
            });
            let n = rng.below(512) as usize;
            out.extend(rng.bytes(n));
            bytes = out;
        }
        Class::GarbageText => {
            bytes = if rng.chance(50) {
                let n = rng.below(200) as usize;
                let mut text = String::from("(module (func (export \"poll\")");
                for _ in 0..n {
                    text.push(
                        rng.pick(&['(', ')', ' ', 'i', '3', '2', '.', 'a', 'd', '"', ';', '\n']),
                    );
                }
                text.into_bytes()
            } else {
                let n = rng.range(1, 300) as usize;
                let mut raw = rng.bytes(n);
                raw[0] = 0xff; // not "\0asm", not UTF-8
                raw
            };
        }
        Class::Empty => bytes.clear(),
        _ => {}
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trips() {
        for n in [0u32, 1, 127, 128, 300, 65535, u32::MAX] {
            let mut pos = 0;
            assert_eq!(read_leb(&leb(n), &mut pos), Some(n));
            let mut pos = 0;
            assert_eq!(read_leb(&leb5(n), &mut pos), Some(n));
        }
    }
}
