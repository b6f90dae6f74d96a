//! Host functions: callbacks the embedding application registers and guests
//! import by module and name, typed by a short signature string.

use crate::error::{Error, ErrorKind, Result};
use std::fmt;
use std::sync::Arc;
use wasmer::{FunctionType, Type};

/// One parameter or result of a host function as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValKind {
    I32,
    I64,
    F32,
    F64,
    /// A guest (pointer, length) pair: two i32 in wasm, one bounds-checked
    /// buffer for the host.
    Buf,
}

/// A parsed signature such as `"(*~)i"` or `"(iF)I"`.
///
/// Parameters: `i` i32, `I` i64, `f` f32, `F` f64, `*~` a guest buffer (pointer
/// and length). Results: `i I f F`, any number (an empty result list is allowed
/// and may be omitted after the closing parenthesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    params: Vec<ValKind>,
    results: Vec<ValKind>,
    text: String,
}

impl Signature {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("bad signature \"{text}\": {why} (expected e.g. \"(ii)i\"; params i I f F *~, results i I f F)"),
            )
        };
        let rest = text
            .strip_prefix('(')
            .ok_or_else(|| bad("it must start with '('".into()))?;
        let close = rest.find(')').ok_or_else(|| bad("missing ')'".into()))?;
        let (params_text, results_text) = (&rest[..close], &rest[close + 1..]);
        let mut params = Vec::new();
        let mut chars = params_text.chars().peekable();
        while let Some(c) = chars.next() {
            params.push(match c {
                'i' => ValKind::I32,
                'I' => ValKind::I64,
                'f' => ValKind::F32,
                'F' => ValKind::F64,
                '*' => {
                    if chars.next() != Some('~') {
                        return Err(bad(
                            "'*' must be followed by '~' (pointer and length)".into()
                        ));
                    }
                    ValKind::Buf
                }
                other => return Err(bad(format!("unknown parameter type '{other}'"))),
            });
        }
        let mut results = Vec::new();
        for c in results_text.chars() {
            results.push(match c {
                'i' => ValKind::I32,
                'I' => ValKind::I64,
                'f' => ValKind::F32,
                'F' => ValKind::F64,
                other => return Err(bad(format!("unknown result type '{other}'"))),
            });
        }
        Ok(Self {
            params,
            results,
            text: text.to_string(),
        })
    }

    pub fn params(&self) -> &[ValKind] {
        &self.params
    }

    pub fn results(&self) -> &[ValKind] {
        &self.results
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The wasm function type a guest must import this function with.
    pub(crate) fn wasm_type(&self) -> FunctionType {
        let mut params = Vec::new();
        for kind in &self.params {
            match kind {
                ValKind::Buf => params.extend([Type::I32, Type::I32]),
                scalar => params.push(scalar_type(*scalar)),
            }
        }
        let results: Vec<Type> = self.results.iter().map(|k| scalar_type(*k)).collect();
        FunctionType::new(params, results)
    }
}

fn scalar_type(kind: ValKind) -> Type {
    match kind {
        ValKind::I32 | ValKind::Buf => Type::I32,
        ValKind::I64 => Type::I64,
        ValKind::F32 => Type::F32,
        ValKind::F64 => Type::F64,
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A value passed to or returned from a host function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// A guest buffer, already bounds-checked against the guest's memory:
    /// `offset..offset + len` lies inside [`HostCall::memory`].
    Buf {
        offset: usize,
        len: usize,
    },
}

impl Val {
    pub(crate) fn zero(kind: ValKind) -> Self {
        match kind {
            ValKind::I32 | ValKind::Buf => Val::I32(0),
            ValKind::I64 => Val::I64(0),
            ValKind::F32 => Val::F32(0.0),
            ValKind::F64 => Val::F64(0.0),
        }
    }
}

/// What a host function sees of the program that called it. Valid only for
/// the duration of the call.
pub struct HostCall<'a> {
    pub(crate) program_name: &'a str,
    pub(crate) program_tag: u64,
    pub(crate) memory: GuestMemory<'a>,
    pub(crate) error_message: Option<String>,
    /// The call comes from a shadow poll of a prepared reload.
    pub(crate) shadow: bool,
}

/// The calling guest's linear memory, located on first use: most callbacks
/// with scalar signatures never look at it, and locating it costs a store
/// lookup. It cannot move or grow during the call (the guest is suspended and
/// a callback cannot re-enter its own program), so it is located once.
pub(crate) enum GuestMemory<'a> {
    /// The guest exports no memory.
    None,
    Unresolved(&'a wasmer::Memory, wasmer::StoreMut<'a>),
    Resolved(&'a mut [u8]),
}

impl<'a> GuestMemory<'a> {
    fn bytes(&mut self) -> &mut [u8] {
        if let GuestMemory::Unresolved(memory, store) = self {
            let view = memory.view(store);
            // SAFETY: the guest is suspended inside the host call this value
            // belongs to; nothing else touches its memory until the call
            // returns, and the slice does not outlive the call.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(view.data_ptr(), view.data_size() as usize)
            };
            *self = GuestMemory::Resolved(bytes);
        }
        match self {
            GuestMemory::Resolved(bytes) => bytes,
            _ => &mut [],
        }
    }
}

