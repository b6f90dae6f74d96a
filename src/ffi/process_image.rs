//! C API of the process image: I/O without callbacks, in a form LabVIEW and
//! other FFI hosts can call (scalars, pointers, caller-allocated buffers with
//! explicit lengths; no structs by value, no callbacks).

use super::program::{wasmcell_program, with_program};
use super::runtime::invalid_argument;
use super::status::wasmcell_status;
use super::text::{borrow_bytes, borrow_str, copy_out, write_out};
use crate::error::{Error, ErrorKind};
use crate::image_layout::Signal;
use crate::process_image::SignalValue;
use std::ffi::c_char;

/// Areas of the process image.
pub type wasmcell_area = i32;
/// Host -> program: copied into the guest before each poll.
pub const WASMCELL_AREA_INPUT: wasmcell_area = 0;
/// Program -> host: published after each poll that succeeded.
pub const WASMCELL_AREA_OUTPUT: wasmcell_area = 1;
/// Program state that survives reset and reload.
pub const WASMCELL_AREA_RETAIN: wasmcell_area = 2;

/// Signal types (the values a guest writes in its descriptor).
pub type wasmcell_signal_type = i32;
pub const WASMCELL_SIGNAL_BOOL: wasmcell_signal_type = 0;
pub const WASMCELL_SIGNAL_I8: wasmcell_signal_type = 1;
pub const WASMCELL_SIGNAL_U8: wasmcell_signal_type = 2;
pub const WASMCELL_SIGNAL_I16: wasmcell_signal_type = 3;
pub const WASMCELL_SIGNAL_U16: wasmcell_signal_type = 4;
pub const WASMCELL_SIGNAL_I32: wasmcell_signal_type = 5;
pub const WASMCELL_SIGNAL_U32: wasmcell_signal_type = 6;
pub const WASMCELL_SIGNAL_I64: wasmcell_signal_type = 7;
pub const WASMCELL_SIGNAL_U64: wasmcell_signal_type = 8;
pub const WASMCELL_SIGNAL_F32: wasmcell_signal_type = 9;
pub const WASMCELL_SIGNAL_F64: wasmcell_signal_type = 10;

fn write_optional<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL optional out-pointer, valid per the header;
        // unaligned, as packed host structs may be.
        unsafe { out.write_unaligned(value) };
    }
}

