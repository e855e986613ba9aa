//! The `env.proxy_*` imports, with the argument checks and answers of proxy-wasm-cpp-host's
//! `exports.cc` and the buffer and header-map semantics of Envoy's `Context`.

use super::guest::{alloc_copy, copy_to_pointer_size, read, set_u64, set_word};
use super::pairs::{marshal, unmarshal, HeaderMap};
use super::{HostState, LogLine, Status};
use wasmtime::{Caller, ExternType, Linker, Module, Val};

type C<'a> = Caller<'a, HostState>;

/// Every host function Envoy registers under `env` for ABI 0.2.1 (`FOR_ALL_HOST_FUNCTIONS`
/// plus the 0.2.1-specific ones), without the `proxy_` prefix.
const REGISTERED: &[&str] = &[
    "log",
    "get_status",
    "set_property",
    "get_property",
    "send_local_response",
    "get_shared_data",
    "set_shared_data",
    "register_shared_queue",
    "resolve_shared_queue",
    "dequeue_shared_queue",
    "enqueue_shared_queue",
    "get_header_map_value",
    "add_header_map_value",
    "replace_header_map_value",
    "remove_header_map_value",
    "get_header_map_pairs",
    "set_header_map_pairs",
    "get_header_map_size",
    "get_buffer_status",
    "get_buffer_bytes",
    "set_buffer_bytes",
    "http_call",
    "grpc_call",
    "grpc_stream",
    "grpc_close",
    "grpc_cancel",
    "grpc_send",
    "set_tick_period_milliseconds",
    "get_current_time_nanoseconds",
    "define_metric",
    "increment_metric",
    "record_metric",
    "get_metric",
    "set_effective_context",
    "done",
    "call_foreign_function",
    "continue_stream",
    "close_stream",
    "get_log_level",
];

/// The only `env` import a module may call from `_initialize` (`startVm`'s allow list).
const ALLOWED_WHILE_INITIALIZING: &str = "proxy_log";

const BUFFER_TYPE_MAX: i32 = 8;
const MAP_TYPE_MAX: i32 = 7;

