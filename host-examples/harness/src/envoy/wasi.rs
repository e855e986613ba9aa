//! The WASI preview 1 subset Envoy gives every module (proxy-wasm-cpp-host's
//! `FOR_ALL_WASI_FUNCTIONS`, under both `wasi_snapshot_preview1` and `wasi_unstable`): no
//! files, no sockets; stdout and stderr go to the log at info and error; the clock is the
//! host's; environment variables are Envoy's `vm_config.environment_variables` (none here).
//! The answers are cpp-host's, errno for errno.

use super::guest::{read, set_u64, set_word, write};
use super::{HostState, LogLine};
use wasmtime::{Caller, ExternType, Linker, Module, Val};

type C<'a> = Caller<'a, HostState>;

const MODULES: [&str; 2] = ["wasi_snapshot_preview1", "wasi_unstable"];

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const EINVAL: i32 = 28;
const ENOENT: i32 = 44;
const ENOSYS: i32 = 52;
const ENOTSUP: i32 = 58;

/// Functions cpp-host registers that no file-less module needs, with the errno it answers
/// (for the fd ones: on a descriptor other than stdout or stderr, where cpp-host checks).
const OTHERS: &[(&str, i32)] = &[
    ("fd_advise", ESUCCESS),
    ("fd_allocate", EBADF),
    ("fd_datasync", EBADF),
    ("fd_fdstat_set_rights", EBADF),
    ("fd_filestat_set_size", EBADF),
    ("fd_filestat_set_times", EBADF),
    ("fd_pread", ENOSYS),
    ("fd_pwrite", EBADF),
    ("fd_readdir", 20),
    ("fd_renumber", EBADF),
    ("fd_sync", EBADF),
    ("fd_tell", EBADF),
    ("path_create_directory", ENOTSUP),
    ("path_filestat_set_times", ENOTSUP),
    ("path_link", ENOTSUP),
    ("path_readlink", ENOTSUP),
    ("path_remove_directory", ENOTSUP),
    ("path_rename", ENOTSUP),
    ("path_symlink", ENOTSUP),
    ("path_unlink_file", ENOTSUP),
    ("sock_accept", ENOTSUP),
    ("sock_recv", ENOTSUP),
    ("sock_send", ENOTSUP),
    ("sock_shutdown", ENOTSUP),
];

/// Calls `startVm` does not allow from `_initialize`.
const NOT_WHILE_INITIALIZING: &[&str] = &[
    "fd_read",
    "fd_seek",
    "fd_close",
    "path_open",
    "sched_yield",
    "proc_exit",
];

