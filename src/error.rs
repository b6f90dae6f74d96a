//! The error model of the core: every failure has a kind (which the C layer maps
//! one-to-one onto a `wasmcell_status`) and a human-readable message.

use std::fmt;

/// What went wrong, coarse enough to branch on.
///
/// The C status codes mirror these variants; their numeric values live in
/// `src/ffi/status.rs` and are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument was out of range or malformed (bad signature string, empty name...).
    InvalidArgument,
    /// The runtime or program was closed or unloaded.
    InvalidHandle,
    /// The bytes are neither valid WebAssembly nor valid WAT.
    Compile,
    /// The module cannot be linked: missing import, wrong import type, no `poll` export.
    Link,
    /// Instantiation failed: the start function or `init` trapped.
    Instantiate,
    /// The guest trapped during a poll (see [`crate::FaultKind`] for which trap).
    Trap,
    /// The guest used up its instruction budget for this poll.
    Budget,
    /// A host callback reported an error, which trapped the guest.
    Host,
    /// `poll` returned a non-zero value: the guest reported its own fault.
    GuestFault,
    /// The program is faulted; reset or reload it first.
    Faulted,
    /// The call would re-enter a program from inside its own callback.
    Busy,
    /// The caller's buffer is too small (C layer only).
    BufferTooSmall,
    /// A file, function or signal does not exist.
    NotFound,
    /// A configured limit was exceeded (module size, memory minimum).
    Limit,
    /// Reading a file failed.
    Io,
    /// The program's watchdog stopped a poll that ran too long, or counted
    /// too many overruns in a row.
    Watchdog,
    /// A bug in wasmcell or wasmer: a caught panic or an impossible state.
    Internal,
}

/// An error with its kind and a message that says what happened and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
