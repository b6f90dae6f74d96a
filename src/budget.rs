//! The instruction budget: a rewrite of the module bytes, done once before
//! compiling, that bounds every poll.
//!
//! wasmer's own `Metering` charges at the end of every basic block (11 extra
//! instructions per block). A poll is only unbounded if it loops or recurses, and
//! every loop iteration passes a `loop` header and every call passes a function
//! entry, so charging *only there* bounds every poll just as well, at a fraction
//! of the cost.
//!
//! What is charged: on entry to a function, the number of operators of that
//! function that lie outside every loop; at each `loop` header (once per
//! iteration), the number of operators inside that loop but outside its nested
//! loops. Within one iteration no operator can run twice without passing a loop
//! header again, so the fuel charged is an upper bound of the wasm operators
//! actually executed: a poll never executes more operators than its budget.
//! The instructions the rewrite inserts are not counted.
//!
//! Operators whose work grows with an operand — `memory.fill`, `memory.copy`,
//! `memory.init`, `table.fill`, `table.copy`, `table.init` — also charge in
//! proportion to their length operand, at run time, before they run: one
//! unit per [`BYTES_PER_UNIT`] bytes, one unit per table element. (`table.grow`
//! and `memory.grow` are not: what they can add is bounded by the table and
//! memory limits, and a grow past them must return -1, not fault.) Built-in
//! imports charge the same way for the bytes they read (see
//! `GuestEnv::charge`), and every import call costs [`IMPORT_CALL_UNITS`], so
//! the budget bounds a poll's time, not only its operator count: about 2 ns
//! per unit in the worst family measured (`tests/budget_time.rs`,
//! `docs/guest-abi.md`).
//!
//! Where the budget lives: the counter is a mutable i64 global appended to
//! the module and exported as [`FUEL_GLOBAL_EXPORT`]. It is set before every
//! poll through a cached `Global` handle (no export lookup in the hot path).
//! Inside a function, the remaining budget is kept in a local of its own:
//! loaded from the global at entry, decremented and checked in the local at
//! each loop header (a register, not a load-subtract-store of memory on the
//! loop's critical path; the loop header also stores it to the global, a
//! store nothing in the loop waits for, which keeps the floor's load from
//! being merged with an earlier one), and written back to the global wherever control
//! can leave the function or someone else may charge it: before every call
//! (callees and host imports charge the global) — and reloaded after it —,
//! before `return`, before a branch to the function's own label, at the
//! function's final `end` and before the budget's own trap. The check traps
//! (`unreachable`) when the counter went below the stop floor (a second
//! appended global, [`FLOOR_GLOBAL_EXPORT`]: 0, or raised by the watchdog);
//! the counter is written back first, so the host recognises budget
//! exhaustion from the negative global after the trap. A third appended
//! global (i32, between the two) is where the length of a bulk operator is
//! parked in functions that cannot take two more locals (see below); the
//! three keep this order at the end of the global index space, which
//! `instance.rs` relies on for the start function.
//!
//! The rewrite is engine-independent (it runs before wasmer, with a
//! wasmparser and wasm-encoder of wasmcell's own), and runs only on modules
//! the engine has validated. Function bodies are copied byte for byte
//! between the inserted instructions, so the rewrite costs one scan of the
//! code section more than the validation does. A function whose locals are at
//! the validator's limit keeps its budget in the global, as before.

use std::fmt;
use std::ops::Range;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, GlobalSection, GlobalType,
    Instruction, Module, RawSection, ValType,
};
use wasmparser::{
    BinaryReaderError, CompositeInnerType, Encoding, FunctionBody, Operator, OperatorsReader,
    Parser, Payload, TypeRef,
};

/// The export name under which the budget counter global is reachable.
pub(crate) const FUEL_GLOBAL_EXPORT: &str = "__wasmcell_fuel";
/// The export name of the stop floor: every check traps when the counter is
/// below it. 0 normally; the watchdog raises it to stop a running call. The
/// guest never writes it, so a write from another thread is seen at the next
/// check.
pub(crate) const FLOOR_GLOBAL_EXPORT: &str = "__wasmcell_floor";
/// Bytes of `memory.fill`/`copy`/`init` (and of guest text a built-in reads)
/// charged as one unit: about what one ordinary operator costs in time.
pub(crate) const BYTES_PER_UNIT: u64 = 8;
/// log2 of [`BYTES_PER_UNIT`], for the shift emitted before bulk operators.
const BYTES_PER_UNIT_SHIFT: i64 = 3;
/// Units every call of an import (built-in or host function) costs on top of
/// its operators: a call through wasmer's trampoline takes 15-50 ns, the
/// time of about 30 ordinary operators.
pub(crate) const IMPORT_CALL_UNITS: u64 = 32;
/// The version of the rewrite, part of the compiled-module cache key: raise
/// it whenever the instrumented code changes.
pub(crate) const REWRITE_VERSION: u32 = 3;
/// The export name a deadline-mode module's start function is moved to: it
/// is called by the host after instantiation, under the watchdog, instead of
/// running unwatched inside it.
pub(crate) const START_EXPORT: &str = "__wasmcell_start";

/// What the rewrite inserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BudgetMode {
    /// The instruction budget: operators are counted as described above and
    /// every check also stops at the floor.
    Count,
    /// Deadline mode: nothing is counted. Function entries and loop headers
    /// only check the stop floor (one load and a compare), which the watchdog
    /// raises when a call runs past its deadline. The start function is
    /// exported as [`START_EXPORT`] instead of being run by instantiation, so
    /// that it runs watched too.
    Deadline,
}
/// The validator's limit of a function's locals (parameters included), the
/// same in the wasmparser of both engine releases.
const MAX_FUNCTION_LOCALS: u64 = 50_000;

