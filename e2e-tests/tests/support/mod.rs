//! Shared by the tests that run the real Kubewarden binaries: a loopback Kubernetes API stub and
//! guards that stop every process a test starts. Each test crate uses only part of it.
#![allow(dead_code)]

pub mod admission;
pub mod cluster;
pub mod kube_stub;
pub mod kubewarden;
pub mod policy_server;
pub mod process;
pub mod registry;
pub mod wrk;
