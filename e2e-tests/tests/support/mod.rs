//! Shared by the tests that run the real Kubewarden binaries: a real control plane, PolicyServer,
//! and guards that stop every process a test starts. Each test crate uses only part of it.
#![allow(dead_code)]

pub mod admission;
pub mod cluster;
pub mod kubewarden;
pub mod policy_server;
pub mod process;
pub mod registry;

/// The repository's root folder.
pub fn repo_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().expect("workspace root").to_path_buf()
}

/// The annotated module (`POLICY`, default `annotated-policy.wasm` at the repository root).
pub fn policy_module() -> std::path::PathBuf {
    let module = std::env::var("POLICY").map_or_else(
        |_| repo_root().join("annotated-policy.wasm"),
        std::path::PathBuf::from,
    );
    let how = "build it with `make annotated-policy.wasm` or set POLICY";
    assert!(module.exists(), "{} is missing: {how}", module.display());
    module
}