/// Why a module could not be instrumented. Only reachable for bytes the
/// engine's validator accepted but this crate's parser refuses.
#[derive(Debug)]
pub(crate) struct RewriteError(String);

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<BinaryReaderError> for RewriteError {
    fn from(e: BinaryReaderError) -> Self {
        Self(e.to_string())
    }
}

impl<E: fmt::Display> From<wasm_encoder::reencode::Error<E>> for RewriteError {
    fn from(e: wasm_encoder::reencode::Error<E>) -> Self {
        Self(e.to_string())
    }
}

fn offset(position: u64) -> Result<usize, RewriteError> {
    usize::try_from(position).map_err(|_| RewriteError("offset out of range".into()))
}

/// The costs of one function body: what its entry charges (index 0) and
/// each of its `loop` headers (index k: its k-th loop), and whether it has
/// bulk operators. Counts the operators of the function (without its own
/// final `end`) that lie outside every loop, and for each loop the operators
/// inside it but outside its nested loops. O(1) per operator however deep
/// the body nests. None if the body does not parse to its final `end`.
pub(crate) fn body_costs(mut operators: OperatorsReader<'_>) -> Option<(Vec<u64>, bool)> {
    let mut costs = vec![0u64];
    let mut bulk = false;
    // For each open block, whether it is a loop; and the cost slots of
    // the open loops, innermost last.
    let mut open_is_loop: Vec<bool> = Vec::new();
    let mut open_loops: Vec<usize> = Vec::new();
    while !operators.eof() {
        let operator = operators.read().ok()?;
        if matches!(operator, Operator::End) && open_is_loop.is_empty() {
            // The function's own `end`: not charged.
            return Some((costs, bulk));
        }
        let slot = open_loops.last().copied().unwrap_or(0);
        costs[slot] += 1;
        match operator {
            Operator::Loop { .. } => {
                costs.push(0);
                open_loops.push(costs.len() - 1);
                open_is_loop.push(true);
            }
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => open_is_loop.push(false),
            Operator::End | Operator::Delegate { .. } => {
                let closes_a_loop = open_is_loop.pop() == Some(true);
                if closes_a_loop {
                    open_loops.pop();
                }
            }
            Operator::MemoryFill { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryInit { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. } => bulk = true,
            _ => {}
        }
    }
    None
}

/// The cost charged at the entry of each defined function and at each of its
/// loop headers (see [`body_costs`]), for every body of the code section
/// until the first that does not parse.
#[cfg(test)]
pub(crate) fn function_costs(wasm: &[u8]) -> Vec<Vec<u64>> {
    let mut functions = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        let Payload::CodeSectionEntry(body) = payload else {
            continue;
        };
        let Some((costs, _)) = body
            .get_operators_reader()
            .ok()
            .and_then(|operators| body_costs(operators))
        else {
            break;
        };
        functions.push(costs);
    }
    functions
}

/// Rank of a section in the order the binary format requires (custom
/// sections excluded).
fn section_rank(id: u8) -> u8 {
    match id {
        1 => 1,   // type
        2 => 2,   // import
        3 => 3,   // function
        4 => 4,   // table
        5 => 5,   // memory
        13 => 6,  // tag
        6 => 7,   // global
        7 => 8,   // export
        8 => 9,   // start
        9 => 10,  // element
        12 => 11, // data count
        10 => 12, // code
        11 => 13, // data
        _ => 0,   // custom (and unknown): wherever it stands
    }
}

const GLOBAL_RANK: u8 = 7;
const EXPORT_RANK: u8 = 8;

