//! The bench against scripted guests: what it measures, not how it prints it.

use std::collections::BTreeSet;
use std::path::Path;

use policy_runner::engine::Limits;
use policy_runner::metadata::ContextAwareResource;
use policy_runner::policy_specific::bench::{measure, workloads, Report, Workload};

use crate::guest::{Behaviour, Guest};

/// The request replay-corp-registry.yml recorded, as the SDK sends it.
const GET_CORP_REGISTRY: &str = r#"{"api_version":"v1","kind":"Secret","name":"corp-registry","namespace":"team-a","disable_cache":false,"field_masks":null}"#;

fn benches() -> Vec<Workload> {
    workloads(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches")).unwrap()
}

fn accepting_guest() -> Vec<u8> {
    Guest::new()
        .on(
            "validate",
            Behaviour::Respond(r#"{"accepted":true}"#.into()),
        )
        .wasm()
}

#[test]
fn every_workload_gets_a_row_of_positive_figures() {
    let workloads = benches();
    let rows = measure(
        &accepting_guest(),
        Limits::default(),
        BTreeSet::new(),
        &workloads,
        5,
        |_| {},
    )
    .unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let expected: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, expected);
    for row in &rows {
        assert!(row.validate.median > std::time::Duration::ZERO, "{row:?}");
        assert!(row.validate.p99 >= row.validate.median, "{row:?}");
        assert!(
            row.native_parse.median > std::time::Duration::ZERO,
            "{row:?}"
        );
        assert!(row.ratio() > 0.0 && row.ratio().is_finite(), "{row:?}");
        assert_eq!(row.host_calls, 0, "this guest makes no host call");
    }
    let parse = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .unwrap()
            .native_parse
            .median
    };
    assert!(
        parse("pod-1-accept") < parse("pod-100-accept"),
        "a hundred containers take longer to parse than one"
    );
    let report = Report {
        module_path: "guest.wasm".into(),
        module_bytes: 1234,
        iterations: 5,
        rows,
    }
    .to_string();
    let table_lines = report.lines().filter(|l| l.starts_with('|')).count();
    assert_eq!(
        table_lines,
        2 + workloads.len(),
        "one header, one rule, a row each"
    );
    assert!(report.starts_with("guest.wasm: 1234 bytes"), "{report}");
}

#[test]
fn host_calls_are_counted_and_the_replay_rearmed_for_each_evaluation() {
    let guest = Guest::new().on(
        "validate",
        Behaviour::HostCall {
            namespace: "kubernetes".into(),
            operation: "get_resource".into(),
            payload: GET_CORP_REGISTRY.into(),
        },
    );
    let verified: Vec<Workload> = benches()
        .into_iter()
        .filter(|w| w.session.remaining() > 0)
        .collect();
    let secrets = BTreeSet::from([ContextAwareResource {
        api_version: "v1".into(),
        kind: "Secret".into(),
    }]);
    let rows = measure(
        &guest.wasm(),
        Limits::default(),
        secrets,
        &verified,
        5,
        |_| {},
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].host_calls, 1);
}

#[test]
fn a_guest_failure_fails_the_run_naming_the_workload() {
    let guest = Guest::new().on("validate", Behaviour::Fail("boom".into()));
    let err = measure(
        &guest.wasm(),
        Limits::default(),
        BTreeSet::new(),
        &benches()[..1],
        1,
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("configmap: the guest failed:") && err.contains("boom"),
        "{err}"
    );
}
