//! Calls the policy's `respond` (what the waPC `validate` export runs, the answer's serialisation
//! included) natively on one bench request, so callgrind can count its instructions exactly:
//!
//!     profile <request.json> <settings.json> <iterations>   # `validate` that many times
//!     profile <request.json> <settings.json> answer         # prints the answer once (benches/floor)
//!
//! The cluster is an empty in-memory one: the bench settings have `verifySecrets: false`.

use std::hint::black_box;
use std::io::Write;

use image_pull_secrets::respond;
use image_pull_secrets::testing::MemoryCluster;
use serde_json::{json, Value};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, request, settings, mode] = &args[..] else {
        eprintln!("usage: profile <request.json> <settings.json> (<iterations> | answer)");
        std::process::exit(2);
    };
    let read = |path: &str| -> Value {
        serde_json::from_slice(&std::fs::read(path).expect(path)).expect(path)
    };
    // kwctl and PolicyServer hand the guest {"request": ..., "settings": ...}.
    let payload = json!({"request": read(request)["request"], "settings": read(settings)});
    let payload = serde_json::to_vec(&payload).unwrap();
    let mut cluster = MemoryCluster::default();
    if mode == "answer" {
        let answer = respond(&payload, &mut cluster);
        return std::io::stdout().write_all(&answer).expect("stdout");
    }
    for _ in 0..mode.parse::<u32>().expect("iterations") {
        black_box(respond(black_box(&payload), &mut cluster));
    }
    assert!(cluster.calls.is_empty(), "lookups: {:?}", cluster.calls);
}
