//! policy-runner: executes compiled Kubewarden waPC policies the way kwctl and PolicyServer
//! do, so end-to-end tests and benchmarks need neither a cluster nor kwctl.
//!
//! `main.rs` only parses arguments and prints; everything else lives here so that other
//! commands (a benchmark) can reuse the compiled policy and the evaluator.

pub mod annotate;
pub mod cli;
pub mod engine;
pub mod evaluate;
pub mod host;
pub mod metadata;
pub mod policy_specific;
pub mod request;
pub mod response;
pub mod run;
pub mod session;
pub mod wasm_sections;
