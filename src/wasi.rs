//! A WASI preview 1 subset, deny by default: what Rust's `std` and wasi-libc
//! need to run a control program, and nothing that reaches outside the
//! sandbox (no files, no sockets, no environment).
//!
//! | function | here |
//! | --- | --- |
//! | `fd_write` to 1 / 2 | the program's log, level PRINT / WARN, line-buffered, flushed after each call into the guest; per-poll cap as `env.print` |
//! | `fd_fdstat_get` 0-2 | a character device |
//! | `fd_read` 0 | end of file |
//! | `clock_time_get`, `clock_res_get` | the runtime's clock (a replaced clock drives the guest too); REALTIME is the wall time at library start plus that clock |
//! | `random_get` | a per-program generator, seeded from the OS or from `wasmcell_runtime_set_random_seed` |
//! | `args_*`, `environ_*` | empty |
//! | `sched_yield` | nothing |
//! | `proc_exit(code)` | ends the call as a fault of the guest's own, code in the message (0 included) |
//! | `fd_prestat_get` | EBADF: no preopened directories |
//! | every other function | present, returns ENOSYS (or EBADF for a descriptor) |
//!
//! Every call costs the budget [`IMPORT_CALL_UNITS`] plus one unit per
//! [`BYTES_PER_UNIT`] bytes it reads or writes, like the other built-ins.

use crate::budget::{BYTES_PER_UNIT, IMPORT_CALL_UNITS};
use crate::fault::FaultKind;
use crate::fault::HostCallError;
use crate::guest_env::{GuestEnv, MAX_OUTPUT_LINE_BYTES};
use crate::log::LogLevel;
use wasmer::{
    AsStoreRef, Function, FunctionEnv, FunctionEnvMut, FunctionType, Memory, RuntimeError, Store,
    Type, Value,
};

/// The import module name of WASI preview 1.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ENOSYS: i32 = 52;
const ESPIPE: i32 = 70;

const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_WRITE: u64 = 1 << 6;

const I: Type = Type::I32;
const L: Type = Type::I64;

/// The wasm type of every preview 1 function, by name.
fn signature(name: &str) -> Option<(&'static [Type], &'static [Type])> {
    Some(match name {
        "args_get" | "args_sizes_get" | "environ_get" | "environ_sizes_get" => (&[I, I], &[I]),
        "clock_res_get" => (&[I, I], &[I]),
        "clock_time_get" => (&[I, L, I], &[I]),
        "fd_advise" => (&[I, L, L, I], &[I]),
        "fd_allocate" => (&[I, L, L], &[I]),
        "fd_close" | "fd_datasync" | "fd_sync" => (&[I], &[I]),
        "fd_fdstat_get"
        | "fd_filestat_get"
        | "fd_prestat_get"
        | "fd_tell"
        | "fd_renumber"
        | "fd_fdstat_set_flags" => (&[I, I], &[I]),
        "fd_fdstat_set_rights" => (&[I, L, L], &[I]),
        "fd_filestat_set_size" => (&[I, L], &[I]),
        "fd_filestat_set_times" => (&[I, L, L, I], &[I]),
        "fd_pread" | "fd_pwrite" => (&[I, I, I, L, I], &[I]),
        "fd_prestat_dir_name" => (&[I, I, I], &[I]),
        "fd_read" | "fd_write" => (&[I, I, I, I], &[I]),
        "fd_readdir" => (&[I, I, I, L, I], &[I]),
        "fd_seek" => (&[I, L, I, I], &[I]),
        "path_create_directory" | "path_remove_directory" | "path_unlink_file" => {
            (&[I, I, I], &[I])
        }
        "path_filestat_get" => (&[I, I, I, I, I], &[I]),
        "path_filestat_set_times" => (&[I, I, I, I, L, L, I], &[I]),
        "path_link" => (&[I, I, I, I, I, I, I], &[I]),
        "path_open" => (&[I, I, I, I, I, L, L, I, I], &[I]),
        "path_readlink" => (&[I, I, I, I, I, I], &[I]),
        "path_rename" => (&[I, I, I, I, I, I], &[I]),
        "path_symlink" => (&[I, I, I, I, I], &[I]),
        "poll_oneoff" => (&[I, I, I, I], &[I]),
        "proc_exit" => (&[I], &[]),
        "proc_raise" => (&[I], &[I]),
        "sched_yield" => (&[], &[I]),
        "random_get" => (&[I, I], &[I]),
        "sock_accept" => (&[I, I, I], &[I]),
        "sock_recv" => (&[I, I, I, I, I, I], &[I]),
        "sock_send" => (&[I, I, I, I, I], &[I]),
        "sock_shutdown" => (&[I, I], &[I]),
        _ => return None,
    })
}

