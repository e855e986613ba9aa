//! A wasmtime host that runs a `filter_wasm` module the way Fluent Bit does
//! (`src/wasm/flb_wasm.c` and `plugins/filter_wasm/filter_wasm.c`, WAMR 2.4, v4.1+ where
//! one instance serves every chunk):
//! - Instantiation: WASI preview1 with each `Accessible_Paths` entry preopened under its own
//!   name, stdio passed through (captured here), no arguments or environment; a reactor's
//!   `_initialize` runs once.
//! - Per record, `Event_Format json`: the tag and the record's JSON text are each copied
//!   into guest memory with a trailing NUL (`wasm_runtime_module_dup_data`). WAMR takes that
//!   memory from the module's exported `malloc`/`free` when it has both (and then disables
//!   its own heap); otherwise from an app heap of `Wasm_Heap_Size` bytes it inserts as new
//!   pages after the initial memory (rounded up to whole 64 KiB pages, less 1 KiB). A failed
//!   copy passes 0 and the call happens anyway.
//! - The export is called as `fn(tag, tag_len, time_sec, time_nsec, record, record_len) ->
//!   ptr`; the result is read as a NUL-terminated string wherever it points (0 included:
//!   WAMR validates the address, not that it is non-NULL), copied, and the tag and record
//!   are freed. A trap or an address outside memory drops the record, an empty string
//!   skips it, and a string that is not a JSON object is dropped with an error
//!   (`flb_pack_json` must yield a map).
//!
//! Not modelled: WAMR's interpreter stack limit (`Wasm_Stack_Size`), its exact allocator
//! overheads, and inserting the app heap before an exported `__heap_base` (refused here).

use std::path::PathBuf;
use wasmtime::{Instance, Linker, Memory, Store, TypedFunc};

pub use crate::plugin::Plugin;
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

const PAGE: u64 = 65536;

/// The filter's settings, as in a Fluent Bit `[FILTER]` section.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Function_Name`.
    pub function_name: String,
    /// `Accessible_Paths`. Fluent Bit preopens each directory under its own name
    /// ([`Preopen::as_is`]); a test may stand a temporary directory in for another path.
    pub accessible_paths: Vec<Preopen>,
    /// `Wasm_Heap_Size`; values under the 8 KiB default are raised to it, as Fluent Bit does.
    pub heap_size: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            function_name: "relink_filter".into(),
            accessible_paths: Vec::new(),
            heap_size: 8192,
        }
    }
}

/// A host directory and the name the module sees it under.
#[derive(Debug, Clone)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

impl Preopen {
    /// What Fluent Bit does with an `Accessible_Paths` entry.
    pub fn as_is(path: impl Into<PathBuf>) -> Preopen {
        let host = path.into();
        let guest = host.to_string_lossy().into_owned();
        Preopen { host, guest }
    }
}

/// What Fluent Bit does with one record after the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The record is replaced by this JSON object (the returned text).
    Kept(String),
    /// The record is dropped, for this reason.
    Dropped(Dropped),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// The call trapped ("Got exception running wasm code").
    Trap(String),
    /// The returned address is outside memory or has no NUL before its end.
    InvalidAddress(u32),
    /// The returned string is empty (what a NULL return usually reads as).
    Empty,
    /// The returned string is not a JSON object ("invalid JSON format").
    NotAnObject(String),
}

/// One filter instance: a module instance and the way records are copied into it.
pub struct Filter {
    store: Store<WasiP1Ctx>,
    memory: Memory,
    call: TypedFunc<(u32, u32, u32, u32, u32, u32), u32>,
    alloc: Alloc,
    stderr: MemoryOutputPipe,
}

enum Alloc {
    Module {
        malloc: TypedFunc<u32, u32>,
        free: TypedFunc<u32, ()>,
    },
    Heap(AppHeap),
}

