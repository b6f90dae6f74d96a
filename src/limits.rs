//! Resource limits: what one program may consume, with defaults that are safe
//! on a machine (every poll bounded, memory bounded).

use std::cell::Cell;
use std::ptr::NonNull;
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable,
    VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{MemoryType, Pages, TableType, WASM_PAGE_SIZE};

/// Default instruction budget of one poll (about 10-50 ms of guest work).
pub const DEFAULT_FUEL_PER_POLL: u64 = 100_000_000;
/// Default maximum linear memory of one program.
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// Default maximum size of a module (binary or WAT text) accepted by load.
pub const DEFAULT_MAX_MODULE_BYTES: u64 = 16 * 1024 * 1024;
/// Default maximum number of functions (imported and defined) of a module.
pub const DEFAULT_MAX_FUNCTIONS: u32 = 50_000;
/// Default maximum number of imports of a module.
pub const DEFAULT_MAX_IMPORTS: u32 = 1_000;
/// Default maximum size of each table, initial and grown (8 bytes of host
/// memory per element: 800 KB per table).
pub const DEFAULT_MAX_TABLE_ELEMENTS: u32 = 100_000;
/// Tables one module may define (`reference-types` allows several).
pub const MAX_TABLES: u32 = 4;
/// Host bytes one table element takes (a function or extern reference).
pub const TABLE_ELEMENT_BYTES: u64 = 8;
/// Default deepest nesting of blocks, loops and ifs inside one function.
/// Compilers emit a few dozen levels (a large `switch` one level per case);
/// checking it before compiling keeps compile time linear in module size.
pub const DEFAULT_MAX_NESTING: u32 = 2_000;
/// Default wasm stack of one call.
pub const DEFAULT_STACK_BYTES: u64 = 512 * 1024;

/// Limits applied to programs. A runtime holds the defaults; a program copies
/// them when it is loaded and may change its own afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Instruction budget of one poll (see [`crate::budget`]); also bounds `init`.
    /// Not used in deadline mode.
    pub fuel_per_poll: u64,
    /// 0 (the default): every call into the guest is bounded by the
    /// instruction budget. Otherwise **deadline mode**: programs are compiled
    /// without an instruction count, and every call into the guest (poll,
    /// `init`, the start function, a shadow poll) is stopped by the watchdog
    /// once it has run this many nanoseconds (within a quarter of it, at
    /// least 50 us; see `crate::watchdog`). Chosen when a program is loaded:
    /// its compiled code depends on it. A program's watchdog time starts at
    /// this value and can be changed, not turned off.
    pub deadline_ns: u64,
    /// Maximum linear memory in bytes. `memory.grow` beyond it returns -1 in the
    /// guest; a module whose initial memory exceeds it fails to load.
    pub max_memory_bytes: u64,
    /// Maximum size of the bytes given to load or reload.
    pub max_module_bytes: u64,
    /// Maximum number of functions (imported and defined); checked before
    /// compiling, so a module of 100 000 functions costs no compile time.
    pub max_functions: u32,
    /// Maximum number of imports.
    pub max_imports: u32,
    /// Maximum size of each table, at load and at run time: `table.grow`
    /// past it returns -1 in the guest and allocates nothing; a module whose
    /// initial table size exceeds it fails to load. A module defines at most
    /// [`MAX_TABLES`] tables, so tables take at most
    /// `MAX_TABLES * max_table_elements * TABLE_ELEMENT_BYTES` of host memory.
    pub max_table_elements: u32,
    /// Deepest nesting of blocks, loops and ifs in one function body; checked
    /// before compiling.
    pub max_nesting: u32,
    /// Wasm stack of each call into the guest (clamped to 8 KiB .. 100 MiB);
    /// runaway recursion faults with a stack overflow when it is used up.
    pub stack_bytes: u64,
    /// Whether a new instance's linear memory is made resident before the
    /// first poll (see [`Residency`]).
    pub residency: Residency,
}

/// What happens to a new instance's linear memory (its initial size, which
/// holds the process image areas) at load, reset and reload, so the control
/// loop does not take page faults on first access. Memory grown later by
/// `memory.grow` is not covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Residency {
    /// Pages are mapped on first access (the operating system's default).
    #[default]
    OnDemand = 0,
    /// Every page is touched at instantiation: faults happen then, not in
    /// the loop. Costs the time to fault the pages (~0.1 ms per MiB) and the
    /// resident memory; the OS may still page it out under pressure.
    Prefault = 1,
    /// Prefault, then lock the pages in RAM (`mlock`) so they are never paged
    /// out. Needs `RLIMIT_MEMLOCK` (or CAP_IPC_LOCK) for the whole memory;
    /// when the lock is refused the pages stay prefaulted and a warning goes
    /// to the program's log. Linux/Unix only; elsewhere it prefaults.
    Lock = 2,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel_per_poll: DEFAULT_FUEL_PER_POLL,
            deadline_ns: 0,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_module_bytes: DEFAULT_MAX_MODULE_BYTES,
            max_functions: DEFAULT_MAX_FUNCTIONS,
            max_imports: DEFAULT_MAX_IMPORTS,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
            max_nesting: DEFAULT_MAX_NESTING,
            stack_bytes: DEFAULT_STACK_BYTES,
            residency: Residency::OnDemand,
        }
    }
}

