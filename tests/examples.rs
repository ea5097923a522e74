//! `kwctl run -r` reads JSON only, so each AdmissionReview in `examples/` is kept twice: the
//! commented YAML people read and the JSON `examples/demo.sh` runs. They must say the same.

use std::path::Path;

fn parse(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_example_request_in_json_is_its_yaml_twin() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut pairs = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let json = entry.unwrap().path();
        if json.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let yaml = json.with_extension("yaml");
        assert!(yaml.is_file(), "{} has no YAML twin", json.display());
        assert_eq!(
            parse(&json),
            parse(&yaml),
            "{} differs from {}; regenerate the JSON from the YAML",
            json.display(),
            yaml.display()
        );
        pairs += 1;
    }
    assert!(
        pairs >= 2,
        "examples/: expected the pod and deployment requests in JSON"
    );
}
