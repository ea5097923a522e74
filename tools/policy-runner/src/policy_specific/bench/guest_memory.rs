//! How large the guest's linear memory is after an evaluation. waPC's wasmtime provider keeps
//! its store private, so this probe drives the same compiled module itself: a minimal waPC
//! host (the `wapc` imports, host calls to the shared [`Host`]) and the few WASI functions a
//! Rust policy imports, then reads the exported memory's size.

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use wasmtime::{Caller, Extern, Linker, Memory, Store};

use crate::engine::CompiledPolicy;
use crate::host::Host;

/// Linear memory sizes of one instance, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestMemory {
    /// After instantiation and `wapc_init`, before the call.
    pub initial: usize,
    /// After the call returned.
    pub after_call: usize,
}

/// WASI errno values used here.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;

struct ProbeState {
    host: Arc<Host>,
    operation: Vec<u8>,
    payload: Vec<u8>,
    response: Option<Vec<u8>>,
    guest_error: Option<String>,
    host_response: Vec<u8>,
    host_error: Vec<u8>,
    /// xorshift state for `random_get`: the guest seeds hash maps with it.
    random: u64,
}

/// Runs `operation` with `payload` on a fresh instance of `policy` and reports its memory.
/// The guest's answer must be a success; its content is not checked here.
pub fn measure(
    policy: &CompiledPolicy,
    host: &Arc<Host>,
    operation: &str,
    payload: &[u8],
) -> Result<GuestMemory> {
    let module = policy.module();
    let mut store = Store::new(
        module.engine(),
        ProbeState {
            host: Arc::clone(host),
            operation: operation.as_bytes().to_vec(),
            payload: payload.to_vec(),
            response: None,
            guest_error: None,
            host_response: Vec::new(),
            host_error: Vec::new(),
            random: 0x9e37_79b9_7f4a_7c15,
        },
    );
    if let Some(ticks) = policy.deadline_ticks() {
        store.set_epoch_deadline(ticks);
    }
    let linker = linker(module.engine()).map_err(|e| anyhow!("probe linker: {e:?}"))?;
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(|e| anyhow!("probe instantiation: {e:?}"))?;
    for start in ["_start", "wapc_init"] {
        if let Ok(function) = instance.get_typed_func::<(), ()>(&mut store, start) {
            function
                .call(&mut store, ())
                .map_err(|e| anyhow!("probe {start}: {e:?}"))?;
        }
    }
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| anyhow!("the module exports no memory"))?;
    let initial = memory.data_size(&store);
    let guest_call = instance
        .get_typed_func::<(i32, i32), i32>(&mut store, "__guest_call")
        .map_err(|e| anyhow!("the module exports no __guest_call: {e:?}"))?;
    let status = guest_call
        .call(&mut store, (operation.len() as i32, payload.len() as i32))
        .map_err(|e| anyhow!("probe {operation}: {e:?}"))?;
    let state = store.data();
    if status != 1 || state.response.is_none() {
        bail!(
            "probe {operation}: the guest failed: {}",
            state.guest_error.as_deref().unwrap_or("no response")
        );
    }
    Ok(GuestMemory {
        initial,
        after_call: memory.data_size(&store),
    })
}

fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ProbeState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, ProbeState>, op_ptr: i32, ptr: i32| {
            let (operation, payload) = {
                let state = caller.data();
                (state.operation.clone(), state.payload.clone())
            };
            write(&mut caller, op_ptr, &operation)?;
            write(&mut caller, ptr, &payload)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, ProbeState>, ptr: i32, len: i32| {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().response = Some(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut caller: Caller<'_, ProbeState>, ptr: i32, len: i32| {
            let bytes = read(&mut caller, ptr, len)?;
            caller.data_mut().guest_error = Some(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_call",
        |mut caller: Caller<'_, ProbeState>,
         binding: i32,
         binding_len: i32,
         namespace: i32,
         namespace_len: i32,
         operation: i32,
         operation_len: i32,
         payload: i32,
         payload_len: i32| {
            let binding = read_string(&mut caller, binding, binding_len)?;
            let namespace = read_string(&mut caller, namespace, namespace_len)?;
            let operation = read_string(&mut caller, operation, operation_len)?;
            let payload = read(&mut caller, payload, payload_len)?;
            let answer = caller
                .data()
                .host
                .dispatch(&binding, &namespace, &operation, &payload);
            let state = caller.data_mut();
            Ok(match answer {
                Ok(bytes) => {
                    state.host_response = bytes;
                    1
                }
                Err(message) => {
                    state.host_error = message.into_bytes();
                    0
                }
            })
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |caller: Caller<'_, ProbeState>| caller.data().host_response.len() as i32,
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut caller: Caller<'_, ProbeState>, ptr: i32| {
            let bytes = caller.data().host_response.clone();
            write(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error_len",
        |caller: Caller<'_, ProbeState>| caller.data().host_error.len() as i32,
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut caller: Caller<'_, ProbeState>, ptr: i32| {
            let bytes = caller.data().host_error.clone();
            write(&mut caller, ptr, &bytes)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |_: Caller<'_, ProbeState>, _ptr: i32, _len: i32| {},
    )?;
    add_wasi(&mut linker)?;
    Ok(linker)
}

/// The WASI preview 1 functions a Rust waPC policy imports: no environment, output
/// swallowed, pseudo-random bytes.
fn add_wasi(linker: &mut Linker<ProbeState>) -> wasmtime::Result<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, ProbeState>, ptr: i32, len: i32| {
            let mut bytes = vec![0u8; len.max(0) as usize];
            let state = caller.data_mut();
            for byte in &mut bytes {
                state.random ^= state.random << 13;
                state.random ^= state.random >> 7;
                state.random ^= state.random << 17;
                *byte = state.random as u8;
            }
            Ok(errno(write(&mut caller, ptr, &bytes)))
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Caller<'_, ProbeState>, count: i32, size: i32| {
            let written = write(&mut caller, count, &0u32.to_le_bytes()).and(write(
                &mut caller,
                size,
                &0u32.to_le_bytes(),
            ));
            Ok(errno(written))
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |_: Caller<'_, ProbeState>, _environ: i32, _buf: i32| ERRNO_SUCCESS,
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, ProbeState>, _fd: i32, iovs: i32, iovs_len: i32, written: i32| {
            let vectors = read(&mut caller, iovs, iovs_len.saturating_mul(8))?;
            let total: u32 = vectors
                .chunks_exact(8)
                .map(|iov| u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]))
                .sum();
            Ok(errno(write(&mut caller, written, &total.to_le_bytes())))
        },
    )?;
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_: Caller<'_, ProbeState>, code: i32| -> wasmtime::Result<()> {
            wasmtime::bail!("the guest called proc_exit({code})")
        },
    )?;
    Ok(())
}