/// Instruments `wasm`, a module the engine has validated, with the budget:
/// returns the module to compile. `initial_fuel` is the counter's initial
/// value, the budget of the start function.
pub(crate) fn instrument(
    wasm: &[u8],
    initial_fuel: u64,
    mode: BudgetMode,
) -> Result<Vec<u8>, RewriteError> {
    let mut reencoder = RoundtripReencoder;
    // Deadline mode moves the start function to an export; the export
    // section comes before the start section, so look for it first.
    let moved_start = match mode {
        BudgetMode::Count => None,
        BudgetMode::Deadline => Parser::new(0)
            .parse_all(wasm)
            .find_map(|payload| match payload {
                Ok(Payload::StartSection { func, .. }) => Some(func),
                _ => None,
            }),
    };
    let mut module = Module::new();
    // Parameters of each function type (None: not a function type).
    let mut type_params: Vec<Option<u32>> = Vec::new();
    // Type index of each function, imported ones first.
    let mut function_types: Vec<u32> = Vec::new();
    let mut imported_functions = 0usize;
    let mut imported_globals = 0u32;
    let mut defined_globals = 0u32;
    let mut globals_done = false;
    let mut exports_done = false;
    let mut code: Option<(CodeSection, u32)> = None;
    let mut bodies_seen = 0usize;

    let budget_globals = |defined: u32, imported: u32| -> Result<Globals, RewriteError> {
        let fuel = imported
            .checked_add(defined)
            .filter(|index| index.checked_add(2).is_some())
            .ok_or_else(|| RewriteError("too many globals".into()))?;
        Ok(Globals {
            fuel,
            length: fuel + 1,
            floor: fuel + 2,
        })
    };
    let add_budget_globals = |section: &mut GlobalSection| {
        let i64_var = GlobalType {
            val_type: ValType::I64,
            mutable: true,
            shared: false,
        };
        section.global(
            i64_var,
            &ConstExpr::i64_const(initial_fuel.min(i64::MAX as u64) as i64),
        );
        section.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(0),
        );
        section.global(i64_var, &ConstExpr::i64_const(0));
    };
    let add_budget_exports = |section: &mut ExportSection, globals: &Globals| {
        section.export(FUEL_GLOBAL_EXPORT, ExportKind::Global, globals.fuel);
        section.export(FLOOR_GLOBAL_EXPORT, ExportKind::Global, globals.floor);
        if let Some(start) = moved_start {
            section.export(START_EXPORT, ExportKind::Func, start);
        }
    };

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        // Sections the module lacks are added where they belong: before the
        // first section that must follow them.
        let section = payload.as_section();
        if let Some((id, _)) = &section {
            let id = *id;
            let rank = section_rank(id);
            if rank > GLOBAL_RANK && !globals_done {
                let mut section = GlobalSection::new();
                add_budget_globals(&mut section);
                module.section(&section);
                globals_done = true;
            }
            if rank > EXPORT_RANK && !exports_done {
                let mut section = ExportSection::new();
                add_budget_exports(
                    &mut section,
                    &budget_globals(defined_globals, imported_globals)?,
                );
                module.section(&section);
                exports_done = true;
            }
        }
        match payload {
            Payload::Version { encoding, .. } => {
                if encoding != Encoding::Module {
                    return Err(RewriteError("not a core module".into()));
                }
            }
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group?.into_types() {
                        type_params.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(ty) => Some(ty.params().len() as u32),
                            _ => None,
                        });
                    }
                }
                copy_raw(&mut module, wasm, section)?;
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    match import?.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            function_types.push(ty);
                            imported_functions += 1;
                        }
                        TypeRef::Global(_) => imported_globals += 1,
                        _ => {}
                    }
                }
                copy_raw(&mut module, wasm, section)?;
            }
            Payload::FunctionSection(reader) => {
                for ty in reader.clone() {
                    function_types.push(ty?);
                }
                copy_raw(&mut module, wasm, section)?;
            }
            Payload::GlobalSection(reader) => {
                defined_globals = reader.count();
                let mut section = GlobalSection::new();
                reencoder.parse_global_section(&mut section, reader)?;
                add_budget_globals(&mut section);
                module.section(&section);
                globals_done = true;
            }
            Payload::ExportSection(reader) => {
                let mut section = ExportSection::new();
                for export in reader {
                    let export = export?;
                    // The budget's own names win, as they did when the
                    // middleware inserted them.
                    if ![FUEL_GLOBAL_EXPORT, FLOOR_GLOBAL_EXPORT, START_EXPORT]
                        .contains(&export.name)
                    {
                        reencoder.parse_export(&mut section, export)?;
                    }
                }
                add_budget_exports(
                    &mut section,
                    &budget_globals(defined_globals, imported_globals)?,
                );
                module.section(&section);
                exports_done = true;
            }
            Payload::CodeSectionStart { count, .. } => {
                code = Some((CodeSection::new(), count));
                if count == 0 {
                    if let Some((section, _)) = code.take() {
                        module.section(&section);
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_functions + bodies_seen;
                bodies_seen += 1;
                let params = function_types
                    .get(index)
                    .and_then(|ty| type_params.get(*ty as usize).copied().flatten())
                    .ok_or_else(|| RewriteError("a function body without a type".into()))?;
                let globals = budget_globals(defined_globals, imported_globals)?;
                let function = instrument_body(wasm, &body, params, &globals, mode)?;
                let Some((section, count)) = &mut code else {
                    return Err(RewriteError(
                        "a function body outside the code section".into(),
                    ));
                };
                section.function(&function);
                if bodies_seen == *count as usize {
                    if let Some((section, _)) = code.take() {
                        module.section(&section);
                    }
                }
            }
            Payload::End(_) => {}
            Payload::StartSection { .. } if moved_start.is_some() => {}
            _ => copy_raw(&mut module, wasm, section)?,
        }
    }
    if code.is_some() {
        return Err(RewriteError("the code section ends early".into()));
    }
    if !globals_done {
        let mut section = GlobalSection::new();
        add_budget_globals(&mut section);
        module.section(&section);
    }
    if !exports_done {
        let mut section = ExportSection::new();
        add_budget_exports(
            &mut section,
            &budget_globals(defined_globals, imported_globals)?,
        );
        module.section(&section);
    }
    Ok(module.finish())
}

/// Copies a section unchanged (`section`: its id and the range of its
/// contents, name included for custom sections; None: not a section).
fn copy_raw(
    module: &mut Module,
    wasm: &[u8],
    section: Option<(u8, Range<u64>)>,
) -> Result<(), RewriteError> {
    let Some((id, range)) = section else {
        return Ok(());
    };
    let data = wasm
        .get(offset(range.start)?..offset(range.end)?)
        .ok_or_else(|| RewriteError("section out of range".into()))?;
    module.section(&RawSection { id, data });
    Ok(())
}

/// The indices of the three budget globals.
struct Globals {
    fuel: u32,
    length: u32,
    floor: u32,
}

/// Where a function keeps its budget while it runs.
#[derive(Clone, Copy)]
enum Home {
    /// In locals: the remaining budget (i64) and a scratch slot for the
    /// length of bulk operators (i32).
    Locals { fuel: u32, length: u32 },
    /// In the global itself (the function has no room for two more locals).
    Global,
}

/// Emits the inserted instructions of one function.
struct Emitter<'g> {
    globals: &'g Globals,
    home: Home,
    mode: BudgetMode,
    function: Function,
}

