//! Calls the policy's `respond` (what the waPC `validate` export runs, plus the answer's
//! serialisation) on one bench request, natively, so a profiler can say where the time goes:
//!
//!     profile <request.json> <settings.json> <mode> <iterations>
//!
//! `full` is the whole `validate` as every instance runs it (the policy keeps nothing between
//! calls); the other modes repeat one piece of it alone, so their instruction counts can be set
//! against the whole: `payload` (the payload parsed into a `serde_json::Value`), `settings`
//! (settings built and their patterns compiled), `object` (the object cloned and serialised, what
//! a mutation hands back), `response` (this request's answer serialised, a mutated object
//! included); `answer` prints the answer once, for benches/floor. No cluster is reachable: the bench settings
//! have `verifySecrets: false`, and a lookup would panic.

use std::hint::black_box;
use std::time::Instant;

use image_pull_secrets::{respond, Cluster, LookupError, Secret, Settings};
use serde_json::{json, Value};

struct NoCluster;

impl Cluster for NoCluster {
    fn secret(&mut self, ns: &str, name: &str, _: bool) -> Result<Secret, LookupError> {
        panic!("unexpected Secret lookup {ns}/{name}: the profile runs without verification")
    }
    fn service_account_pull_secrets(
        &mut self,
        ns: &str,
        name: &str,
    ) -> Result<Vec<String>, LookupError> {
        panic!("unexpected ServiceAccount lookup {ns}/{name}")
    }
    fn namespace_labels(
        &mut self,
        name: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, LookupError> {
        panic!("unexpected Namespace lookup {name}")
    }
}

/// What the waPC `validate` export does: the answer as JSON.
#[inline(never)]
fn validate(payload: &[u8]) -> Vec<u8> {
    respond(payload, &mut NoCluster)
}

#[inline(never)]
fn parse_payload(payload: &[u8]) -> Value {
    serde_json::from_slice(payload).unwrap()
}

#[inline(never)]
fn build_settings(settings: &[u8]) -> Settings {
    Settings::from_slice(settings).unwrap()
}

#[inline(never)]
fn clone_and_serialise(object: &Value) -> Vec<u8> {
    serde_json::to_vec(&object.clone()).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, request, settings, mode, iterations] = &args[..] else {
        eprintln!("usage: profile <request.json> <settings.json> <mode> <iterations>");
        std::process::exit(2);
    };
    let read = |path: &str| -> Value {
        serde_json::from_slice(&std::fs::read(path).expect(path)).expect(path)
    };
    let review = read(request);
    let settings = read(settings);
    // kwctl and PolicyServer hand the guest {"request": ..., "settings": ...}.
    let payload = serde_json::to_vec(&json!({"request": review["request"], "settings": settings}))
        .unwrap();
    let iterations: u32 = iterations.parse().expect("iterations");
    let request = &review["request"];
    let answer = validate(&payload);
    let response: Value = serde_json::from_slice(&answer).unwrap();
    let settings = serde_json::to_vec(&settings).unwrap();
    if mode == "answer" {
        // The exact answer, for the floor module (benches/floor) to return.
        use std::io::Write;
        std::io::stdout().write_all(&answer).expect("stdout");
        return;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        match mode.as_str() {
            "full" => drop(black_box(validate(black_box(&payload)))),
            "payload" => drop(black_box(parse_payload(black_box(&payload)))),
            "settings" => drop(black_box(build_settings(black_box(&settings)))),
            "object" => drop(black_box(clone_and_serialise(black_box(&request["object"])))),
            "response" => drop(black_box(serde_json::to_vec(black_box(&response)).unwrap())),
            other => panic!("unknown mode {other}"),
        }
    }
    let per_call = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
    eprintln!(
        "{mode}: {per_call:.2} µs per call natively; payload {} bytes; answer {}",
        payload.len(),
        String::from_utf8_lossy(&answer[..answer.len().min(120)])
    );
}