thread_local! {
    /// The memory limit of the instantiation running on this thread. Tunables
    /// belong to an engine and compiled modules are shared between programs with
    /// different limits, so the limit travels beside the `Instance::new` call
    /// (which creates the memories synchronously on the calling thread).
    static INSTANTIATION_MEMORY_LIMIT: Cell<Option<u64>> = const { Cell::new(None) };
    /// The table element limit of the instantiation running on this thread.
    static INSTANTIATION_TABLE_LIMIT: Cell<Option<u32>> = const { Cell::new(None) };
    /// Set when the last memory or table creation on this thread was refused
    /// by a limit, or failed for lack of address space.
    static MEMORY_LIMIT_REFUSED: Cell<Option<String>> = const { Cell::new(None) };
}

/// Runs `f` with the program's memory and table limits applied to the
/// memories and tables it creates. Returns `f`'s result and, if a limit
/// refused a memory or table (or the address space ran out), why.
pub(crate) fn with_instance_limits<R>(
    limits: &Limits,
    f: impl FnOnce() -> R,
) -> (R, Option<String>) {
    INSTANTIATION_MEMORY_LIMIT.with(|cell| cell.set(Some(limits.max_memory_bytes)));
    INSTANTIATION_TABLE_LIMIT.with(|cell| cell.set(Some(limits.max_table_elements)));
    MEMORY_LIMIT_REFUSED.with(|cell| cell.set(None));
    let result = f();
    INSTANTIATION_MEMORY_LIMIT.with(|cell| cell.set(None));
    INSTANTIATION_TABLE_LIMIT.with(|cell| cell.set(None));
    (result, MEMORY_LIMIT_REFUSED.with(|cell| cell.take()))
}

fn refuse(why: String) -> String {
    MEMORY_LIMIT_REFUSED.with(|cell| cell.set(Some(why.clone())));
    why
}

/// The table type as the program may use it: its maximum lowered to the
/// table element limit, so a `table.grow` past it fails in the guest (-1)
/// before wasmer allocates anything.
fn limited_table(requested: &TableType) -> Result<TableType, String> {
    let Some(limit) = INSTANTIATION_TABLE_LIMIT.with(Cell::get) else {
        return Ok(*requested);
    };
    if requested.minimum > limit {
        return Err(refuse(format!(
            "the module's initial table size ({} elements) exceeds the program's table limit ({limit} elements)",
            requested.minimum
        )));
    }
    let mut limited = *requested;
    limited.maximum = Some(
        requested
            .maximum
            .map_or(limit, |declared| declared.min(limit)),
    );
    Ok(limited)
}

/// A memory that could not be created because the process is out of address
/// space (each memory reserves several GiB) is a limit, not a link error.
fn address_space(error: MemoryError) -> MemoryError {
    if let MemoryError::Region(detail) = &error {
        return MemoryError::Generic(refuse(format!(
            "out of address space: the program's linear memory could not be reserved ({detail}); unload programs or raise the process's virtual memory limit"
        )));
    }
    error
}

/// The stack size a program gets for `requested` bytes (8 KiB .. 100 MiB).
pub(crate) fn clamp_stack(requested: u64) -> usize {
    requested.clamp(8 << 10, 100 << 20) as usize
}

/// Engine tunables: wasmer's base tunables with the program's memory limit
/// applied to each memory and the runtime's stack size.
pub(crate) struct LimitingTunables {
    base: BaseTunables,
    vm_config: VMConfig,
}

impl LimitingTunables {
    pub(crate) fn new(stack_bytes: u64) -> Self {
        Self {
            base: crate::engine::base_tunables(),
            vm_config: VMConfig {
                wasm_stack_size: Some(clamp_stack(stack_bytes)),
            },
        }
    }