pub fn define(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut c: C, level: i32, ptr: i32, len: i32| -> i32 {
            if !(0..=5).contains(&level) {
                return Status::BadArgument as i32;
            }
            match read(&mut c, ptr, len) {
                Ok(message) => {
                    let message = String::from_utf8_lossy(&message).into_owned();
                    c.data_mut().logs.push(LogLine {
                        level: level as u32,
                        message,
                    });
                    Status::Ok as i32
                }
                Err(status) => status as i32,
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut c: C, ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_log_level")?;
            // Envoy answers its own logger's level; `info` is its default.
            Ok(status(set_word(&mut c, ptr, 2)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut c: C, ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_current_time_nanoseconds")?;
            let now = c.data().now_unix_nano;
            Ok(status(set_u64(&mut c, ptr, now)))
        },
    )?;
    linker.func_wrap("env", "proxy_get_buffer_bytes", get_buffer_bytes)?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut c: C, kind: i32, len_ptr: i32, flags_ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_buffer_status")?;
            if !(0..=BUFFER_TYPE_MAX).contains(&kind) {
                return Ok(Status::BadArgument as i32);
            }
            let Some(buffer) = buffer(c.data(), kind) else {
                return Ok(Status::NotFound as i32);
            };
            let len = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
            Ok(status(
                set_word(&mut c, len_ptr, len).and_then(|()| set_word(&mut c, flags_ptr, 0)),
            ))
        },
    )?;
    linker.func_wrap("env", "proxy_set_buffer_bytes", set_buffer_bytes)?;
    linker.func_wrap("env", "proxy_get_header_map_value", get_header_map_value)?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut c: C, kind: i32, kp: i32, ks: i32, vp: i32, vs: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_replace_header_map_value")?;
            Ok(edit_map(
                &mut c,
                kind,
                kp,
                ks,
                Some((vp, vs)),
                |map, key, value| match map.iter_mut().find(|(n, _)| *n == key) {
                    Some(entry) => entry.1 = value,
                    None => map.push((key, value)),
                },
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut c: C, kind: i32, kp: i32, ks: i32, vp: i32, vs: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_add_header_map_value")?;
            Ok(edit_map(
                &mut c,
                kind,
                kp,
                ks,
                Some((vp, vs)),
                |map, key, value| map.push((key, value)),
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut c: C, kind: i32, kp: i32, ks: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_remove_header_map_value")?;
            Ok(edit_map(&mut c, kind, kp, ks, None, |map, key, _| {
                map.retain(|(n, _)| *n != key)
            }))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut c: C, kind: i32, ptr_ptr: i32, size_ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_header_map_pairs")?;
            if !(0..=MAP_TYPE_MAX).contains(&kind) {
                return Ok(Status::BadArgument as i32);
            }
            // A map that is not available reads as empty here (`headerMapToPairs(nullptr)`).
            let pairs = readable_map(c.data(), kind).cloned().unwrap_or_default();
            let bytes = if pairs.is_empty() {
                Vec::new()
            } else {
                marshal(&pairs)
            };
            Ok(copy_to_pointer_size(&mut c, &bytes, ptr_ptr, size_ptr) as i32)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut c: C, kind: i32, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_set_header_map_pairs")?;
            if !(0..=MAP_TYPE_MAX).contains(&kind) {
                return Ok(Status::BadArgument as i32);
            }
            let bytes = match read(&mut c, ptr, len) {
                Ok(b) => b,
                Err(s) => return Ok(s as i32),
            };
            Ok(match writable_map(c.data_mut(), kind) {
                Some(map) => {
                    *map = unmarshal(&bytes)
                        .into_iter()
                        .map(|(n, v)| (n.to_ascii_lowercase(), v))
                        .collect();
                    Status::Ok as i32
                }
                None => Status::BadArgument as i32,
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut c: C, kind: i32, size_ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_header_map_size")?;
            if !(0..=MAP_TYPE_MAX).contains(&kind) {
                return Ok(Status::BadArgument as i32);
            }
            let Some(map) = writable_map(c.data_mut(), kind) else {
                return Ok(Status::BadArgument as i32);
            };
            let bytes: usize = map.iter().map(|(n, v)| n.len() + v.len()).sum();
            Ok(status(set_word(
                &mut c,
                size_ptr,
                u32::try_from(bytes).unwrap_or(u32::MAX),
            )))
        },
    )?;
    linker.func_wrap("env", "proxy_get_property", get_property)?;
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut c: C, kind: i32, np: i32, ns: i32, id_ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_define_metric")?;
            // Envoy: counter 0, gauge 1, histogram 2; anything else is BadArgument.
            if !(0..=2).contains(&kind) {
                return Ok(Status::BadArgument as i32);
            }
            let name = match read(&mut c, np, ns) {
                Ok(n) => String::from_utf8_lossy(&n).into_owned(),
                Err(s) => return Ok(s as i32),
            };
            let metrics = &mut c.data_mut().metrics;
            // The same name is the same stat in Envoy's scope: its id again.
            let index = match metrics
                .iter()
                .position(|(n, k, _)| *n == name && *k == kind)
            {
                Some(i) => i,
                None => {
                    metrics.push((name, kind, 0));
                    metrics.len() - 1
                }
            };
            let id = u32::try_from(index).unwrap_or(u32::MAX) << 2 | kind as u32;
            Ok(status(set_word(&mut c, id_ptr, id)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut c: C, id: i32, offset: i64| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_increment_metric")?;
            let Some((_, kind, value)) = metric(c.data_mut(), id) else {
                return Ok(Status::NotFound as i32);
            };
            // Envoy: a counter only goes up; a gauge adds or subtracts; histograms are
            // recorded, not incremented.
            Ok(match (*kind, offset) {
                (0, o) if o > 0 => {
                    *value = value.saturating_add(o as u64);
                    Status::Ok as i32
                }
                (1, o) => {
                    *value = value.saturating_add_signed(o);
                    Status::Ok as i32
                }
                _ => Status::BadArgument as i32,
            })
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut c: C, id: i32, value_ptr: i32| -> wasmtime::Result<i32> {
            restricted(&c, "proxy_get_metric")?;
            let Some((_, _, value)) = metric(c.data_mut(), id).map(|m| m.clone()) else {
                return Ok(Status::NotFound as i32);
            };
            Ok(status(set_u64(&mut c, value_ptr, value)))
        },
    )?;
    define_unmodelled(linker, module)
}

fn metric(state: &mut HostState, id: i32) -> Option<&mut (String, i32, u64)> {
    let index = usize::try_from(id as u32 >> 2).ok()?;
    state
        .metrics
        .get_mut(index)
        .filter(|(_, kind, _)| *kind == id & 3)
}

/// `proxy_get_property`: the path's segments are NUL-separated. Modelled: `request.protocol`
/// during a stream (Envoy: `HTTP/1.1`, `HTTP/2`, ...). Anything else answers NotFound, as
/// Envoy does for a property it does not have, and is recorded.
fn get_property(mut c: C, pp: i32, ps: i32, vpp: i32, vsp: i32) -> wasmtime::Result<i32> {
    restricted(&c, "proxy_get_property")?;
    let path = match read(&mut c, pp, ps) {
        Ok(p) => p,
        Err(s) => return Ok(s as i32),
    };
    match (path.as_slice(), c.data().protocol) {
        (b"request\0protocol", Some(protocol)) => {
            Ok(copy_to_pointer_size(&mut c, protocol, vpp, vsp) as i32)
        }
        _ => {
            let shown = String::from_utf8_lossy(&path).replace('\0', ".");
            c.data_mut()
                .unimplemented
                .push(format!("proxy_get_property({shown})"));
            Ok(Status::NotFound as i32)
        }
    }
}

/// The registered functions modelled above.
const MODELLED: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_get_buffer_bytes",
    "proxy_get_buffer_status",
    "proxy_set_buffer_bytes",
    "proxy_get_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_add_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_size",
    "proxy_get_property",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_get_metric",
];

/// The other registered functions the module imports answer `Unimplemented` and are
/// recorded. Imports Envoy does not register are left undefined, so linking fails as it does
/// in Envoy.
fn define_unmodelled(linker: &mut Linker<HostState>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports().filter(|i| i.module() == "env") {
        let name = import.name().to_string();
        let registered = name
            .strip_prefix("proxy_")
            .is_some_and(|n| REGISTERED.contains(&n));
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if MODELLED.contains(&name.as_str()) || !registered {
            continue;
        }
        let returns = ty.results().len() > 0;
        let recorded = name.clone();
        linker.func_new(
            "env",
            &name,
            ty,
            move |mut c: C, _args: &[Val], results: &mut [Val]| {
                restricted(&c, &recorded)?;
                c.data_mut().unimplemented.push(recorded.clone());
                if let (true, Some(r)) = (returns, results.first_mut()) {
                    *r = Val::I32(Status::Unimplemented as i32);
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

fn get_buffer_bytes(
    mut c: C,
    kind: i32,
    start: i32,
    len: i32,
    ptr_ptr: i32,
    size_ptr: i32,
) -> wasmtime::Result<i32> {
    restricted(&c, "proxy_get_buffer_bytes")?;
    if !(0..=BUFFER_TYPE_MAX).contains(&kind) {
        return Ok(Status::BadArgument as i32);
    }
    let Some(buffer) = buffer(c.data(), kind).map(<[u8]>::to_vec) else {
        return Ok(Status::NotFound as i32);
    };
    // Words are 64-bit in the host, so `start + length` of two u32 never overflows.
    let (start, len) = (u64::from(start as u32), u64::from(len as u32));
    let size = buffer.len() as u64;
    let len = if start > size {
        0
    } else {
        len.min(size - start)
    };
    if len == 0 {
        return Ok(status(
            set_word(&mut c, ptr_ptr, 0).and_then(|()| set_word(&mut c, size_ptr, 0)),
        ));
    }
    let slice = buffer
        .get(start as usize..(start + len) as usize)
        .unwrap_or_default();
    let copied = alloc_copy(&mut c, slice).and_then(|ptr| {
        set_word(&mut c, ptr_ptr, ptr)?;
        set_word(&mut c, size_ptr, len as u32)
    });
    Ok(status(copied))
}

/// Envoy's `Buffer::copyFrom` on a body: at 0, drain `length` bytes and prepend the data; at
/// or past the end, append; anywhere else, BadArgument. Other buffers are read-only.
fn set_buffer_bytes(
    mut c: C,
    kind: i32,
    start: i32,
    len: i32,
    data_ptr: i32,
    data_size: i32,
) -> wasmtime::Result<i32> {
    restricted(&c, "proxy_set_buffer_bytes")?;
    if !(0..=BUFFER_TYPE_MAX).contains(&kind) {
        return Ok(Status::BadArgument as i32);
    }
    if buffer(c.data(), kind).is_none() {
        return Ok(Status::NotFound as i32);
    }
    let data = match read(&mut c, data_ptr, data_size) {
        Ok(d) => d,
        Err(s) => return Ok(s as i32),
    };
    let state = c.data_mut();
    let body = match kind {
        0 => state.request_body.as_mut(),
        1 => state.response_body.as_mut(),
        _ => None,
    };
    let Some(body) = body else {
        return Ok(Status::BadArgument as i32);
    };
    let (start, len) = (start as u32 as usize, len as u32 as usize);
    let result = if start == 0 {
        body.drain(..len.min(body.len()));
        body.splice(0..0, data);
        Status::Ok as i32
    } else if start >= body.len() {
        body.extend_from_slice(&data);
        Status::Ok as i32
    } else {
        Status::BadArgument as i32
    };
    // Envoy's buffered request body is a `WatermarkBuffer`: growing it past its high
    // watermark calls `requestDataTooLarge`, a 413 local reply for a buffering filter.
    let new_len = body.len();
    if kind == 0
        && state
            .request_body_watermark
            .is_some_and(|limit| new_len > limit)
    {
        state.request_too_large = true;
    }
    Ok(result)
}

fn get_header_map_value(
    mut c: C,
    kind: i32,
    kp: i32,
    ks: i32,
    vpp: i32,
    vsp: i32,
) -> wasmtime::Result<i32> {
    restricted(&c, "proxy_get_header_map_value")?;
    if !(0..=MAP_TYPE_MAX).contains(&kind) {
        return Ok(Status::BadArgument as i32);
    }
    let key = match read(&mut c, kp, ks) {
        Ok(k) => String::from_utf8_lossy(&k).to_ascii_lowercase(),
        Err(s) => return Ok(s as i32),
    };
    let value = match readable_map(c.data(), kind) {
        // Maps may be absent in the access log phase: not found rather than BadArgument.
        None if c.data().access_log.is_some() => return Ok(Status::NotFound as i32),
        None => return Ok(Status::BadArgument as i32),
        Some(map) => match map.iter().find(|(n, _)| *n == key) {
            Some((_, v)) => v.clone(),
            None => return Ok(Status::NotFound as i32),
        },
    };
    Ok(copy_to_pointer_size(&mut c, &value, vpp, vsp) as i32)
}

/// Shared path of replace/add/remove: `getMap` must give a map (else BadArgument); keys
/// are lowercased as Envoy's `LowerCaseString` does.
fn edit_map(
    c: &mut C,
    kind: i32,
    kp: i32,
    ks: i32,
    value: Option<(i32, i32)>,
    edit: impl FnOnce(&mut HeaderMap, String, Vec<u8>),
) -> i32 {
    if !(0..=MAP_TYPE_MAX).contains(&kind) {
        return Status::BadArgument as i32;
    }
    let key = match read(c, kp, ks) {
        Ok(k) => String::from_utf8_lossy(&k).to_ascii_lowercase(),
        Err(s) => return s as i32,
    };
    let value = match value.map(|(vp, vs)| read(c, vp, vs)).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(s) => return s as i32,
    };
    match writable_map(c.data_mut(), kind) {
        Some(map) => {
            edit(map, key, value);
            Status::Ok as i32
        }
        None => Status::BadArgument as i32,
    }
}

/// `getBuffer`: bodies read as empty outside their callbacks, the plugin configuration
/// exists only during `proxy_on_configure`, the HTTP call response never (no calls made).
fn buffer(state: &HostState, kind: i32) -> Option<&[u8]> {
    match kind {
        0 => Some(state.request_body.as_deref().unwrap_or_default()),
        1 => Some(state.response_body.as_deref().unwrap_or_default()),
        6 => Some(&state.vm_configuration),
        7 => state.plugin_configuration.as_deref(),
        2 | 3 | 5 | 8 => Some(&[]),
        _ => None,
    }
}

/// `getConstMap`: in the access log phase, the request as forwarded and the response.
fn readable_map(state: &HostState, kind: i32) -> Option<&HeaderMap> {
    if let Some((request, response)) = &state.access_log {
        return match kind {
            0 => Some(request),
            2 => Some(response),
            _ => None,
        };
    }
    match kind {
        0 => state.request_headers.as_ref(),
        1 => state.request_trailers.as_ref(),
        2 => state.response_headers.as_ref(),
        _ => None,
    }
}

/// `getMap`: only the headers a callback is holding.
fn writable_map(state: &mut HostState, kind: i32) -> Option<&mut HeaderMap> {
    match kind {
        0 => state.request_headers.as_mut(),
        1 => state.request_trailers.as_mut(),
        2 => state.response_headers.as_mut(),
        _ => None,
    }
}

/// Envoy fails the VM when a module calls anything but the allowed few from `_initialize`.
fn restricted(c: &C, name: &str) -> wasmtime::Result<()> {
    if c.data().initializing && name != ALLOWED_WHILE_INITIALIZING {
        return Err(wasmtime::Error::msg(format!(
            "restricted_callback: {name} called during _initialize"
        )));
    }
    Ok(())
}

fn status(result: Result<(), Status>) -> i32 {
    match result {
        Ok(()) => Status::Ok as i32,
        Err(s) => s as i32,
    }
}
