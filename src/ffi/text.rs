//! Strings across the boundary: NUL-terminated input, caller-allocated output.

use crate::error::{Error, ErrorKind};
use std::ffi::{c_char, CStr};

/// Copies `text` into the caller's buffer, NUL-terminated, and its length
/// (without the NUL) into `*len` when `len` is not NULL.
pub(crate) fn copy_out(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> Result<(), Error> {
    if !len.is_null() {
        // SAFETY: the caller passes a valid `size_t *` or NULL (checked);
        // unaligned, as LabVIEW's packed clusters may be.
        unsafe { len.write_unaligned(text.len()) };
    }
    if buf.is_null() {
        if cap != 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "buf is NULL but cap is not 0",
            ));
        }
        // A length query: succeeds only when there is nothing to copy.
        return if text.is_empty() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::BufferTooSmall, "no buffer given"))
        };
    }
    if cap == 0 {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            "buffer of capacity 0",
        ));
    }
    let copied = text.len().min(cap - 1);
    // SAFETY: the caller guarantees `buf` points to `cap` writable bytes;
    // we write `copied + 1 <= cap` of them.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), copied);
        *buf.add(copied) = 0;
    }
    if copied < text.len() {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!(
                "buffer of {cap} bytes is too small for {} bytes and a NUL",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Borrows a NUL-terminated UTF-8 string argument.
pub(crate) fn borrow_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL and, per the header, NUL-terminated and valid for the call.
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Borrows a byte range argument; NULL is allowed only for an empty range.
pub(crate) fn borrow_bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL and, per the header, `len` readable bytes for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Writes `value` through an out-pointer that must not be NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: non-NULL and, per the header, a valid pointer to T. Written
    // unaligned: hosts such as LabVIEW pack clusters without padding.
    unsafe { out.write_unaligned(value) };
    Ok(())
}
