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
//! The costs are computed before compiling, by a scan of the code section
//! ([`function_costs`]); the middleware then rewrites each function operator
//! by operator, keeping none of them, which is sound with either engine
//! release (see `crate::engine::OperatorRewriter`).
//!
//! The counter is a mutable i64 global appended to the module. It is set before
//! every poll through a cached `Global` handle (no export lookup in the hot path)
//! and may go negative exactly once: the check right after the charge then
//! executes `unreachable`, and the host recognises budget exhaustion from the
//! negative counter.

use crate::engine::{
    MiddlewareError, MiddlewareReaderState, ModuleInfo, ModuleRewriter, OperatorRewriter,
};
use std::sync::{Arc, Mutex};
use wasmer::wasmparser::{BlockType, Operator, Parser, Payload};
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
/// compilation: it holds the module's costs and records the index of the
/// global it added.
#[derive(Debug)]
pub(crate) struct BudgetMiddleware {
    /// The counter's initial value: the budget of the start function.
    initial_fuel: u64,
    /// The costs of each defined function, from [`function_costs`].
    costs: Vec<Arc<[u64]>>,
    fuel_global: Mutex<Option<u32>>,
}

impl BudgetMiddleware {
    /// The middleware for compiling `wasm` (a module that has passed
    /// `check_module_shape`).
    pub(crate) fn new(initial_fuel: u64, wasm: &[u8]) -> Self {
        Self {
            initial_fuel,
            costs: function_costs(wasm),
            fuel_global: Mutex::new(None),
        }
    }
}

/// The cost charged at the entry of each defined function and at each of its
/// loop headers, in order of appearance (index 0 is the function itself,
/// index k its k-th `loop`): the operators of the function (without its own
/// final `end`) that lie outside every loop, and for each loop the operators
/// inside it but outside its nested loops. One linear pass over the code
/// section; O(1) per operator however deep the body nests. A body that does
/// not parse gets no entry (the compiler rejects the module anyway).
pub(crate) fn function_costs(wasm: &[u8]) -> Vec<Arc<[u64]>> {
    let mut functions = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else { break };
        let Payload::CodeSectionEntry(body) = payload else {
            continue;
        };
        let Ok(mut operators) = body.get_operators_reader() else {
            break;
        };
        let mut costs = vec![0u64];
        // For each open block, whether it is a loop; and the cost slots of
        // the open loops, innermost last.
        let mut open_is_loop: Vec<bool> = Vec::new();
        let mut open_loops: Vec<usize> = Vec::new();
        let mut complete = false;
        while !operators.eof() {
            let Ok(operator) = operators.read() else {
                break;
            };
            if matches!(operator, Operator::End) && open_is_loop.is_empty() {
                // The function's own `end`: not charged.
                complete = true;
                break;
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
                Operator::End => {
                    let closes_a_loop = open_is_loop.pop() == Some(true);
                    if closes_a_loop {
                        open_loops.pop();
                    }
                }
                _ => {}
            }
        }
        if !complete {
            break;
        }
        functions.push(Arc::from(costs));
    }
    functions
}

impl ModuleRewriter for BudgetMiddleware {
    fn function(&self, index: LocalFunctionIndex) -> Box<dyn OperatorRewriter> {
        let fuel_global = self
            .fuel_global
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .expect("transform_module_info runs before functions are compiled");
        Box::new(FunctionBudget {
            fuel_global,
            length_global: fuel_global + 1,
            costs: self.costs.get(index.as_u32() as usize).cloned(),
            started: false,
            loops_seen: 0,
        })
    }

    fn transform_module_info(&self, module_info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
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

/// Rewrites one function body: the entry charge before its first operator,
/// a loop's charge right after each `loop`, a length charge before each bulk
/// operator.
#[derive(Debug)]
struct FunctionBudget {
    fuel_global: u32,
    /// Where the length operand of a bulk operator is parked while it is charged.
    length_global: u32,
    /// This function's costs (see [`function_costs`]); `None` if the scan
    /// found no body for it, which fails the compile.
    costs: Option<Arc<[u64]>>,
    /// Whether the entry charge has been emitted.
    started: bool,
    /// The `loop` operators passed so far.
    loops_seen: usize,
}

impl FunctionBudget {
    /// The cost of slot `slot` (0: the function entry, k: the k-th loop).
    fn cost(&self, slot: usize) -> u64 {
        self.costs
            .as_deref()
            .and_then(|costs| costs.get(slot))
            .copied()
            .unwrap_or(1)
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

impl OperatorRewriter for FunctionBudget {
    fn rewrite<'a>(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        if self.costs.is_none() {
            return Err(MiddlewareError::new(
                "wasmcell budget",
                "a function body that the budget scan could not read",
            ));
        }
        if !self.started {
            self.started = true;
            self.charge(self.cost(0), state);
        }
        // Bulk operators: the length is the top operand.
        match operator {
            Operator::MemoryFill { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryInit { .. } => self.charge_length(BYTES_PER_UNIT_SHIFT, state),
            Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. } => self.charge_length(0, state),
            _ => {}
        }
        let is_loop = matches!(operator, Operator::Loop { .. });
        state.push_operator(operator);
        if is_loop {
            self.loops_seen += 1;
            self.charge(self.cost(self.loops_seen), state);
        }
        Ok(())
    }
}