/// The wasm type of `wasi_snapshot_preview1.name`, if preview 1 has it.
pub(crate) fn function_type(name: &str) -> Option<FunctionType> {
    signature(name).map(|(params, results)| FunctionType::new(params, results))
}

/// The import `wasi_snapshot_preview1.name` for one instance.
pub(crate) fn function(
    store: &mut Store,
    env: &FunctionEnv<GuestEnv>,
    name: &str,
) -> Option<Function> {
    Some(match name {
        "fd_write" => Function::new_typed_with_env(store, env, fd_write),
        "fd_read" => Function::new_typed_with_env(store, env, fd_read),
        "fd_fdstat_get" => Function::new_typed_with_env(store, env, fd_fdstat_get),
        "fd_close" => Function::new_typed_with_env(store, env, fd_close),
        "fd_seek" => Function::new_typed_with_env(store, env, fd_seek),
        "fd_prestat_get" => Function::new_typed_with_env(store, env, fd_prestat_get),
        "clock_time_get" => Function::new_typed_with_env(store, env, clock_time_get),
        "clock_res_get" => Function::new_typed_with_env(store, env, clock_res_get),
        "random_get" => Function::new_typed_with_env(store, env, random_get),
        "args_sizes_get" | "environ_sizes_get" => {
            Function::new_typed_with_env(store, env, sizes_get_empty)
        }
        "args_get" | "environ_get" => Function::new_typed_with_env(store, env, get_empty),
        "sched_yield" => Function::new_typed_with_env(store, env, sched_yield),
        "proc_exit" => Function::new_typed_with_env(store, env, proc_exit),
        other => {
            let ty = function_type(other)?;
            // Descriptor functions answer EBADF (there is no such descriptor);
            // everything else ENOSYS.
            let errno = if other.starts_with("fd_") || other.starts_with("sock_") {
                EBADF
            } else {
                ENOSYS
            };
            Function::new_with_env(store, env, ty, move |mut env, _| {
                env.data_mut().charge(IMPORT_CALL_UNITS)?;
                Ok(vec![Value::I32(errno)])
            })
        }
    })
}

/// Runs `f` on the guest's memory (None if it exports none).
fn with_memory<R>(
    memory: &Option<Memory>,
    store: &impl AsStoreRef,
    f: impl FnOnce(&mut [u8]) -> R,
) -> Option<R> {
    let memory = memory.as_ref()?;
    let view = memory.view(store);
    // SAFETY: the guest is suspended inside this import and nothing else
    // holds a reference into its memory; the slice does not outlive `f`.
    let bytes = unsafe { view.data_unchecked_mut() };
    Some(f(bytes))
}

/// The `len` bytes at `ptr`, if they lie inside `memory`.
fn range(memory: &mut [u8], ptr: i32, len: usize) -> Option<&mut [u8]> {
    let start = ptr as u32 as usize;
    memory.get_mut(start..start.checked_add(len)?)
}

fn put_u32(memory: &mut [u8], ptr: i32, value: u32) -> bool {
    range(memory, ptr, 4)
        .map(|slot| slot.copy_from_slice(&value.to_le_bytes()))
        .is_some()
}

fn put_u64(memory: &mut [u8], ptr: i32, value: u64) -> bool {
    range(memory, ptr, 8)
        .map(|slot| slot.copy_from_slice(&value.to_le_bytes()))
        .is_some()
}

