//! Runner tests with a scripted WAT guest: the library's evaluator and the binary's
//! command line. One test binary keeps link time down (each links wasmtime).

mod bench;
mod command_line;
mod evaluation;
mod guest;
mod kwctl_parity;