impl Emitter<'_> {
    fn emit(&mut self, instructions: &[Instruction<'_>]) {
        for instruction in instructions {
            self.function.instruction(instruction);
        }
    }

    /// Charges `cost` from the budget and checks it. At function entry the
    /// local is loaded from the global first.
    fn charge(&mut self, cost: u64, entry: bool) {
        if self.mode == BudgetMode::Deadline {
            self.check_floor_only(entry);
            return;
        }
        let cost = Instruction::I64Const(cost.min(i64::MAX as u64) as i64);
        let fuel = self.globals.fuel;
        match self.home {
            Home::Locals { fuel: local, .. } if entry => self.emit(&[
                Instruction::GlobalGet(fuel),
                cost,
                Instruction::I64Sub,
                Instruction::LocalTee(local),
            ]),
            // At a loop header the counter is also stored to the global.
            // The store is not on the loop's critical path (nothing loads
            // the global in the loop), but it must be there: without a
            // store to a global between them, cranelift's redundant-load
            // elimination reuses a dominating load of the floor (the one at
            // function entry, or an outer loop's) for every iteration, and
            // the watchdog's raised floor would never be seen.
            Home::Locals { fuel: local, .. } => self.emit(&[
                Instruction::LocalGet(local),
                cost,
                Instruction::I64Sub,
                Instruction::LocalTee(local),
                Instruction::GlobalSet(fuel),
                Instruction::LocalGet(local),
            ]),
            Home::Global => self.emit(&[
                Instruction::GlobalGet(fuel),
                cost,
                Instruction::I64Sub,
                Instruction::GlobalSet(fuel),
                Instruction::GlobalGet(fuel),
            ]),
        }
        self.check();
    }

    /// With the counter on the stack: traps when it is below the floor,
    /// after writing the counter back to the global.
    fn check(&mut self) {
        self.emit(&[
            Instruction::GlobalGet(self.globals.floor),
            Instruction::I64LtS,
            Instruction::If(wasm_encoder::BlockType::Empty),
        ]);
        self.write_back();
        self.emit(&[Instruction::Unreachable, Instruction::End]);
    }

    /// Deadline mode's check: traps when the watchdog raised the floor. A
    /// loop header also stores a constant to the length slot, for the same
    /// reason the counting mode stores its counter there: a store between
    /// two loads of the floor keeps cranelift from reusing the first.
    fn check_floor_only(&mut self, entry: bool) {
        self.emit(&[
            Instruction::GlobalGet(self.globals.floor),
            Instruction::I64Eqz,
            Instruction::I32Eqz,
            Instruction::If(wasm_encoder::BlockType::Empty),
            Instruction::Unreachable,
            Instruction::End,
        ]);
        if !entry {
            self.emit(&[
                Instruction::I32Const(0),
                Instruction::GlobalSet(self.globals.length),
            ]);
        }
    }

    /// Charges for the i32 length on top of the stack (shifted right by
    /// `shift`), leaving the stack as it was. Nothing in deadline mode.
    fn charge_length(&mut self, shift: i64) {
        if self.mode == BudgetMode::Deadline {
            return;
        }
        let fuel = self.globals.fuel;
        let (park, read, fuel_get) = match self.home {
            Home::Locals {
                fuel: local,
                length,
            } => (
                Instruction::LocalSet(length),
                Instruction::LocalGet(length),
                Instruction::LocalGet(local),
            ),
            Home::Global => (
                Instruction::GlobalSet(self.globals.length),
                Instruction::GlobalGet(self.globals.length),
                Instruction::GlobalGet(fuel),
            ),
        };
        self.emit(&[park, fuel_get, read.clone(), Instruction::I64ExtendI32U]);
        if shift != 0 {
            self.emit(&[Instruction::I64Const(shift), Instruction::I64ShrU]);
        }
        self.emit(&[Instruction::I64Sub]);
        match self.home {
            Home::Locals { fuel: local, .. } => self.emit(&[Instruction::LocalTee(local)]),
            Home::Global => {
                self.emit(&[Instruction::GlobalSet(fuel), Instruction::GlobalGet(fuel)])
            }
        }
        self.check();
        self.emit(&[read]);
    }

    /// Stores the local budget to the global (nothing for a global home).
    fn write_back(&mut self) {
        if let Home::Locals { fuel, .. } = self.home {
            self.emit(&[
                Instruction::LocalGet(fuel),
                Instruction::GlobalSet(self.globals.fuel),
            ]);
        }
    }

    /// Loads the local budget from the global (after a call).
    fn reload(&mut self) {
        if let Home::Locals { fuel, .. } = self.home {
            self.emit(&[
                Instruction::GlobalGet(self.globals.fuel),
                Instruction::LocalSet(fuel),
            ]);
        }
    }
}

/// Whether a branch of relative depth `target`, taken `depth` blocks deep,
/// leaves the function.
fn leaves(target: u32, depth: u32) -> bool {
    target == depth
}