pub fn define(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for m in MODULES {
        linker.func_wrap(m, "fd_write", fd_write)?;
        linker.func_wrap(m, "fd_read", |c: C, _: i32, _: i32, _: i32, _: i32| {
            check(&c, "fd_read", ENOSYS)
        })?;
        linker.func_wrap(m, "fd_seek", |c: C, _: i32, _: i64, _: i32, _: i32| {
            check(&c, "fd_seek", ESUCCESS)
        })?;
        linker.func_wrap(m, "fd_close", |c: C, _: i32| {
            check(&c, "fd_close", ESUCCESS)
        })?;
        linker.func_wrap(m, "fd_fdstat_get", fd_fdstat_get)?;
        linker.func_wrap(m, "fd_fdstat_set_flags", |_: C, _: i32, _: i32| ENOSYS)?;
        linker.func_wrap(m, "fd_prestat_get", |_: C, _: i32, _: i32| EBADF)?;
        linker.func_wrap(m, "fd_prestat_dir_name", |_: C, _: i32, _: i32, _: i32| {
            ENOSYS
        })?;
        linker.func_wrap(m, "fd_filestat_get", |_: C, _: i32, _: i32| EBADF)?;
        linker.func_wrap(
            m,
            "path_open",
            |c: C, _: i32, _: i32, _: i32, _: i32, _: i32, _: i64, _: i64, _: i32, _: i32| {
                check(&c, "path_open", ENOENT)
            },
        )?;
        linker.func_wrap(
            m,
            "path_filestat_get",
            |_: C, _: i32, _: i32, _: i32, _: i32, _: i32| ENOTSUP,
        )?;
        linker.func_wrap(m, "environ_get", |_: C, _: i32, _: i32| ESUCCESS)?;
        linker.func_wrap(m, "environ_sizes_get", zero_sizes)?;
        linker.func_wrap(m, "args_get", |_: C, _: i32, _: i32| ESUCCESS)?;
        linker.func_wrap(m, "args_sizes_get", zero_sizes)?;
        linker.func_wrap(m, "clock_time_get", clock_time_get)?;
        linker.func_wrap(m, "clock_res_get", |mut c: C, id: i32, ptr: i32| match id {
            0 | 1 => errno(set_u64(&mut c, ptr, 1)),
            _ => ENOTSUP,
        })?;
        linker.func_wrap(m, "random_get", random_get)?;
        linker.func_wrap(m, "sched_yield", |c: C| check(&c, "sched_yield", ESUCCESS))?;
        linker.func_wrap(
            m,
            "poll_oneoff",
            |mut c: C, _: i32, _: i32, _: i32, nevents: i32| errno(set_word(&mut c, nevents, 0)),
        )?;
        linker.func_wrap(m, "proc_exit", |_: C, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::msg(format!("proc_exit({code})")))
        })?;
    }
    for import in module.imports().filter(|i| MODULES.contains(&i.module())) {
        let Some(&(_, answer)) = OTHERS.iter().find(|(n, _)| *n == import.name()) else {
            continue;
        };
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        let stdio_ok = answer == EBADF;
        linker.func_new(
            import.module(),
            import.name(),
            ty,
            move |_: C, args: &[Val], results: &mut [Val]| {
                let fd = args.first().and_then(Val::i32);
                let code = if stdio_ok && matches!(fd, Some(1 | 2)) {
                    ESUCCESS
                } else {
                    answer
                };
                if let Some(r) = results.first_mut() {
                    *r = Val::I32(code);
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// stdout and stderr become one log line per call (info and error), without the final
/// newline; other descriptors are EBADF.
fn fd_write(mut c: C, fd: i32, iovs: i32, iovs_len: i32, nwritten_ptr: i32) -> i32 {
    let level = match fd {
        1 => 2,
        2 => 4,
        _ => return EBADF,
    };
    let mut text = Vec::new();
    for i in 0..iovs_len.max(0) {
        let Ok(iovec) = read(&mut c, iovs.wrapping_add(i.wrapping_mul(8)), 8) else {
            return EFAULT;
        };
        let word = |at: usize| {
            iovec
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(i32::from_le_bytes)
        };
        let (Some(buf), Some(len)) = (word(0), word(4)) else {
            return EFAULT;
        };
        match read(&mut c, buf, len) {
            Ok(bytes) => text.extend_from_slice(&bytes),
            Err(_) => return EFAULT,
        }
    }
    let written = u32::try_from(text.len()).unwrap_or(u32::MAX);
    if text.last() == Some(&b'\n') {
        text.pop();
    }
    if written > 0 {
        let message = String::from_utf8_lossy(&text).into_owned();
        c.data_mut().logs.push(LogLine { level, message });
    }
    errno(set_word(&mut c, nwritten_ptr, written))
}

fn fd_fdstat_get(mut c: C, fd: i32, stat: i32) -> i32 {
    if fd != 1 && fd != 2 {
        return EBADF;
    }
    // filetype and flags zero, rights_base FD_WRITE (64), rights_inheriting zero.
    let mut fdstat = [0u8; 24];
    fdstat[8] = 64;
    errno(write(&mut c, stat as u32, &fdstat))
}

fn zero_sizes(mut c: C, count_ptr: i32, size_ptr: i32) -> i32 {
    errno(set_word(&mut c, count_ptr, 0).and_then(|()| set_word(&mut c, size_ptr, 0)))
}

/// Realtime is the host's clock (the settings' time); monotonic counts from the same
/// origin. CPU-time clocks are not supported.
fn clock_time_get(mut c: C, id: i32, _precision: i64, ptr: i32) -> i32 {
    let now = c.data().now_unix_nano;
    match id {
        0 | 1 => errno(set_u64(&mut c, ptr, now)),
        _ => ENOTSUP,
    }
}

/// cpp-host fills the buffer from OpenSSL's generator; this reads the system's.
fn random_get(mut c: C, ptr: i32, len: i32) -> i32 {
    let Ok(len) = usize::try_from(len) else {
        return EINVAL;
    };
    let mut bytes = vec![0u8; len];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_err()
    {
        return EINVAL;
    }
    errno(write(&mut c, ptr as u32, &bytes))
}

fn check(c: &C, name: &str, answer: i32) -> wasmtime::Result<i32> {
    if c.data().initializing && NOT_WHILE_INITIALIZING.contains(&name) {
        return Err(wasmtime::Error::msg(format!(
            "restricted_callback: {name} called during _initialize"
        )));
    }
    Ok(answer)
}

fn errno(result: Result<(), super::Status>) -> i32 {
    match result {
        Ok(()) => ESUCCESS,
        Err(_) => EFAULT,
    }
}
