//! Why a program faulted: classification of traps into kinds a controller can
//! branch on, and the message kept on the program until reset or reload.

use crate::error::{Error, ErrorKind};
use wasmer::sys::vm::TrapCode;
use wasmer::RuntimeError;

/// The cause of a program fault. Numeric values are stable (the C layer
/// exposes them as `WASMCELL_FAULT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    None = 0,
    /// `unreachable` executed (Rust `panic!` in a guest compiles to this).
    Unreachable = 1,
    /// A load or store outside linear memory (or a guest buffer passed to the
    /// host that lies outside it).
    MemoryOutOfBounds = 2,
    IntegerDivideByZero = 3,
    IntegerOverflow = 4,
    /// Float to integer conversion of NaN or an out-of-range value.
    BadConversionToInteger = 5,
    /// The wasm stack limit was reached (runaway recursion).
    StackOverflow = 6,
    /// `call_indirect` with a mismatched signature.
    IndirectCallMismatch = 7,
    /// `call_indirect` to a null or out-of-range table entry.
    IndirectCallNull = 8,
    /// The instruction budget of the poll is used up.
    BudgetExhausted = 9,
    /// A host callback returned an error (or panicked).
    HostError = 10,
    /// `poll` returned a non-zero i32.
    GuestReported = 11,
    /// Any other trap (misaligned atomic, uncaught exception...).
    Other = 12,
    /// The watchdog stopped the poll (or counted too many overruns).
    Watchdog = 13,
}

impl FaultKind {
    /// The status family this fault is reported with.
    pub fn error_kind(self) -> ErrorKind {
        match self {
            Self::BudgetExhausted => ErrorKind::Budget,
            Self::HostError => ErrorKind::Host,
            Self::GuestReported => ErrorKind::GuestFault,
            Self::Watchdog => ErrorKind::Watchdog,
            _ => ErrorKind::Trap,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::None => "no fault",
            Self::Unreachable => "unreachable executed",
            Self::MemoryOutOfBounds => "out-of-bounds memory access",
            Self::IntegerDivideByZero => "integer divide by zero",
            Self::IntegerOverflow => "integer overflow",
            Self::BadConversionToInteger => "invalid conversion to integer",
            Self::StackOverflow => "stack overflow",
            Self::IndirectCallMismatch => "indirect call signature mismatch",
            Self::IndirectCallNull => "indirect call to a null or missing table entry",
            Self::BudgetExhausted => "instruction budget exhausted",
            Self::HostError => "host callback error",
            Self::GuestReported => "guest reported a fault",
            Self::Watchdog => "stopped by the watchdog",
            Self::Other => "trap",
        }
    }
}

/// Longest fault message kept; longer ones (a huge host error text, a
/// function name from a hostile name section) are cut.
pub const MAX_FAULT_MESSAGE_BYTES: usize = 4096;

/// `message` cut to [`MAX_FAULT_MESSAGE_BYTES`] on a character boundary.
pub(crate) fn bounded(mut message: String) -> String {
    if message.len() > MAX_FAULT_MESSAGE_BYTES {
        let mut end = MAX_FAULT_MESSAGE_BYTES - 3;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}

/// A fault with its kind and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
}

impl Fault {
    pub fn to_error(&self) -> Error {
        Error::new(self.kind.error_kind(), self.message.clone())
    }

    /// The fault of a call into the guest the watchdog stopped after
    /// `limit_ns`.
    pub(crate) fn watchdog(program: &str, function: &str, limit_ns: u64) -> Self {
        Self {
            kind: FaultKind::Watchdog,
            message: format!(
                "program '{program}': {function}: stopped by the watchdog after running longer than {limit_ns} ns"
            ),
        }
    }

    /// Classifies a trap raised while running `function` of `program`.
    /// `budget_exhausted` tells whether the budget counter went negative.
    pub(crate) fn from_runtime_error(
        program: &str,
        function: &str,
        error: RuntimeError,
        budget_exhausted: bool,
    ) -> Self {
        let location = wasm_location(&error);
        if let Some(host) = error.downcast_ref::<HostCallError>() {
            return Self {
                kind: host.kind,
                message: bounded(format!(
                    "program '{program}': {function}: {}{location}",
                    host.message
                )),
            };
        }
        let kind = if budget_exhausted {
            FaultKind::BudgetExhausted
        } else {
            match error.clone().to_trap() {
                Some(TrapCode::UnreachableCodeReached) => FaultKind::Unreachable,
                Some(TrapCode::HeapAccessOutOfBounds) | Some(TrapCode::HeapMisaligned) => {
                    FaultKind::MemoryOutOfBounds
                }
                Some(TrapCode::IntegerDivisionByZero) => FaultKind::IntegerDivideByZero,
                Some(TrapCode::IntegerOverflow) => FaultKind::IntegerOverflow,
                Some(TrapCode::BadConversionToInteger) => FaultKind::BadConversionToInteger,
                Some(TrapCode::StackOverflow) => FaultKind::StackOverflow,
                Some(TrapCode::BadSignature) => FaultKind::IndirectCallMismatch,
                Some(TrapCode::IndirectCallToNull) | Some(TrapCode::TableAccessOutOfBounds) => {
                    FaultKind::IndirectCallNull
                }
                _ => FaultKind::Other,
            }
        };
        let detail = match kind {
            FaultKind::BudgetExhausted => {
                "instruction budget exhausted (raise it with wasmcell_program_set_fuel)".to_string()
            }
            FaultKind::Other => format!("trap: {}", error.message()),
            _ => kind.describe().to_string(),
        };
        Self {
            kind,
            message: bounded(format!(
                "program '{program}': {function}: {detail}{location}"
            )),
        }
    }
}

/// " in wasm function `name` (#index)" for the innermost wasm frame, if known.
fn wasm_location(error: &RuntimeError) -> String {
    match error.trace().first() {
        Some(frame) => match frame.function_name() {
            Some(name) => format!(" in wasm function `{name}` (#{})", frame.func_index()),
            None => format!(" in wasm function #{}", frame.func_index()),
        },
        None => String::new(),
    }
}

/// The error a failing host function raises through the guest's frames.
#[derive(Debug)]
pub(crate) struct HostCallError {
    pub(crate) kind: FaultKind,
    pub(crate) message: String,
}

impl std::fmt::Display for HostCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostCallError {}
