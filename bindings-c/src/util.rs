//! Argument conversion shared by every entry point: NULL checks, C strings and
//! pointer+length buffers to Rust slices, and copying text out to caller buffers.

use std::ffi::{CStr, c_char};

use crate::error::{FfiResult, err, fail, websock_result};

/// A NUL-terminated UTF-8 string argument.
pub(crate) unsafe fn cstr<'a>(p: *const c_char) -> FfiResult<&'a str> {
    if p.is_null() {
        return err(websock_result::NullPointer);
    }
    // SAFETY: the caller promises a NUL-terminated string that lives for this call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    utf8(bytes)
}

/// A pointer+length buffer; NULL is allowed only with length 0.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { err(websock_result::NullPointer) };
    }
    if len > isize::MAX as usize {
        return Err(fail(websock_result::InvalidArgument, "length is larger than isize::MAX"));
    }
    // SAFETY: the caller promises `len` readable bytes at `p` for this call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A pointer+length UTF-8 string.
pub(crate) unsafe fn str_len<'a>(p: *const c_char, len: usize) -> FfiResult<&'a str> {
    utf8(unsafe { bytes(p.cast(), len) }?)
}

pub(crate) fn utf8(b: &[u8]) -> FfiResult<&str> {
    std::str::from_utf8(b).map_err(|e| fail(websock_result::InvalidUtf8, format!("not valid UTF-8: {e}")))
}

/// Writes an out-parameter (checked for NULL before any work by `out_ptr`).
pub(crate) fn out_ptr<T>(p: *mut T) -> FfiResult<*mut T> {
    if p.is_null() { err(websock_result::NullPointer) } else { Ok(p) }
}

/// Copies `s` plus a NUL into `buf` (capacity `cap`); `*out_len` gets `s.len()` always
/// when the buffer is too small (so the caller can retry) and on success.
pub(crate) unsafe fn copy_out(s: &str, buf: *mut c_char, cap: usize, out_len: *mut usize) -> FfiResult {
    let out_len = out_ptr(out_len)?;
    if buf.is_null() && cap > 0 {
        return err(websock_result::NullPointer);
    }
    if s.len() + 1 > cap {
        unsafe { *out_len = s.len() };
        return Err(fail(websock_result::BufferTooSmall, format!("need {} bytes plus a NUL", s.len())));
    }
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        *buf.add(s.len()) = 0;
        *out_len = s.len();
    }
    Ok(())
}
