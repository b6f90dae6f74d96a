//! The instruction budget: a compiler middleware that bounds every poll.
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
//!
//! Operators whose work grows with an operand — `memory.fill`, `memory.copy`,
//! `memory.init`, `table.fill`, `table.copy`, `table.init` — also charge in
//! proportion to their length operand, at run time, before they run: one
//! unit per [`BYTES_PER_UNIT`] bytes, one unit per table element. (`table.grow`
//! and `memory.grow` are not: what they can add is bounded by the table and
//! memory limits, and a grow past them must return -1, not fault.) The length is parked in a second appended global (there is no
//! `dup` in wasm and a middleware cannot add locals); threads are disabled,
//! so the global is never shared. Built-in imports charge the same way for
//! the bytes they read (see `GuestEnv::charge`), and every import call costs
//! [`IMPORT_CALL_UNITS`], so the budget bounds a poll's time, not only its
//! operator count: about 2 ns per unit in the worst family measured
//! (`tests/budget_time.rs`, `docs/guest-abi.md`).
//!
//! The counter is a mutable i64 global appended to the module. It is set before
//! every poll through a cached `Global` handle (no export lookup in the hot path)
//! and may go negative exactly once: the check right after the charge then
//! executes `unreachable`, and the host recognises budget exhaustion from the
//! negative counter.

use std::sync::Mutex;
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::wasmparser::{BlockType, Operator};
use wasmer::{ExportIndex, GlobalInit, GlobalType, LocalFunctionIndex, Mutability, Type};

/// The export name under which the budget counter global is reachable.
pub(crate) const FUEL_GLOBAL_EXPORT: &str = "__wasmcell_fuel";
/// The export name of the stop floor: every check traps when the counter is
/// below it. 0 normally; the watchdog raises it to stop a running call. The
/// guest never writes it, so a write from another thread is seen at the next
/// check (a write to the counter itself could sit behind the guest's own
/// pending stores of it forever).
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

/// Module middleware that injects the budget checks. One instance per module
/// compilation: it records the index of the global it added.
#[derive(Debug)]
pub(crate) struct BudgetMiddleware {
    /// The counter's initial value: the budget of the start function.
    initial_fuel: u64,
    fuel_global: Mutex<Option<u32>>,
}

impl BudgetMiddleware {
    pub(crate) fn new(initial_fuel: u64) -> Self {
        Self {
            initial_fuel,
            fuel_global: Mutex::new(None),
        }
    }
}

impl ModuleMiddleware for BudgetMiddleware {
    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        let fuel_global = self
            .fuel_global
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expect("transform_module_info runs before functions are compiled");
        Box::new(FunctionBudget {
            fuel_global,
            length_global: fuel_global + 1,
            depth: 0,
            body: Vec::new(),
        })
    }

    fn transform_module_info(
        &self,
        module_info: &mut wasmer::ModuleInfo,
    ) -> Result<(), MiddlewareError> {
        let index = module_info
            .globals
            .push(GlobalType::new(Type::I64, Mutability::Var));
        module_info.global_initializers.push(GlobalInit::I64Const(
            self.initial_fuel.min(i64::MAX as u64) as i64,
        ));
        // The length parking slot of bulk operators: right after the counter.
        module_info
            .globals
            .push(GlobalType::new(Type::I32, Mutability::Var));
        module_info
            .global_initializers
            .push(GlobalInit::I32Const(0));
        let floor = module_info
            .globals
            .push(GlobalType::new(Type::I64, Mutability::Var));
        module_info
            .global_initializers
            .push(GlobalInit::I64Const(0));
        module_info
            .exports
            .insert(FUEL_GLOBAL_EXPORT.to_string(), ExportIndex::Global(index));
        module_info
            .exports
            .insert(FLOOR_GLOBAL_EXPORT.to_string(), ExportIndex::Global(floor));
        *self
            .fuel_global
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(index.as_u32());
        Ok(())
    }
}