/// Writes the size in bytes of one area (`WASMCELL_AREA_*`) of the program's
/// process image to `*len` (0 if the program declares none).
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT` (unknown area, NULL
/// `len`), `WASMCELL_ERR_INVALID_HANDLE`. Any thread; never waits for a poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `len`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_image_size(
    p: *mut wasmcell_program,
    area: wasmcell_area,
    len: *mut usize,
) -> wasmcell_status {
    with_program(p, |entry| {
        let layout = entry.program.image_layout();
        let region = match area {
            WASMCELL_AREA_INPUT => layout.inputs,
            WASMCELL_AREA_OUTPUT => layout.outputs,
            WASMCELL_AREA_RETAIN => layout.retain,
            other => return Err(invalid_argument(&format!("unknown area {other}"))),
        };
        write_out(len, region.len as usize, "len")
    })
}

/// Copies `len` bytes from `data` to `offset` of the input area. They reach
/// the guest at the start of the next poll (a poll running now sees the
/// previous inputs). Ownership: `data` is only read during the call.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (range outside the
/// input area, `data` NULL with `len > 0`); `WASMCELL_ERR_INVALID_HANDLE`.
/// Any thread; never waits for a running poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `data`: `len` readable bytes (NULL when it is 0).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_write_inputs(
    p: *mut wasmcell_program,
    offset: usize,
    data: *const u8,
    len: usize,
) -> wasmcell_status {
    with_program(p, |entry| {
        entry
            .program
            .write_inputs(offset, borrow_bytes(data, len, "data")?)
    })
}

/// Copies `len` bytes at `offset` of the published outputs into `data`: the
/// outputs of the last poll that succeeded (a faulting poll never changes
/// them). Writes the number of that poll to `*poll` if `poll` is not NULL
/// (0: no poll has succeeded yet; compare with `wasmcell_stats.polls`).
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (range outside the
/// output area, `data` NULL with `len > 0`); `WASMCELL_ERR_INVALID_HANDLE`.
/// Any thread; never waits for a running poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `data`: `len` writable bytes (NULL when it is 0).
/// `poll`: NULL or a writable `u64`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_read_outputs(
    p: *mut wasmcell_program,
    offset: usize,
    data: *mut u8,
    len: usize,
    poll: *mut u64,
) -> wasmcell_status {
    with_program(p, |entry| {
        if data.is_null() && len > 0 {
            return Err(invalid_argument("data is NULL"));
        }
        let mut empty = [];
        let out: &mut [u8] = if len == 0 {
            &mut empty
        } else {
            // SAFETY: non-NULL and, per the header, `len` writable bytes.
            unsafe { std::slice::from_raw_parts_mut(data, len) }
        };
        let published_by = entry.program.read_outputs(offset, out)?;
        write_optional(poll, published_by);
        Ok(())
    })
}

/// Writes the number of declared signals to `*count`.
///
/// Returns: `WASMCELL_OK`, `WASMCELL_ERR_INVALID_ARGUMENT`,
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `count`: NULL or a writable `usize`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_count(
    p: *mut wasmcell_program,
    count: *mut usize,
) -> wasmcell_status {
    with_program(p, |entry| {
        write_out(count, entry.program.signals().len(), "count")
    })
}

fn describe(
    signal: &Signal,
    area: *mut wasmcell_area,
    ty: *mut wasmcell_signal_type,
    offset: *mut u32,
) {
    write_optional(area, signal.area as wasmcell_area);
    write_optional(ty, signal.ty as wasmcell_signal_type);
    write_optional(offset, signal.offset);
}

/// Lists signal number `index` (0 .. count-1): copies its name into `name`
/// (NUL-terminated) and writes its id, area, type and byte offset inside its
/// area through the out-pointers that are not NULL.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND` (index out of range);
/// `WASMCELL_ERR_BUFFER_TOO_SMALL` (the other outputs are still written);
/// `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `name`: NULL or `cap` writable bytes.
/// `name_len`: NULL or a writable `usize`.
/// `id`: NULL or a writable `u32`.
/// `area`: NULL or a writable `wasmcell_area`.
/// `ty`: NULL or a writable `wasmcell_signal_type`.
/// `offset`: NULL or a writable `u32`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_info(
    p: *mut wasmcell_program,
    index: usize,
    name: *mut c_char,
    cap: usize,
    name_len: *mut usize,
    id: *mut u32,
    area: *mut wasmcell_area,
    ty: *mut wasmcell_signal_type,
    offset: *mut u32,
) -> wasmcell_status {
    with_program(p, |entry| {
        let (found, count) = entry.program.signal_at(index);
        let (signal_id, signal) = found.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no signal number {index} ({count} declared)"),
            )
        })?;
        write_optional(id, signal_id);
        describe(&signal, area, ty, offset);
        copy_out(&signal.name, name, cap, name_len)
    })
}

/// Looks a signal up by name (once, outside the control loop) and writes its
/// id, and its area, type and offset where the pointers are not NULL. The id
/// stays valid until a reset or reload changes the signal table.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND`;
/// `WASMCELL_ERR_INVALID_ARGUMENT` (NULL `name` or `id`);
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `name`: NULL or a NUL-terminated string, read during the call only.
/// `id`: NULL or a writable `u32`.
/// `area`: NULL or a writable `wasmcell_area`.
/// `ty`: NULL or a writable `wasmcell_signal_type`.
/// `offset`: NULL or a writable `u32`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_lookup(
    p: *mut wasmcell_program,
    name: *const c_char,
    id: *mut u32,
    area: *mut wasmcell_area,
    ty: *mut wasmcell_signal_type,
    offset: *mut u32,
) -> wasmcell_status {
    with_program(p, |entry| {
        let name = borrow_str(name, "name")?;
        let (signal_id, signal) = entry.program.signal(name)?;
        write_out(id, signal_id, "id")?;
        describe(&signal, area, ty, offset);
        Ok(())
    })
}