fn get_u32(memory: &mut [u8], ptr: i32) -> Option<u32> {
    range(memory, ptr, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn errno_of(ok: bool) -> i32 {
    if ok {
        SUCCESS
    } else {
        EFAULT
    }
}

/// `fd_write(fd, iovs, iovs_len, nwritten) -> errno`: stdout and stderr go
/// to the log, a line at a time; every byte counts as written (output past
/// the per-poll cap is dropped, not retried).
fn fd_write(
    mut env: FunctionEnvMut<GuestEnv>,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> Result<i32, RuntimeError> {
    let stream = match fd {
        1 => Stream::Stdout,
        2 => Stream::Stderr,
        _ => {
            env.data_mut().charge(IMPORT_CALL_UNITS)?;
            return Ok(EBADF);
        }
    };
    let (guest, store) = env.data_and_store_mut();
    let memory = guest.memory.clone();
    let result = with_memory(&memory, &store, |bytes| -> Result<i32, RuntimeError> {
        // First pass: bounds and size, charged before anything is written.
        let count = iovs_len as u32 as u64;
        let mut total = 0u64;
        for i in 0..count {
            let at = (iovs as u32 as u64 + i * 8) as i32;
            let (Some(ptr), Some(len)) = (get_u32(bytes, at), get_u32(bytes, at.wrapping_add(4)))
            else {
                return Ok(EFAULT);
            };
            if range(bytes, ptr as i32, len as usize).is_none() {
                return Ok(EFAULT);
            }
            total += u64::from(len);
            if i % 1024 == 1023 {
                // Long iovec lists pay as they go, so the scan itself is bounded.
                guest.charge(1024)?;
            }
        }
        guest.charge(IMPORT_CALL_UNITS + count % 1024 + total / BYTES_PER_UNIT)?;
        for i in 0..count {
            let at = (iovs as u32 as u64 + i * 8) as i32;
            let ptr = get_u32(bytes, at).unwrap_or(0) as i32;
            let len = get_u32(bytes, at.wrapping_add(4)).unwrap_or(0) as usize;
            if let Some(data) = range(bytes, ptr, len) {
                guest.stdio_write(stream, data);
            }
        }
        Ok(errno_of(put_u32(
            bytes,
            nwritten,
            total.min(u32::MAX as u64) as u32,
        )))
    });
    result.unwrap_or(Ok(EFAULT))
}

/// Which standard stream a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn level(self) -> LogLevel {
        match self {
            Self::Stdout => LogLevel::Print,
            Self::Stderr => LogLevel::Warn,
        }
    }
}

impl GuestEnv {
    /// Appends `data` to the stream's line buffer and writes out every line
    /// it completes. A line longer than the line cap is written in pieces.
    pub(crate) fn stdio_write(&mut self, stream: Stream, mut data: &[u8]) {
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            let buffered = self.stdio[stream as usize].len();
            let room = MAX_OUTPUT_LINE_BYTES.saturating_sub(buffered).max(1);
            match newline {
                // A whole line straight from guest memory: no copy.
                Some(end) if buffered == 0 && end < room => {
                    self.emit_line(stream, &data[..=end]);
                    data = &data[end + 1..];
                }
                Some(end) if end < room => {
                    self.stdio[stream as usize].extend_from_slice(&data[..=end]);
                    self.flush_stream(stream);
                    data = &data[end + 1..];
                }
                _ => {
                    let take = data.len().min(room);
                    self.stdio[stream as usize].extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.stdio[stream as usize].len() >= MAX_OUTPUT_LINE_BYTES {
                        self.flush_stream(stream);
                    }
                }
            }
        }
        if !self.stdio[stream as usize].is_empty() {
            self.mark_output_pending();
        }
    }

    fn emit_line(&self, stream: Stream, line: &[u8]) {
        // Log lines (stderr) carry no newline; print output keeps its own.
        let line = match stream {
            Stream::Stderr => line.strip_suffix(b"\n").unwrap_or(line),
            Stream::Stdout => line,
        };
        self.write_output(stream.level(), line);
    }

    fn flush_stream(&mut self, stream: Stream) {
        let line = std::mem::take(&mut self.stdio[stream as usize]);
        if !line.is_empty() {
            self.emit_line(stream, &line);
        }
        // Keep the allocation for the next line.
        let mut line = line;
        line.clear();
        self.stdio[stream as usize] = line;
    }

    /// Writes out partial lines left in the stdio buffers (end of a call
    /// into the guest).
    pub(crate) fn flush_stdio(&mut self) {
        self.flush_stream(Stream::Stdout);
        self.flush_stream(Stream::Stderr);
    }
}

/// `fd_read(fd, iovs, iovs_len, nread)`: standard input is always at its end.
fn fd_read(
    mut env: FunctionEnvMut<GuestEnv>,
    fd: i32,
    _iovs: i32,
    _iovs_len: i32,
    nread: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    if fd != 0 {
        return Ok(EBADF);
    }
    let (guest, store) = env.data_and_store_mut();
    Ok(with_memory(&guest.memory, &store, |bytes| {
        errno_of(put_u32(bytes, nread, 0))
    })
    .unwrap_or(EFAULT))
}

/// `fd_fdstat_get(fd, stat)`: 0-2 are character devices.
fn fd_fdstat_get(
    mut env: FunctionEnvMut<GuestEnv>,
    fd: i32,
    stat: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    let rights = match fd {
        0 => RIGHT_FD_READ,
        1 | 2 => RIGHT_FD_WRITE,
        _ => return Ok(EBADF),
    };
    let (guest, store) = env.data_and_store_mut();
    let written = with_memory(&guest.memory, &store, |bytes| {
        // struct fdstat { u8 filetype; u16 flags @2; u64 rights @8; u64 inheriting @16 }
        let Some(slot) = range(bytes, stat, 24) else {
            return EFAULT;
        };
        slot.fill(0);
        slot[0] = FILETYPE_CHARACTER_DEVICE;
        slot[8..16].copy_from_slice(&rights.to_le_bytes());
        SUCCESS
    });
    Ok(written.unwrap_or(EFAULT))
}