    /// The memory type as the program may use it: its maximum lowered to the limit.
    fn limited(&self, requested: &MemoryType) -> Result<MemoryType, MemoryError> {
        let Some(limit) = INSTANTIATION_MEMORY_LIMIT.with(Cell::get) else {
            return Ok(*requested);
        };
        let limit_pages = (limit / WASM_PAGE_SIZE as u64).min(u32::MAX as u64) as u32;
        let minimum_bytes = requested.minimum.0 as u64 * WASM_PAGE_SIZE as u64;
        if requested.minimum.0 > limit_pages {
            let why = format!(
                "the module's initial memory ({minimum_bytes} bytes, {} pages) exceeds the program's memory limit ({limit} bytes)",
                requested.minimum.0
            );
            return Err(MemoryError::Generic(refuse(why)));
        }
        let mut limited = *requested;
        limited.maximum = Some(Pages(match requested.maximum {
            Some(declared) => declared.0.min(limit_pages),
            None => limit_pages,
        }));
        Ok(limited)
    }
}

impl Tunables for LimitingTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        self.base
            .create_host_memory(&self.limited(ty)?, style)
            .map_err(address_space)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        let limited = self.limited(ty)?;
        // SAFETY: forwarded unchanged from wasmer, which guarantees the location.
        unsafe {
            self.base
                .create_vm_memory(&limited, style, vm_definition_location)
        }
        .map_err(address_space)
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(&limited_table(ty)?, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        let limited = limited_table(ty)?;
        // SAFETY: forwarded from wasmer, which guarantees the location; only
        // the maximum changed.
        unsafe {
            self.base
                .create_vm_table(&limited, style, vm_definition_location)
        }
    }

    fn vmconfig(&self) -> &VMConfig {
        &self.vm_config
    }
}

/// Checks the module's declared sizes against the limits before any compile
/// work, in one linear pass (operators included, for the nesting depth).
/// Malformed sections are left to the compiler, which reports them.
pub(crate) fn check_module_shape(wasm: &[u8], limits: &Limits) -> crate::Result<()> {
    use crate::error::{Error, ErrorKind};
    use wasmer::wasmparser::{Operator, Parser, Payload, TypeRef};

    let over = |what: &str, count: u64, limit: u64| {
        Error::new(
            ErrorKind::Limit,
            format!("the module declares {count} {what}, more than the limit of {limit}"),
        )
    };
    let check_counts = |imports: u64, functions: u64, tables: u64| {
        if imports > u64::from(limits.max_imports) {
            return Err(over("imports", imports, limits.max_imports.into()));
        }
        if functions > u64::from(limits.max_functions) {
            return Err(over("functions", functions, limits.max_functions.into()));
        }
        if tables > u64::from(MAX_TABLES) {
            return Err(over("tables", tables, MAX_TABLES.into()));
        }
        Ok(())
    };
    let (mut functions, mut imports, mut tables) = (0u64, 0u64, 0u64);
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::ImportSection(reader) => {
                for import in crate::engine::imports(reader).flatten() {
                    imports += 1;
                    match import.ty {
                        TypeRef::Func(_) => functions += 1,
                        TypeRef::Table(_) => tables += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => functions += u64::from(reader.count()),
            Payload::TableSection(reader) => {
                for table in reader.into_iter().flatten() {
                    tables += 1;
                    if table.ty.initial > u64::from(limits.max_table_elements) {
                        return Err(over(
                            "table elements",
                            table.ty.initial,
                            limits.max_table_elements.into(),
                        ));
                    }
                }
            }
            // Everything counted so far is declared before the code: refuse
            // before reading a single function body.
            Payload::CodeSectionStart { .. } => check_counts(imports, functions, tables)?,
            Payload::CodeSectionEntry(body) => {
                let Ok(mut operators) = body.get_operators_reader() else {
                    break;
                };
                let mut depth = 0u32;
                while !operators.eof() {
                    let Ok(operator) = operators.read() else {
                        break;
                    };
                    match operator {
                        Operator::Block { .. }
                        | Operator::Loop { .. }
                        | Operator::If { .. }
                        | Operator::Try { .. }
                        | Operator::TryTable { .. } => {
                            depth += 1;
                            if depth > limits.max_nesting {
                                return Err(Error::new(
                                    ErrorKind::Limit,
                                    format!(
                                        "a function nests blocks, loops and ifs more than {} deep (the nesting limit)",
                                        limits.max_nesting
                                    ),
                                ));
                            }
                        }
                        Operator::End => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    check_counts(imports, functions, tables)
}

/// Refuses limits no program can run with (a zero budget or module size).
pub(crate) fn validate_limits(limits: &Limits) -> crate::error::Result<()> {
    use crate::error::{Error, ErrorKind};
    if limits.fuel_per_poll == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the instruction budget must be at least 1",
        ));
    }
    if limits.max_module_bytes == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the module size limit must be at least 1 byte",
        ));
    }
    Ok(())
}
