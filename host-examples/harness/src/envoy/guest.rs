//! Guest memory as proxy-wasm-cpp-host touches it: bounds-checked reads and writes,
//! 32-bit words in wasm byte order, and buffers handed over through the guest's own
//! allocator (`malloc` when exported, else `proxy_on_memory_allocate`), which the guest then
//! owns and frees (the Rust SDK wraps them in a `Vec`).

use super::{HostState, Status};
use wasmtime::Caller;

type Result<T> = std::result::Result<T, Status>;

/// Copies `len` bytes at `ptr` out of guest memory.
pub fn read(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    memory
        .data(&*caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or(Status::InvalidMemoryAccess)
}

/// Writes bytes at `ptr`.
pub fn write(caller: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8]) -> Result<()> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let start = ptr as usize;
    let end = start
        .checked_add(bytes.len())
        .ok_or(Status::InvalidMemoryAccess)?;
    let target = memory
        .data_mut(&mut *caller)
        .get_mut(start..end)
        .ok_or(Status::InvalidMemoryAccess)?;
    target.copy_from_slice(bytes);
    Ok(())
}

/// `setWord`: a 32-bit word (pointers and sizes on wasm32).
pub fn set_word(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Result<()> {
    write(caller, ptr as u32, &value.to_le_bytes())
}

/// `setDatatype<uint64_t>`.
pub fn set_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> Result<()> {
    write(caller, ptr as u32, &value.to_le_bytes())
}

/// `allocMemory` then a copy: the guest address of a fresh guest-owned copy of `bytes`.
pub fn alloc_copy(caller: &mut Caller<'_, HostState>, bytes: &[u8]) -> Result<u32> {
    let malloc = caller
        .data()
        .malloc
        .clone()
        .ok_or(Status::InvalidMemoryAccess)?;
    let size = u32::try_from(bytes.len()).map_err(|_| Status::InvalidMemoryAccess)?;
    let ptr = malloc
        .call(&mut *caller, size)
        .map_err(|_| Status::InvalidMemoryAccess)?;
    if ptr == 0 {
        return Err(Status::InvalidMemoryAccess);
    }
    write(caller, ptr, bytes)?;
    Ok(ptr)
}

/// `copyToPointerSize`: hands `bytes` to the guest and stores its address and size at
/// `ptr_ptr` and `size_ptr`. Nothing is allocated for no bytes: the address is then 0.
pub fn copy_to_pointer_size(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> Status {
    let copied = (|| {
        let ptr = if bytes.is_empty() {
            0
        } else {
            alloc_copy(caller, bytes)?
        };
        set_word(caller, ptr_ptr, ptr)?;
        set_word(
            caller,
            size_ptr,
            u32::try_from(bytes.len()).map_err(|_| Status::InvalidMemoryAccess)?,
        )
    })();
    match copied {
        Ok(()) => Status::Ok,
        Err(status) => status,
    }
}