/// `fd_close(fd)`: closing a standard stream does nothing; nothing else is open.
fn fd_close(mut env: FunctionEnvMut<GuestEnv>, fd: i32) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    Ok(if (0..=2).contains(&fd) {
        SUCCESS
    } else {
        EBADF
    })
}

/// `fd_seek(fd, offset, whence, newoffset)`: the standard streams cannot seek.
fn fd_seek(
    mut env: FunctionEnvMut<GuestEnv>,
    fd: i32,
    _offset: i64,
    _whence: i32,
    _newoffset: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    Ok(if (0..=2).contains(&fd) { ESPIPE } else { EBADF })
}

/// `fd_prestat_get(fd, prestat)`: no preopened directories (libc stops
/// asking at the first EBADF).
fn fd_prestat_get(
    mut env: FunctionEnvMut<GuestEnv>,
    _fd: i32,
    _prestat: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    Ok(EBADF)
}

/// Clock ids of preview 1: realtime, monotonic, process and thread CPU time.
fn clock_ns(guest: &GuestEnv, id: i32) -> Option<u64> {
    let now = guest.services.clock().now_ns().max(0) as u64;
    match id {
        0 => Some(crate::clock::wall_ns_at_start().saturating_add(now)),
        1..=3 => Some(now),
        _ => None,
    }
}

/// `clock_time_get(id, precision, time)`.
fn clock_time_get(
    mut env: FunctionEnvMut<GuestEnv>,
    id: i32,
    _precision: i64,
    time: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    let (guest, store) = env.data_and_store_mut();
    let Some(now) = clock_ns(guest, id) else {
        return Ok(EINVAL);
    };
    Ok(with_memory(&guest.memory, &store, |bytes| {
        errno_of(put_u64(bytes, time, now))
    })
    .unwrap_or(EFAULT))
}

/// `clock_res_get(id, resolution)`: nanoseconds.
fn clock_res_get(
    mut env: FunctionEnvMut<GuestEnv>,
    id: i32,
    resolution: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    if !(0..=3).contains(&id) {
        return Ok(EINVAL);
    }
    let (guest, store) = env.data_and_store_mut();
    Ok(with_memory(&guest.memory, &store, |bytes| {
        errno_of(put_u64(bytes, resolution, 1))
    })
    .unwrap_or(EFAULT))
}

/// `random_get(buf, len)`: from the program's own generator.
fn random_get(mut env: FunctionEnvMut<GuestEnv>, buf: i32, len: i32) -> Result<i32, RuntimeError> {
    let len = len as u32 as usize;
    env.data_mut()
        .charge(IMPORT_CALL_UNITS + len as u64 / BYTES_PER_UNIT)?;
    let (guest, store) = env.data_and_store_mut();
    let memory = guest.memory.clone();
    let filled = with_memory(&memory, &store, |bytes| match range(bytes, buf, len) {
        Some(out) => {
            guest.random.fill(out);
            SUCCESS
        }
        None => EFAULT,
    });
    Ok(filled.unwrap_or(EFAULT))
}

/// `args_sizes_get` / `environ_sizes_get`: no arguments, no environment.
fn sizes_get_empty(
    mut env: FunctionEnvMut<GuestEnv>,
    count: i32,
    size: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    let (guest, store) = env.data_and_store_mut();
    Ok(with_memory(&guest.memory, &store, |bytes| {
        errno_of(put_u32(bytes, count, 0) && put_u32(bytes, size, 0))
    })
    .unwrap_or(EFAULT))
}

/// `args_get` / `environ_get`: nothing to copy.
fn get_empty(
    mut env: FunctionEnvMut<GuestEnv>,
    _list: i32,
    _buf: i32,
) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    Ok(SUCCESS)
}

/// `sched_yield()`: a poll is one slice of the host's cycle; nothing to yield to.
fn sched_yield(mut env: FunctionEnvMut<GuestEnv>) -> Result<i32, RuntimeError> {
    env.data_mut().charge(IMPORT_CALL_UNITS)?;
    Ok(SUCCESS)
}

/// `proc_exit(code)`: the program ended itself; that is a fault of its own.
fn proc_exit(mut env: FunctionEnvMut<GuestEnv>, code: i32) -> Result<(), RuntimeError> {
    env.data_mut().flush_stdio();
    Err(RuntimeError::user(Box::new(HostCallError {
        kind: FaultKind::GuestReported,
        message: format!("the program called proc_exit({code}) (a control program must return from poll instead)"),
    })))
}