impl<'a> HostCall<'a> {
    /// The name the calling program was loaded with.
    pub fn program_name(&self) -> &str {
        self.program_name
    }

    /// The tag the embedder attached to the calling program (the C layer stores
    /// the program's handle there).
    pub fn program_tag(&self) -> u64 {
        self.program_tag
    }

    /// True inside a shadow poll of a prepared reload
    /// ([`crate::PreparedReload::shadow_poll`]): the call must not actuate
    /// anything; answer it (read sensors) and suppress side effects.
    pub fn is_shadow(&self) -> bool {
        self.shadow
    }

    /// The calling program's whole linear memory (empty if it exports none).
    pub fn memory(&mut self) -> &mut [u8] {
        self.memory.bytes()
    }

    /// The bytes of a buffer argument.
    pub fn buf(&mut self, val: &Val) -> Option<&mut [u8]> {
        match *val {
            Val::Buf { offset, len } => self.memory().get_mut(offset..offset + len),
            _ => None,
        }
    }

    /// A message that explains the error code the function is about to return;
    /// it becomes part of the program's fault message.
    pub fn set_error_message(&mut self, message: impl Into<String>) {
        self.error_message = Some(crate::fault::bounded(message.into()));
    }
}

/// A host callback. Returning `Err(code)` (code != 0) traps the calling guest
/// with [`ErrorKind::Host`]; the fault message names the function and the code.
pub trait HostFunction: Send + Sync + 'static {
    fn call(&self, call: &mut HostCall<'_>, args: &[Val], results: &mut [Val]) -> Result<(), i32>;
}

impl<F> HostFunction for F
where
    F: Fn(&mut HostCall<'_>, &[Val], &mut [Val]) -> Result<(), i32> + Send + Sync + 'static,
{
    fn call(&self, call: &mut HostCall<'_>, args: &[Val], results: &mut [Val]) -> Result<(), i32> {
        self(call, args, results)
    }
}

/// A host function registered on a runtime.
#[derive(Clone)]
pub(crate) struct HostDefinition {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) signature: Signature,
    pub(crate) function: Arc<dyn HostFunction>,
}

/// What the engine layer (instances and their imports) needs from the
/// runtime that owns them, and nothing more: host-function lookup at link
/// time, the log sink and clock guests write to and read, and the WASI seed.
/// The runtime implements it (`runtime_shared.rs`); instances hold it as a
/// trait object, so nothing below the runtime knows the runtime.
pub(crate) trait HostServices: Send + Sync {
    /// The host function defined as `module.name`, if any.
    fn host_function(&self, module: &str, name: &str) -> Option<HostDefinition>;
    /// Where guest output and warnings go.
    fn log_sink(&self) -> Arc<dyn crate::log::LogSink>;
    /// The clock `wasmcell.now_ns` and WASI read.
    fn clock(&self) -> Arc<dyn crate::clock::Clock>;
    /// Seed of WASI `random_get` for instances created now (None: from the OS).
    fn random_seed(&self) -> Option<u64>;
}

/// Stops a call into the guest that runs past its time (deadline mode):
/// armed before the call with the instance's stop floor, disarmed after it.
/// The watchdog implements it (`watchdog.rs`); instances hold it as a trait
/// object, as they hold [`HostServices`].
pub(crate) trait CallWatch: Send + Sync {
    /// Starts timing a call whose stop floor is `floor` (an i64 global of
    /// the instance making the call, alive until [`CallWatch::disarm`]).
    fn arm(&self, floor: *mut i64);
    /// Ends the call's timing; whether the call was stopped. After it
    /// returns nothing writes through the floor any more.
    fn disarm(&self) -> bool;
    /// The time after which a call is stopped, in ns.
    fn limit_ns(&self) -> u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_print_signature() {
        let sig = Signature::parse("(*~)i").unwrap();
        assert_eq!(sig.params(), &[ValKind::Buf]);
        assert_eq!(sig.results(), &[ValKind::I32]);
        assert_eq!(
            sig.wasm_type(),
            FunctionType::new(vec![Type::I32, Type::I32], vec![Type::I32])
        );
    }

    #[test]
    fn parses_all_scalar_kinds_and_empty_results() {
        let sig = Signature::parse("(iIfF)").unwrap();
        assert_eq!(
            sig.params(),
            &[ValKind::I32, ValKind::I64, ValKind::F32, ValKind::F64]
        );
        assert!(sig.results().is_empty());
        assert_eq!(Signature::parse("()F").unwrap().results(), &[ValKind::F64]);
    }

    #[test]
    fn rejects_malformed_signatures_with_a_reason() {
        for (text, why) in [
            ("", "start with '('"),
            ("ii)i", "start with '('"),
            ("(ii", "missing ')'"),
            ("(x)i", "unknown parameter type 'x'"),
            ("(*)i", "'*' must be followed by '~'"),
            ("(i)~", "unknown result type '~'"),
            ("(i)*", "unknown result type '*'"),
        ] {
            let err = Signature::parse(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{text}");
            assert!(err.message().contains(why), "{text}: {}", err.message());
        }
    }
}