/// The instrumented version of one function body with `params` parameters.
fn instrument_body(
    wasm: &[u8],
    body: &FunctionBody<'_>,
    params: u32,
    globals: &Globals,
    mode: BudgetMode,
) -> Result<Function, RewriteError> {
    let (costs, bulk) = body_costs(body.get_operators_reader()?)
        .ok_or_else(|| RewriteError("a function body that does not parse".into()))?;

    let mut locals: Vec<(u32, ValType)> = Vec::new();
    let mut count = u64::from(params);
    for local in body.get_locals_reader()? {
        let (n, ty) = local?;
        count += u64::from(n);
        locals.push((n, RoundtripReencoder.val_type(ty)?));
    }
    // Deadline mode keeps nothing: its checks only read the floor.
    let home = if mode == BudgetMode::Count && count + 2 <= MAX_FUNCTION_LOCALS {
        let fuel = count as u32;
        locals.push((1, ValType::I64));
        if bulk {
            locals.push((1, ValType::I32));
        }
        Home::Locals {
            fuel,
            length: fuel + 1,
        }
    } else {
        Home::Global
    };
    let mut out = Emitter {
        globals,
        home,
        mode,
        function: Function::new(locals),
    };

    let mut operators = body.get_operators_reader()?;
    // Bytes of the original body up to here are in `out` already.
    let mut copied = offset(operators.original_position())?;
    let mut copy_to = |out: &mut Emitter<'_>, to: usize| -> Result<(), RewriteError> {
        let bytes = wasm
            .get(copied..to)
            .ok_or_else(|| RewriteError("operator out of range".into()))?;
        out.function.raw(bytes.iter().copied());
        copied = to;
        Ok(())
    };

    out.charge(costs[0], true);
    let mut depth = 0u32;
    let mut loops_seen = 0usize;
    while !operators.eof() {
        let start = offset(operators.original_position())?;
        let operator = operators.read()?;
        let end = offset(operators.original_position())?;
        match operator {
            Operator::Block { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => depth += 1,
            Operator::Loop { .. } => {
                depth += 1;
                loops_seen += 1;
                copy_to(&mut out, end)?;
                out.charge(costs.get(loops_seen).copied().unwrap_or(1), false);
            }
            Operator::End if depth == 0 => {
                // The function's own end.
                copy_to(&mut out, start)?;
                out.write_back();
            }
            Operator::End | Operator::Delegate { .. } => depth = depth.saturating_sub(1),
            Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::CallRef { .. } => {
                copy_to(&mut out, start)?;
                out.write_back();
                copy_to(&mut out, end)?;
                out.reload();
            }
            Operator::Return
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. } => {
                copy_to(&mut out, start)?;
                out.write_back();
            }
            Operator::Br { relative_depth }
            | Operator::BrIf { relative_depth }
            | Operator::BrOnNull { relative_depth }
            | Operator::BrOnNonNull { relative_depth }
            | Operator::BrOnCast { relative_depth, .. }
            | Operator::BrOnCastFail { relative_depth, .. }
                if leaves(relative_depth, depth) =>
            {
                copy_to(&mut out, start)?;
                out.write_back();
            }
            Operator::BrTable { targets } => {
                let mut any = leaves(targets.default(), depth);
                for target in targets.targets() {
                    any |= leaves(target?, depth);
                }
                if any {
                    copy_to(&mut out, start)?;
                    out.write_back();
                }
            }
            Operator::MemoryFill { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryInit { .. } => {
                copy_to(&mut out, start)?;
                out.charge_length(BYTES_PER_UNIT_SHIFT);
            }
            Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. } => {
                copy_to(&mut out, start)?;
                out.charge_length(0);
            }
            _ => {}
        }
    }
    copy_to(&mut out, offset(operators.original_position())?)?;
    Ok(out.function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{engine_for, CompileSettings};
    use crate::limits::Limits;
    use std::sync::Arc;
    use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder};
    use wasmer::{imports, Function as HostFunction, FunctionEnv, FunctionEnvMut, Global, Value};
    use wasmer::{Instance, Module as WasmerModule, Store};
    use wasmer_middlewares::metering::{get_remaining_points, MeteringPoints};
    use wasmer_middlewares::Metering;

    const BIG: i64 = 1 << 40;

    /// Shapes the rewrite must handle; each exports `run: () -> ()` (and
    /// may import `env.charge: (i64) -> ()`).
    const FIXTURES: &[(&str, &str)] = &[
        (
            "nested loops",
            r#"(module (func (export "run") (local i32 i32)
                (loop $outer
                  (local.set 1 (i32.const 0))
                  (loop $inner
                    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                    (br_if $inner (i32.lt_u (local.get 1) (i32.const 7))))
                  (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                  (br_if $outer (i32.lt_u (local.get 0) (i32.const 5))))))"#,
        ),
        (
            "br_table and branches out of the function",
            r#"(module
                (func $pick (param i32) (result i32)
                  (block $a (block $b (block $c
                    (br_table $a $b $c 0 (local.get 0)))
                    (return (i32.const 3)))
                    (br 1 (i32.const 2)))
                  (i32.const 1))
                (func (export "run") (local i32 i32)
                  (loop $l
                    (local.set 1 (i32.add (local.get 1) (call $pick (local.get 0))))
                    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                    (br_if 1 (i32.gt_u (local.get 0) (i32.const 9)))
                    (br $l))))"#,
        ),
        (
            "calls inside loops, direct, indirect and imported",
            r#"(module
                (import "env" "charge" (func $charge (param i64)))
                (type $t (func (param i32) (result i32)))
                (table 2 funcref)
                (elem (i32.const 0) $double $inc)
                (func $double (type $t) (i32.mul (local.get 0) (i32.const 2)))
                (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
                (func $rec (param i32) (result i32)
                  (if (result i32) (i32.eqz (local.get 0))
                    (then (i32.const 0))
                    (else (call $rec (i32.sub (local.get 0) (i32.const 1))))))
                (func (export "run") (local i32 i32)
                  (loop $l
                    (local.set 1 (call_indirect (type $t) (local.get 1)
                                   (i32.and (local.get 0) (i32.const 1))))
                    (drop (call $rec (i32.const 4)))
                    (call $charge (i64.const 100))
                    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get 0) (i32.const 6))))))"#,
        ),
        (
            "multi-value blocks",
            r#"(module
                (func $pair (param i32) (result i32 i64) (local.get 0) (i64.const 5))
                (func (export "run") (local i32)
                  (loop $l (param) (result)
                    (local.get 0)
                    (block (param i32) (result i32 i64)
                      (call $pair) (drop) (i64.const 1))
                    (drop) (drop)
                    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get 0) (i32.const 3))))
                  (i32.const 1) (i32.const 2)
                  (if (param i32) (result i32) (then (i32.const 1) (i32.add)) (else))
                  (drop)))"#,
        ),
        (
            "many params and locals",
            r#"(module
                (func $many (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i32 i32 i32)
                            (result i64)
                  (local i32 i64 f32 f64 v128 i32 i32 i32 i32 i32 i32 i32 i32 i64)
                  (local.set 12 (i32.add (local.get 0) (local.get 11)))
                  (loop $l
                    (local.set 13 (i64.add (local.get 13) (local.get 1)))
                    (local.set 12 (i32.sub (local.get 12) (i32.const 1)))
                    (br_if $l (i32.gt_s (local.get 12) (i32.const 0))))
                  (local.get 13))
                (func (export "run")
                  (drop (call $many (i32.const 3) (i64.const 2) (f32.const 1) (f64.const 1)
                                    (i32.const 0) (i64.const 0) (f32.const 0) (f64.const 0)
                                    (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 4)))))"#,
        ),
        (
            "bulk memory and table operators",
            r#"(module
                (memory 1)
                (data $d "0123456789abcdef")
                (table $t 16 funcref)
                (elem $e func $f $f $f $f)
                (func $f)
                (func (export "run") (local i32)
                  (loop $l
                    (memory.fill (i32.const 0) (i32.const 7) (i32.const 1000))
                    (memory.copy (i32.const 2000) (i32.const 0) (i32.const 333))
                    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 16))
                    (table.init $t $e (i32.const 0) (i32.const 0) (i32.const 4))
                    (table.copy $t $t (i32.const 8) (i32.const 0) (i32.const 4))
                    (table.fill $t (i32.const 12) (ref.null func) (i32.const 3))
                    (local.set 0 (i32.add (local.get 0) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get 0) (i32.const 3))))))"#,
        ),
        (
            "SIMD",
            r#"(module
                (memory 1)
                (func (export "run") (local v128 i32)
                  (local.set 0 (v128.const i32x4 1 2 3 4))
                  (loop $l
                    (local.set 0 (i32x4.add (local.get 0) (v128.load (i32.const 16))))
                    (v128.store (i32.const 32) (f32x4.mul (local.get 0) (local.get 0)))
                    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get 1) (i32.const 10))))
                  (drop (i8x16.extract_lane_s 3 (local.get 0)))))"#,
        ),
        (
            "globals, exports, start function and custom sections already there",
            r#"(module
                (import "env" "g" (global $g i32))
                (global $h (mut i64) (i64.const 7))
                (global $k i32 (global.get $g))
                (memory (export "memory") 1)
                (func $start (global.set $h (i64.add (global.get $h) (i64.const 1))))
                (start $start)
                (func (export "run") (local i32)
                  (loop $l
                    (global.set $h (i64.mul (global.get $h) (i64.const 3)))
                    (local.set 0 (i32.add (local.get 0) (global.get $k)))
                    (br_if $l (i32.lt_u (local.get 0) (i32.const 4)))))
                (func (export "__wasmcell_fuel") (nop))
                (@custom "a-note" "kept"))"#,
        ),
        (
            "early return from inside a loop",
            r#"(module
                (func $find (param i32) (result i32) (local i32)
                  (loop $l
                    (if (i32.eq (local.get 1) (local.get 0)) (then (return (local.get 1))))
                    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                    (br $l))
                  (unreachable))
                (func (export "run") (drop (call $find (i32.const 9)))))"#,
        ),
    ];

    fn wasm(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).expect("fixture parses")
    }

    fn validate(name: &str, wasm: &[u8]) {
        if let Err(e) = wasmparser::Validator::new().validate_all(wasm) {
            panic!("{name}: the rewritten module does not validate: {e}");
        }
    }

    fn instrumented(name: &str, original: &[u8]) -> Vec<u8> {
        instrumented_in(name, original, BudgetMode::Count)
    }

    fn instrumented_in(name: &str, original: &[u8], mode: BudgetMode) -> Vec<u8> {
        let out = instrument(original, BIG as u64, mode).unwrap_or_else(|e| panic!("{name}: {e}"));
        validate(name, &out);
        out
    }

    /// Runs `run` of the instrumented `module` with `budget` (and the floor
    /// `floor`): whether it trapped, and the counter afterwards.
    fn run_instrumented(module: &[u8], budget: i64, floor: i64) -> (bool, i64) {
        let limits = Limits::default();
        let settings = CompileSettings {
            background: false,
            ..CompileSettings::default()
        };
        let engine = engine_for(&limits, settings);
        let module = WasmerModule::new(&engine, module).expect("compiles");
        let mut store = Store::new(engine);
        let fuel_slot: Arc<std::sync::Mutex<Option<Global>>> = Arc::default();
        let env = FunctionEnv::new(&mut store, fuel_slot.clone());
        // The host charges the global, as `GuestEnv::charge` does, and
        // traps when that exhausts the budget.
        let charge = HostFunction::new_typed_with_env(
            &mut store,
            &env,
            |mut env: FunctionEnvMut<Arc<std::sync::Mutex<Option<Global>>>>, units: i64| {
                let global = env.data().lock().unwrap().clone().unwrap();
                let left = global.get(&mut env).i64().unwrap() - units;
                global.set(&mut env, Value::I64(left)).unwrap();
                if left < 0 {
                    return Err(wasmer::RuntimeError::new("budget"));
                }
                Ok(())
            },
        );
        let g = Global::new(&mut store, Value::I32(1));
        let instance = Instance::new(
            &mut store,
            &module,
            &imports! { "env" => { "charge" => charge, "g" => g } },
        )
        .expect("instantiates");
        let fuel = instance
            .exports
            .get_global(FUEL_GLOBAL_EXPORT)
            .unwrap()
            .clone();
        let floor_global = instance.exports.get_global(FLOOR_GLOBAL_EXPORT).unwrap();
        *fuel_slot.lock().unwrap() = Some(fuel.clone());
        fuel.set(&mut store, Value::I64(budget)).unwrap();
        floor_global.set(&mut store, Value::I64(floor)).unwrap();
        let run = instance.exports.get_function("run").unwrap();
        let trapped = run.call(&mut store, &[]).is_err();
        (trapped, fuel.get(&mut store).i64().unwrap())
    }

    /// The wasm operators `run` of `original` executes, counted by wasmer's
    /// per-block metering at cost 1 each, `end` excepted (the budget does
    /// not count a function's final `end`, and the metering cannot tell it
    /// from a block's); the units the host charges through `env.charge`
    /// are added.
    fn executed_operators(original: &[u8]) -> u64 {
        let mut compiler = Cranelift::default();
        compiler.push_middleware(Arc::new(Metering::new(u64::MAX / 4, |op| {
            u64::from(!matches!(op, wasmer::wasmparser::Operator::End))
        })));
        let engine: wasmer::Engine = EngineBuilder::new(compiler)
            .set_features(Some(crate::compile::enabled_features()))
            .engine()
            .into();
        let module = WasmerModule::new(&engine, original).expect("compiles");
        let mut store = Store::new(engine);
        let charged: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let counter = charged.clone();
        let charge = HostFunction::new_typed(&mut store, move |units: i64| {
            counter.fetch_add(units as u64, std::sync::atomic::Ordering::Relaxed);
        });
        let g = Global::new(&mut store, Value::I32(1));
        let instance = Instance::new(
            &mut store,
            &module,
            &imports! { "env" => { "charge" => charge, "g" => g } },
        )
        .expect("instantiates");
        let before = match get_remaining_points(&mut store, &instance) {
            MeteringPoints::Remaining(points) => points,
            MeteringPoints::Exhausted => panic!("exhausted"),
        };
        instance
            .exports
            .get_function("run")
            .unwrap()
            .call(&mut store, &[])
            .expect("runs");
        let after = match get_remaining_points(&mut store, &instance) {
            MeteringPoints::Remaining(points) => points,
            MeteringPoints::Exhausted => panic!("exhausted"),
        };
        before - after + charged.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn every_shape_validates_after_the_rewrite() {
        for (name, wat) in FIXTURES {
            let out = instrumented(name, &wasm(wat));
            // The budget's globals are exported under their names, the
            // guest's own export of one of the names is gone.
            let mut names = Vec::new();
            for payload in Parser::new(0).parse_all(&out) {
                if let Payload::ExportSection(reader) = payload.unwrap() {
                    for export in reader {
                        names.push(export.unwrap().name.to_string());
                    }
                }
            }
            assert_eq!(
                names.iter().filter(|n| *n == FUEL_GLOBAL_EXPORT).count(),
                1,
                "{name}"
            );
            assert!(names.iter().any(|n| n == FLOOR_GLOBAL_EXPORT), "{name}");
            assert!(names.iter().any(|n| n == "run"), "{name}");
        }
    }

    #[test]
    fn modules_without_globals_exports_or_code_get_the_budget_globals() {
        for wat in [
            "(module)",
            "(module (memory 1))",
            r#"(module (func (export "run")))"#,
            r#"(module (func (export "run")) (data "x"))"#,
            r#"(module (func $f) (start $f) (@custom "name-like" "x"))"#,
        ] {
            let out = instrumented(wat, &wasm(wat));
            let module = WasmerModule::new(
                &engine_for(&Limits::default(), CompileSettings::default()),
                &out,
            )
            .unwrap();
            let kinds: Vec<_> = module
                .exports()
                .filter(|e| e.name().starts_with("__wasmcell_"))
                .map(|e| format!("{}:{:?}", e.name(), e.ty()))
                .collect();
            assert_eq!(kinds.len(), 2, "{wat}: {kinds:?}");
        }
    }

    #[test]
    fn charged_fuel_bounds_the_operators_executed_and_is_exact() {
        for (name, wat) in FIXTURES {
            let original = wasm(wat);
            let out = instrumented(name, &original);
            let executed = executed_operators(&original);
            let (trapped, left) = run_instrumented(&out, BIG, 0);
            assert!(!trapped, "{name}: trapped with a big budget");
            let charged = (BIG - left) as u64;
            assert!(
                charged >= executed,
                "{name}: charged {charged} < executed {executed}"
            );
            // The exact budget runs to completion with nothing left; one
            // less stops it as exhausted (the counter written back negative).
            let exact = charged as i64;
            assert_eq!(run_instrumented(&out, exact, 0), (false, 0), "{name}");
            let (trapped, left) = run_instrumented(&out, exact - 1, 0);
            assert!(trapped && left < 0, "{name}: {trapped} {left}");
        }
    }

    #[test]
    fn costs_are_the_same_as_the_middlewares() {
        // Entry: 1 (the loop); the loop: the 9 operators inside it, its
        // `end` included.
        let wat = r#"(module (func (export "run") (local i32)
            (loop $l
              (local.set 0 (i32.add (local.get 0) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get 0) (i32.const 10))))))"#;
        let original = wasm(wat);
        assert_eq!(function_costs(&original), vec![vec![1, 9]]);
        let out = instrumented("loop", &original);
        let (trapped, left) = run_instrumented(&out, BIG, 0);
        assert!(!trapped);
        assert_eq!(BIG - left, 1 + 10 * 9);
        // Bulk operators: 1000 bytes of fill cost 125 units on top.
        let wat = r#"(module (memory 1) (func (export "run")
            (memory.fill (i32.const 0) (i32.const 0) (i32.const 1000))))"#;
        let (trapped, left) = run_instrumented(&instrumented("fill", &wasm(wat)), BIG, 0);
        assert!(!trapped);
        assert_eq!(BIG - left, 4 + 125);
    }

    #[test]
    fn a_raised_floor_stops_the_call_without_exhausting_the_budget() {
        for (name, wat) in FIXTURES {
            let out = instrumented(name, &wasm(wat));
            let (trapped, left) = run_instrumented(&out, BIG, BIG + 1);
            assert!(trapped && left >= 0, "{name}: {trapped} {left}");
        }
    }

    #[test]
    fn a_floor_raised_while_an_inner_loop_spins_stops_it() {
        floor_raised_while_spinning_stops(BudgetMode::Count);
    }

    #[test]
    fn deadline_mode_a_floor_raised_while_an_inner_loop_spins_stops_it() {
        floor_raised_while_spinning_stops(BudgetMode::Deadline);
    }

    fn floor_raised_while_spinning_stops(mode: BudgetMode) {
        // Loops without calls or stores: each header must load the floor
        // afresh, not reuse a load from the entry or an outer loop.
        let wat = r#"(module (memory 1) (func (export "run") (local i32)
            (loop $outer
              (local.set 0 (i32.add (local.get 0) (i32.const 1)))
              (loop $inner (br_if $inner (i32.ne (local.get 0) (i32.const 0))))
              (br $outer))))"#;
        let out = instrumented_in("spin", &wasm(wat), mode);
        let engine = engine_for(
            &Limits::default(),
            CompileSettings {
                background: false,
                ..CompileSettings::default()
            },
        );
        let module = WasmerModule::new(&engine, &out).unwrap();
        let mut store = Store::new(engine);
        let instance = Instance::new(&mut store, &module, &imports! {}).unwrap();
        let fuel = instance
            .exports
            .get_global(FUEL_GLOBAL_EXPORT)
            .unwrap()
            .clone();
        fuel.set(&mut store, Value::I64(i64::MAX / 2)).unwrap();
        let floor = instance
            .exports
            .get_global(FLOOR_GLOBAL_EXPORT)
            .unwrap()
            .clone();
        let definition = crate::engine::global_definition(&mut store, &floor).unwrap();
        // SAFETY: the global lives in `store`, which outlives the thread
        // (joined below); the write is atomic, as the watchdog's is.
        let floor_ptr = unsafe { std::ptr::addr_of_mut!((*definition.as_ptr()).val.i64) } as usize;
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            // SAFETY: see above.
            unsafe { std::sync::atomic::AtomicI64::from_ptr(floor_ptr as *mut i64) }
                .store(i64::MAX, std::sync::atomic::Ordering::SeqCst);
        });
        let run = instance.exports.get_function("run").unwrap();
        assert!(run.call(&mut store, &[]).is_err(), "stopped by the floor");
        raiser.join().unwrap();
        assert!(fuel.get(&mut store).i64().unwrap() >= 0);
    }

    #[test]
    fn a_function_at_the_locals_limit_keeps_its_budget_in_the_global() {
        let wat = r#"(module
            (memory 1)
            (func $full (param i32) (local i32 i32) (local i64)
              (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
              (loop $l
                (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get 1) (i32.const 5)))))
            (func (export "run") (call $full (i32.const 0))))"#;
        // Widen the i64 locals of $full to fill the locals up to the
        // validator's limit: 1 param + 2 + 49_997.
        let mut original = wasm(wat);
        let out_small = instrumented("small", &original);
        let (_, left_small) = run_instrumented(&out_small, BIG, 0);
        let module_text = wat.replace("(local i64)", &"(local i64)".repeat(49_997));
        original = wasm(&module_text);
        let out = instrumented("full", &original);
        let (trapped, left) = run_instrumented(&out, BIG, 0);
        assert!(!trapped);
        assert_eq!(left, left_small, "same charge in the global home");
        assert!(run_instrumented(&out, 3, 0).0);
    }

    #[test]
    fn deadline_mode_counts_nothing_and_stops_only_at_a_raised_floor() {
        for (name, wat) in FIXTURES {
            let original = wasm(wat);
            let out = instrumented_in(name, &original, BudgetMode::Deadline);
            // Deadline mode runs to the end and leaves the counter as the
            // host's charges (`env.charge`) left it: no operator is counted.
            let (trapped, left) = run_instrumented(&out, BIG, 0);
            assert!(!trapped, "{name}: trapped with the floor at 0");
            let (_, left_counting) = run_instrumented(&instrumented(name, &original), BIG, 0);
            assert!(
                left > left_counting,
                "{name}: deadline mode charged operators"
            );
            let (trapped, _) = run_instrumented(&out, BIG, 1);
            assert!(trapped, "{name}: not stopped by a raised floor");
        }
    }

    #[test]
    fn deadline_mode_moves_the_start_function_to_an_export() {
        let wat = r#"(module (global $g (mut i32) (i32.const 0))
            (func $start (global.set $g (i32.const 7)))
            (start $start)
            (func (export "run"))
            (func (export "__wasmcell_start") (nop)))"#;
        let out = instrumented_in("start", &wasm(wat), BudgetMode::Deadline);
        let mut start_sections = 0;
        let mut start_exports = Vec::new();
        for payload in Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::StartSection { .. } => start_sections += 1,
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.unwrap();
                        if export.name == START_EXPORT {
                            start_exports.push((export.kind, export.index));
                        }
                    }
                }
                _ => {}
            }
        }
        assert_eq!(start_sections, 0);
        // The guest's own export of the name is dropped; the start function
        // ($start, index 0) is exported under it.
        assert_eq!(
            start_exports,
            vec![(wasmparser::ExternalKind::Func, 0)],
            "{start_exports:?}"
        );
        // The counting mode leaves the start section where it was.
        let counting = instrumented("start", &wasm(wat));
        assert!(Parser::new(0)
            .parse_all(&counting)
            .any(|p| matches!(p, Ok(Payload::StartSection { .. }))));
    }

    #[test]
    fn never_panics_on_truncated_or_corrupted_bytes() {
        for (_, wat) in FIXTURES {
            let original = wasm(wat);
            for len in 0..original.len() {
                for mode in [BudgetMode::Count, BudgetMode::Deadline] {
                    let _ = instrument(&original[..len], 10, mode);
                }
            }
            for i in 8..original.len() {
                let mut corrupted = original.clone();
                corrupted[i] ^= 0x5a;
                for mode in [BudgetMode::Count, BudgetMode::Deadline] {
                    let _ = instrument(&corrupted, 10, mode);
                }
            }
        }
    }
}
