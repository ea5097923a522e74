//! `kwctl run -r` reads JSON only, so each AdmissionReview in `examples/` is kept twice: the
//! commented YAML people read and the JSON `examples/demo.sh` runs. They must say the same.

mod support;

#[test]
fn every_example_request_in_json_is_its_yaml_twin() {
    let examples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap();
    let names = examples.map(|entry| entry.unwrap().file_name().into_string().unwrap());
    let mut pairs = 0;
    for json in names.filter_map(|name| name.strip_suffix(".json").map(str::to_string)) {
        let (json, yaml) = (
            format!("examples/{json}.json"),
            format!("examples/{json}.yaml"),
        );
        assert_eq!(
            support::yaml(&json),
            support::yaml(&yaml),
            "{json} differs from {yaml}; regenerate the JSON from the YAML"
        );
        pairs += 1;
    }
    assert!(
        pairs >= 2,
        "examples/: expected the pod and deployment requests in JSON"
    );
}