impl Filter {
    pub fn new(plugin: &Plugin, settings: &Settings) -> wasmtime::Result<Filter> {
        let stderr = MemoryOutputPipe::new(1 << 20);
        let mut wasi = WasiCtxBuilder::new();
        wasi.inherit_stdout().stderr(stderr.clone());
        for dir in &settings.accessible_paths {
            wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadOnly)?;
        }
        let mut store = plugin.store(wasi.build_p1())?;
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&plugin.engine);
        p1::add_to_linker_sync(&mut linker, |ctx| ctx)?;
        let instance = linker.instantiate(&mut store, &plugin.module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))?;
        let alloc = Self::allocator(&mut store, &instance, memory, settings.heap_size.max(8192))?;
        if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
            init.call(&mut store, ())?;
        }
        let call = instance.get_typed_func(&mut store, &settings.function_name)?;
        Ok(Filter {
            store,
            memory,
            call,
            alloc,
            stderr,
        })
    }

    /// WAMR's choice: the module's `malloc`/`free` when it exports both with the right
    /// types, else an app heap appended as new pages before the module initializes.
    fn allocator(
        store: &mut Store<WasiP1Ctx>,
        instance: &Instance,
        memory: Memory,
        heap_size: u64,
    ) -> wasmtime::Result<Alloc> {
        let malloc = instance.get_typed_func::<u32, u32>(&mut *store, "malloc");
        let free = instance.get_typed_func::<u32, ()>(&mut *store, "free");
        if let (Ok(malloc), Ok(free)) = (malloc, free) {
            return Ok(Alloc::Module { malloc, free });
        }
        if instance.get_global(&mut *store, "__heap_base").is_some() {
            return Err(wasmtime::Error::msg(
                "WAMR would insert its app heap before the exported __heap_base; not modelled",
            ));
        }
        let pages = heap_size.div_ceil(PAGE);
        let start = memory.grow(&mut *store, pages)? * PAGE;
        Ok(Alloc::Heap(AppHeap::new(start, pages * PAGE - 1024)))
    }

    /// Runs one record through the filter.
    pub fn filter(
        &mut self,
        tag: &str,
        time_sec: u32,
        time_nsec: u32,
        record: impl AsRef<[u8]>,
    ) -> Outcome {
        let record = record.as_ref();
        let tag_ptr = self.dup(tag.as_bytes());
        let record_ptr = self.dup(record);
        let args = (
            tag_ptr,
            len32(tag),
            time_sec,
            time_nsec,
            record_ptr,
            len32(record),
        );
        let result = self.call.call(&mut self.store, args);
        let outcome = match result {
            Err(trap) => Outcome::Dropped(Dropped::Trap(format!("{trap:#}"))),
            Ok(ptr) => match self.read_str(ptr) {
                None => Outcome::Dropped(Dropped::InvalidAddress(ptr)),
                Some(text) if text.is_empty() => Outcome::Dropped(Dropped::Empty),
                Some(text) => match serde_json::from_slice::<
                    serde_json::Map<String, serde_json::Value>,
                >(&text)
                {
                    Ok(_) => Outcome::Kept(String::from_utf8_lossy(&text).into_owned()),
                    Err(e) => Outcome::Dropped(Dropped::NotAnObject(e.to_string())),
                },
            },
        };
        self.release(tag_ptr);
        self.release(record_ptr);
        outcome
    }

    /// With [`Plugin::with_trap_injection`]: the guest traps once it has run `fuel` more
    /// units (`u64::MAX` for no limit). Not a Fluent Bit setting.
    pub fn trap_after(&mut self, fuel: u64) -> wasmtime::Result<()> {
        self.store.set_fuel(fuel)
    }

    /// What the module wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// `wasm_runtime_module_dup_data(data, len + 1)`: 0 when the allocation fails.
    fn dup(&mut self, data: &[u8]) -> u32 {
        let size = len32(data).saturating_add(1);
        let ptr = match &mut self.alloc {
            Alloc::Module { malloc, .. } => malloc.call(&mut self.store, size).unwrap_or(0),
            Alloc::Heap(heap) => heap.malloc(size),
        };
        if ptr == 0 {
            return 0;
        }
        let mut bytes = data.to_vec();
        bytes.push(0);
        match self.memory.write(&mut self.store, ptr as usize, &bytes) {
            Ok(()) => ptr,
            Err(_) => 0,
        }
    }

    fn release(&mut self, ptr: u32) {
        if ptr == 0 {
            return;
        }
        match &mut self.alloc {
            Alloc::Module { free, .. } => {
                // A trapping free leaves WAMR's instance with an exception; nothing more.
                let _ = free.call(&mut self.store, ptr);
            }
            Alloc::Heap(heap) => heap.free(ptr),
        }
    }

    /// `wasm_runtime_validate_app_str_addr` then `strdup`.
    fn read_str(&self, ptr: u32) -> Option<Vec<u8>> {
        let data = self.memory.data(&self.store);
        let tail = data.get(ptr as usize..)?;
        let end = tail.iter().position(|b| *b == 0)?;
        tail.get(..end).map(<[u8]>::to_vec)
    }
}

fn len32(data: impl AsRef<[u8]>) -> u32 {
    u32::try_from(data.as_ref().len()).unwrap_or(u32::MAX)
}

/// WAMR's app heap, first fit over `[start, start + size)` with 8-byte alignment.
struct AppHeap {
    start: u64,
    size: u64,
    /// Live blocks, sorted by address: (offset, length).
    blocks: Vec<(u64, u64)>,
}

impl AppHeap {
    fn new(start: u64, size: u64) -> AppHeap {
        AppHeap {
            start,
            size,
            blocks: Vec::new(),
        }
    }

    fn malloc(&mut self, size: u32) -> u32 {
        let size = u64::from(size).div_ceil(8) * 8;
        let mut at = self.start;
        let mut index = 0;
        for (i, (offset, len)) in self.blocks.iter().enumerate() {
            if offset - at >= size {
                break;
            }
            at = offset + len;
            index = i + 1;
        }
        if at + size > self.start + self.size {
            return 0;
        }
        self.blocks.insert(index, (at, size));
        u32::try_from(at).unwrap_or(0)
    }

    fn free(&mut self, ptr: u32) {
        self.blocks.retain(|(offset, _)| *offset != u64::from(ptr));
    }
}