/// Buffers one function body, then re-emits it with checks at the function
/// entry and at every loop header (the loop body sizes are only known once the
/// whole body has been seen).
#[derive(Debug)]
struct FunctionBudget<'a> {
    fuel_global: u32,
    /// Where the length operand of a bulk operator is parked while it is charged.
    length_global: u32,
    depth: usize,
    body: Vec<Operator<'a>>,
}

impl FunctionBudget<'_> {
    /// Cost charged at the function entry and at each loop header, in order of
    /// appearance (index 0 is the function itself, index k the k-th loop).
    fn costs(&self) -> Vec<u64> {
        let mut costs = vec![0u64];
        // For each open block, whether it is a loop; and the cost slots of
        // the open loops, innermost last. Both are O(1) per operator, so the
        // pass is linear in the body however deep it nests.
        let mut open_is_loop: Vec<bool> = Vec::new();
        let mut open_loops: Vec<usize> = Vec::new();
        for operator in &self.body {
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
                Operator::End => {
                    let closes_a_loop = open_is_loop.pop() == Some(true);
                    if closes_a_loop {
                        open_loops.pop();
                    }
                }
                _ => {}
            }
        }
        costs
    }

    fn charge(&self, cost: u64, state: &mut MiddlewareReaderState<'_>) {
        state.extend(&[
            Operator::GlobalGet {
                global_index: self.fuel_global,
            },
            Operator::I64Const { value: cost as i64 },
            Operator::I64Sub,
            Operator::GlobalSet {
                global_index: self.fuel_global,
            },
        ]);
        self.check(state);
    }

    /// Charges for the i32 length on top of the stack (shifted right by
    /// `shift`), leaving the stack as it was.
    fn charge_length(&self, shift: i64, state: &mut MiddlewareReaderState<'_>) {
        let length = self.length_global;
        state.extend(&[
            Operator::GlobalSet {
                global_index: length,
            },
            Operator::GlobalGet {
                global_index: self.fuel_global,
            },
            Operator::GlobalGet {
                global_index: length,
            },
            Operator::I64ExtendI32U,
            Operator::I64Const { value: shift },
            Operator::I64ShrU,
            Operator::I64Sub,
            Operator::GlobalSet {
                global_index: self.fuel_global,
            },
        ]);
        self.check(state);
        state.push_operator(Operator::GlobalGet {
            global_index: length,
        });
    }

    /// Traps (`unreachable`) when the counter went below the floor (0, or
    /// raised by the watchdog).
    fn check(&self, state: &mut MiddlewareReaderState<'_>) {
        state.extend(&[
            Operator::GlobalGet {
                global_index: self.fuel_global,
            },
            Operator::GlobalGet {
                global_index: self.fuel_global + 2,
            },
            Operator::I64LtS,
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::Unreachable,
            Operator::End,
        ]);
    }
}

impl<'a> FunctionMiddleware<'a> for FunctionBudget<'a> {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        match operator {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Try { .. }
            | Operator::TryTable { .. } => self.depth += 1,
            Operator::End => {
                if self.depth == 0 {
                    // The function's own `end`: emit the instrumented body.
                    let costs = self.costs();
                    let mut loops = costs.iter().skip(1);
                    self.charge(costs[0], state);
                    for op in std::mem::take(&mut self.body) {
                        let is_loop = matches!(op, Operator::Loop { .. });
                        // Bulk operators: the length is the top operand.
                        match op {
                            Operator::MemoryFill { .. }
                            | Operator::MemoryCopy { .. }
                            | Operator::MemoryInit { .. } => {
                                self.charge_length(BYTES_PER_UNIT_SHIFT, state)
                            }
                            Operator::TableFill { .. }
                            | Operator::TableCopy { .. }
                            | Operator::TableInit { .. } => self.charge_length(0, state),
                            _ => {}
                        }
                        state.push_operator(op);
                        if is_loop {
                            self.charge(*loops.next().unwrap_or(&1), state);
                        }
                    }
                    state.push_operator(operator);
                    return Ok(());
                }
                self.depth -= 1;
            }
            _ => {}
        }
        self.body.push(operator);
        Ok(())
    }
}
