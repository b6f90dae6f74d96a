//! Text output: `print!`/`println!` over `env.print`, `log!` over
//! `wasmcell.log`, formatted into a fixed buffer on the stack (no allocator).

use core::fmt::{self, Write};

use crate::sys;

/// Bytes formatted on the stack before they are handed to the host. A
/// `print!` longer than this reaches the host in several pieces (each one a
/// record of the host's log); a `log!` line longer than this is cut and ends
/// with `...` (the host cuts lines at 4 096 bytes anyway).
pub const LINE_CAPACITY: usize = 1024;

/// Log levels of `wasmcell.log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// 1: something failed (the SDK's panic handler logs at this level).
    Error = 1,
    /// 2: something is wrong but the program goes on.
    Warn = 2,
    /// 3: normal operation worth a line.
    Info = 3,
    /// 4: detail for whoever debugs the program.
    Debug = 4,
    /// 5: very fine detail.
    Trace = 5,
}

impl Level {
    /// The level for a `wasmcell.log` level number (1..=5).
    pub const fn from_i32(level: i32) -> Option<Level> {
        match level {
            1 => Some(Level::Error),
            2 => Some(Level::Warn),
            3 => Some(Level::Info),
            4 => Some(Level::Debug),
            5 => Some(Level::Trace),
            _ => None,
        }
    }

    /// `"error"`, `"warn"`, `"info"`, `"debug"` or `"trace"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Writes `text` unchanged to the host's log (`env.print`, level PRINT).
/// Include the `\n` yourself, as `println!` does.
pub fn print_str(text: &str) {
    if !text.is_empty() {
        sys::print(text);
    }
}

/// Writes one log line at `level` (`wasmcell.log`).
pub fn log_str(level: Level, text: &str) {
    sys::log(level as i32, text);
}

/// What `print!` expands to: formats `args` on the stack and hands the text
/// to `env.print`, in pieces of at most [`LINE_CAPACITY`] bytes, each cut on
/// a character boundary (the host accepts UTF-8 only).
pub fn print_fmt(args: fmt::Arguments<'_>) {
    if let Some(text) = args.as_str() {
        return print_str(text);
    }
    let mut out = Chunked::new();
    let _ = out.write_fmt(args);
    out.flush();
}

/// What `log!` expands to: formats `args` on the stack into one line of at
/// most [`LINE_CAPACITY`] bytes (longer lines end with `...`) and hands it to
/// `wasmcell.log`.
pub fn log_fmt(level: Level, args: fmt::Arguments<'_>) {
    if let Some(text) = args.as_str() {
        return log_str(level, text);
    }
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    log_str(level, line.as_str());
}

/// Formatting buffer that hands full pieces to `env.print`.
struct Chunked {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Chunked {
    fn new() -> Self {
        Chunked {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if self.len > 0 {
            // SAFETY: only whole UTF-8 sequences are ever copied in (see write_str).
            print_str(unsafe { core::str::from_utf8_unchecked(&self.buf[..self.len]) });
            self.len = 0;
        }
    }
}

impl Write for Chunked {
    fn write_str(&mut self, mut text: &str) -> fmt::Result {
        while !text.is_empty() {
            let room = LINE_CAPACITY - self.len;
            let mut take = text.len().min(room);
            while !text.is_char_boundary(take) {
                take -= 1;
            }
            if take == 0 {
                // The next character does not fit in what is left.
                self.flush();
                continue;
            }
            self.buf[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
            self.len += take;
            text = &text[take..];
        }
        Ok(())
    }
}

/// A fixed-capacity line: what does not fit is dropped and the line ends
/// with `...`. Usable on its own to build text without an allocator.
pub struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
    cut: bool,
}

impl Line {
    /// An empty line.
    pub fn new() -> Self {
        Line {
            buf: [0; LINE_CAPACITY],
            len: 0,
            cut: false,
        }
    }

    /// The text so far (ending with `...` if something was cut).
    pub fn as_str(&self) -> &str {
        // SAFETY: only whole UTF-8 sequences are ever copied in.
        unsafe { core::str::from_utf8_unchecked(&self.buf[..self.len]) }
    }

    /// Whether text was cut.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    fn cut_here(&mut self) {
        const MARK: &[u8] = b"...";
        if self.cut {
            return;
        }
        self.cut = true;
        let mut end = self.len.min(LINE_CAPACITY - MARK.len());
        // Back up to a character boundary: a byte that is not a UTF-8
        // continuation byte (0b10xx_xxxx) starts a character.
        while end > 0 && end < self.len && (self.buf[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        self.buf[end..end + MARK.len()].copy_from_slice(MARK);
        self.len = end + MARK.len();
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl Write for Line {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let room = LINE_CAPACITY - self.len;
        if text.len() <= room {
            self.buf[self.len..self.len + text.len()].copy_from_slice(text.as_bytes());
            self.len += text.len();
            return Ok(());
        }
        let mut take = room;
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        self.cut_here();
        Ok(())
    }
}

/// Prints to the host's log through `env.print` (level PRINT), like
/// `std::print!`. Formats on the stack; no allocator needed.
///
/// ```no_run
/// wasmcell_guest::print!("cycle {} ", 3);
/// ```
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::print_fmt(::core::format_args!($($arg)*))
    };
}

/// [`print!`] with a trailing newline.
///
/// ```no_run
/// wasmcell_guest::println!("temperature {:.1} °C", 21.5);
/// ```
#[macro_export]
macro_rules! println {
    () => {
        $crate::print_str("\n")
    };
    ($($arg:tt)*) => {
        $crate::print_fmt(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

/// One log line through `wasmcell.log` at a [`Level`](crate::Level).
///
/// ```no_run
/// use wasmcell_guest::{log, Level};
/// log!(Level::Warn, "sensor {} out of range: {}", 2, -300.0);
/// ```
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        $crate::log_fmt($level, ::core::format_args!($($arg)+))
    };
}

/// [`log!`] at level error (1).
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Error, $($arg)+) };
}

/// [`log!`] at level warn (2).
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Warn, $($arg)+) };
}

/// [`log!`] at level info (3).
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Info, $($arg)+) };
}

/// [`log!`] at level debug (4).
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Debug, $($arg)+) };
}

/// [`log!`] at level trace (5).
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Trace, $($arg)+) };
}
