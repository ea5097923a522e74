//! Shared by the tests that run the real Kubewarden binaries: a real control plane, PolicyServer,
//! and guards that stop every process a test starts. Each test crate uses only part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod kubewarden;
pub mod patch;
pub mod policy_server;
pub mod process;
pub mod registry;