fn errno(result: wasmtime::Result<()>) -> i32 {
    if result.is_ok() {
        ERRNO_SUCCESS
    } else {
        ERRNO_FAULT
    }
}

fn guest_memory(caller: &mut Caller<'_, ProbeState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the guest exports no memory"),
    }
}

fn read(caller: &mut Caller<'_, ProbeState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = guest_memory(caller)?;
    let mut bytes = vec![0u8; len.max(0) as usize];
    memory
        .read(&caller, ptr as u32 as usize, &mut bytes)
        .map_err(|e| wasmtime::format_err!("guest read out of bounds: {e}"))?;
    Ok(bytes)
}

fn read_string(
    caller: &mut Caller<'_, ProbeState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

fn write(caller: &mut Caller<'_, ProbeState>, ptr: i32, bytes: &[u8]) -> wasmtime::Result<()> {
    let memory = guest_memory(caller)?;
    memory
        .write(caller, ptr as u32 as usize, bytes)
        .map_err(|e| wasmtime::format_err!("guest write out of bounds: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Limits;

    /// A waPC guest that reads its invocation, grows its memory by `pages`, makes one host
    /// call when asked (`op` starting with `h`), then echoes the payload or fails.
    fn guest(pages: u32) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
              (import "wapc" "__guest_request" (func $request (param i32 i32)))
              (import "wapc" "__guest_response" (func $response (param i32 i32)))
              (import "wapc" "__guest_error" (func $error (param i32 i32)))
              (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 0) "kubewardenkubernetesget_resource")
              (func (export "wapc_init"))
              (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
                (call $request (i32.const 512) (i32.const 1024))
                (drop (memory.grow (i32.const {pages})))
                (if (i32.eq (i32.load8_u (i32.const 512)) (i32.const 104))
                  (then
                    (if (i32.eqz (call $host_call (i32.const 0) (i32.const 10) (i32.const 10) (i32.const 10)
                                                  (i32.const 20) (i32.const 12) (i32.const 1024) (local.get $msg_len)))
                      (then (call $error (i32.const 0) (i32.const 10)) (return (i32.const 0))))))
                (call $response (i32.const 1024) (local.get $msg_len))
                (i32.const 1)))"#
        ))
        .unwrap()
    }

    #[test]
    fn reports_memory_before_and_after_the_call() {
        let policy = CompiledPolicy::compile(&guest(3), Limits::default(), false).unwrap();
        let memory = measure(&policy, &Arc::new(Host::isolated()), "validate", b"{}").unwrap();
        assert_eq!(
            memory,
            GuestMemory {
                initial: 64 << 10,
                after_call: 4 * (64 << 10)
            }
        );
    }

    #[test]
    fn host_calls_reach_the_host_and_guest_failures_are_errors() {
        let policy = CompiledPolicy::compile(&guest(0), Limits::default(), false).unwrap();
        let host = Arc::new(Host::isolated());
        let get_secret =
            br#"{"api_version":"v1","kind":"Secret","name":"x","namespace":"a","disable_cache":false}"#;
        let error = measure(&policy, &host, "host", get_secret).unwrap_err();
        assert_eq!(host.kubernetes_calls(), 1);
        assert_eq!(
            error.to_string(),
            "probe host: the guest failed: kubewarden"
        );
    }
}
