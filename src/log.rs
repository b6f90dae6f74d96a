//! Where guest output goes: `env.print` and `wasmcell.log` lines reach the
//! runtime's log sink, tagged with the program's name and a level.

use std::io::Write;

/// Level of a guest log line. `Print` marks output of the original `env.print`
/// import, passed on byte for byte (it carries its own newlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Print = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    /// The level a guest passes to `wasmcell.log` (1 = error ... 5 = trace).
    pub fn from_guest(level: i32) -> Option<Self> {
        Some(match level {
            1 => Self::Error,
            2 => Self::Warn,
            3 => Self::Info,
            4 => Self::Debug,
            5 => Self::Trace,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Print => "print",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

/// Receives guest output. Called on the thread that polls the program, while
/// the program is suspended inside the import.
pub trait LogSink: Send + Sync + 'static {
    fn log(&self, program: &str, level: LogLevel, message: &[u8]);
}

impl<F> LogSink for F
where
    F: Fn(&str, LogLevel, &[u8]) + Send + Sync + 'static,
{
    fn log(&self, program: &str, level: LogLevel, message: &[u8]) {
        self(program, level, message)
    }
}

/// The default sink: standard error, each line prefixed with the program's
/// name (and the level for `wasmcell.log` lines).
pub struct StderrSink;

impl LogSink for StderrSink {
    fn log(&self, program: &str, level: LogLevel, message: &[u8]) {
        let mut line = Vec::with_capacity(message.len() + program.len() + 16);
        line.extend_from_slice(b"[");
        line.extend_from_slice(program.as_bytes());
        if level != LogLevel::Print {
            line.extend_from_slice(b" ");
            line.extend_from_slice(level.as_str().as_bytes());
        }
        line.extend_from_slice(b"] ");
        line.extend_from_slice(message);
        if !message.ends_with(b"\n") {
            line.push(b'\n');
        }
        // A full or closed stderr must not fault the guest.
        let _ = std::io::stderr().lock().write_all(&line);
    }
}
