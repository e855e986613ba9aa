//! Transparent huge pages for the input buffer (Linux).
//!
//! `relink process` reads the whole request before relinking it. Filling a buffer of a few
//! hundred MB one 4 KiB page fault at a time was a fifth of the CPU of a run at 10% evidence
//! (benches/RESULTS.md, "Whole-process"); with `MADV_HUGEPAGE` the kernel backs it with 2 MiB
//! pages where it can (`transparent_hugepage/enabled` of `always` or `madvise`, the usual
//! defaults), 512 times fewer faults. Where it cannot, nothing changes.

/// Buffers smaller than this are not worth a system call (two huge pages).
const MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back `buf`'s spare capacity with huge pages. Call it before filling
/// the buffer: pages already touched keep their size.
#[cfg(target_os = "linux")]
pub fn advise_huge(buf: &mut Vec<u8>) {
    const PAGE: usize = 4096;
    let spare = buf.spare_capacity_mut();
    if spare.len() < MIN_BYTES {
        return;
    }
    let start = spare.as_mut_ptr() as usize;
    // madvise needs a page-aligned start; the range stays inside the allocation.
    let Some(first) = start.checked_next_multiple_of(PAGE) else {
        return;
    };
    let end = (start + spare.len()) / PAGE * PAGE;
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside `buf`'s allocation, which this function borrows
    // mutably; MADV_HUGEPAGE changes how the kernel backs the range, never its contents or
    // its mapping. A failure (a kernel without THP) only leaves the default, so its result
    // is not needed.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn advise_huge(_buf: &mut Vec<u8>) {}