/// Reads a signal as a double (any type; 64-bit integers above 2^53 lose
/// precision, use `wasmcell_program_signal_get_i64`). Inputs read back what
/// the host wrote, outputs the last published values, retain values the
/// guest's memory (waiting for a running poll).
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_NOT_FOUND` (unknown or stale id);
/// `WASMCELL_ERR_INVALID_ARGUMENT`; `WASMCELL_ERR_INVALID_HANDLE`;
/// `WASMCELL_ERR_BUSY` (a retain signal read from the program's own callback).
/// Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `value`: NULL or a writable `f64`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_get_f64(
    p: *mut wasmcell_program,
    id: u32,
    value: *mut f64,
) -> wasmcell_status {
    with_program(p, |entry| {
        let v = entry.program.get_signal(id)?;
        write_out(value, v.as_f64(), "value")
    })
}

/// Reads an integer or bool signal exactly.
///
/// Returns: as `wasmcell_program_signal_get_f64`, plus
/// `WASMCELL_ERR_INVALID_ARGUMENT` for float signals and u64 values above
/// INT64_MAX. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
/// `value`: NULL or a writable `i64`.
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_get_i64(
    p: *mut wasmcell_program,
    id: u32,
    value: *mut i64,
) -> wasmcell_status {
    with_program(p, |entry| match entry.program.get_signal(id)? {
        SignalValue::Int(v) => {
            let v = i64::try_from(v)
                .map_err(|_| invalid_argument(&format!("{v} does not fit an int64_t")))?;
            write_out(value, v, "value")
        }
        SignalValue::Float(_) => Err(invalid_argument(
            "a float signal: read it with wasmcell_program_signal_get_f64",
        )),
    })
}

/// Sets an input signal from a double. Integer and bool signals accept only
/// integral values in their range (bool: 0 or 1). The value reaches the
/// guest at the start of the next poll.
///
/// Returns: `WASMCELL_OK`; `WASMCELL_ERR_INVALID_ARGUMENT` (not an input
/// signal, value out of range or not integral); `WASMCELL_ERR_NOT_FOUND`;
/// `WASMCELL_ERR_INVALID_HANDLE`. Any thread; never waits for a poll.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_set_f64(
    p: *mut wasmcell_program,
    id: u32,
    value: f64,
) -> wasmcell_status {
    with_program(p, |entry| {
        entry.program.set_signal(id, SignalValue::Float(value))
    })
}

/// Sets an input signal from an integer, range-checked against its type.
///
/// Returns: as `wasmcell_program_signal_set_f64`. Any thread.
///
/// # Safety
///
/// `p`: any value (handles are validated, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn wasmcell_program_signal_set_i64(
    p: *mut wasmcell_program,
    id: u32,
    value: i64,
) -> wasmcell_status {
    with_program(p, |entry| {
        entry
            .program
            .set_signal(id, SignalValue::Int(value as i128))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_layout::{Area, SignalType};

    #[test]
    fn c_constants_match_the_guest_abi() {
        assert_eq!(WASMCELL_AREA_INPUT, Area::Input as i32);
        assert_eq!(WASMCELL_AREA_OUTPUT, Area::Output as i32);
        assert_eq!(WASMCELL_AREA_RETAIN, Area::Retain as i32);
        assert_eq!(WASMCELL_SIGNAL_BOOL, SignalType::Bool as i32);
        assert_eq!(WASMCELL_SIGNAL_U32, SignalType::U32 as i32);
        assert_eq!(WASMCELL_SIGNAL_F64, SignalType::F64 as i32);
    }
}
