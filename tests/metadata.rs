//! Keeps `policy-metadata.yaml`, `artifacthub-pkg.yml`, `questions-ui.yml`, the README, the
//! workflows and `Cargo.toml` in step. The metadata is the source of truth: kwctl embeds it in the
//! Wasm module and derives the Artifact Hub package from it (with the Rancher form). The real kwctl
//! (`KWCTL`) judges what it reads: every field must survive `kwctl annotate` and `kwctl inspect`,
//! and `kwctl scaffold artifacthub` (which refuses a malformed author, ociUrl or keyword list) must
//! write the committed package.

mod support;

use serde_yaml::Value;
use support::{annotation, parse, program, question_paths, read, yaml, Scratch};
use support::{METADATA, QUESTIONS};

const ARTIFACTHUB: &str = "artifacthub-pkg.yml";

#[test]
fn metadata_version_is_the_cargo_version() {
    let version = annotation("io.kubewarden.policy.version");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "{METADATA} version vs Cargo.toml"
    );
}

/// The annotations the release reads, kwctl does not insist on, and audit reports are labelled
/// with (`kwctl scaffold artifacthub`, run below, refuses a metadata without a title, version,
/// description, ociUrl or displayName).
#[test]
fn metadata_has_every_annotation_the_release_uses() {
    let keys = [
        "io.kubewarden.policy.description",
        "io.kubewarden.policy.author",
        "io.kubewarden.policy.url",
        "io.kubewarden.policy.source",
        "io.kubewarden.policy.license",
        "io.kubewarden.policy.category",
        "io.kubewarden.policy.severity",
        "io.artifacthub.displayName",
        "io.artifacthub.resources",
        "io.artifacthub.keywords",
    ];
    for key in keys {
        assert!(
            !annotation(key).trim().is_empty(),
            "{METADATA}: annotation {key} is empty"
        );
    }
    let severity = annotation("io.kubewarden.policy.severity");
    let severities = ["info", "low", "medium", "high", "critical"];
    assert!(
        severities.contains(&&*severity),
        "{METADATA}: severity {severity:?}"
    );
    for key in ["io.kubewarden.policy.url", "io.kubewarden.policy.source"] {
        assert!(
            annotation(key).starts_with("https://"),
            "{METADATA}: {key} must be https"
        );
    }
    let resources = annotation("io.artifacthub.resources");
    assert!(
        resources.split(',').all(|item| !item.trim().is_empty()),
        "{METADATA}: {resources:?}"
    );
}

/// Everything but the annotations: Pods and `kubectl debug`'s sub-resource, and the workloads
/// (checked without a patch; a Job's template is immutable after CREATE; custom resources and
/// ServiceAccounts are opt-in, docs/workloads.md); a mutating, audited, context-aware waPC policy
/// that only fetches single objects, with field masks (Kubewarden 1.33).
#[test]
fn metadata_declares_the_rules_and_capabilities_of_the_policy() {
    let expected = r#"
rules:
  - {apiGroups: [""], apiVersions: [v1], resources: [pods], operations: [CREATE, UPDATE]}
  - {apiGroups: [""], apiVersions: [v1], resources: [pods/ephemeralcontainers], operations: [UPDATE]}
  - {apiGroups: [""], apiVersions: [v1], resources: [replicationcontrollers], operations: [CREATE, UPDATE]}
  - apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, replicasets, statefulsets, daemonsets]
    operations: [CREATE, UPDATE]
  - {apiGroups: [batch], apiVersions: [v1], resources: [jobs], operations: [CREATE]}
  - {apiGroups: [batch], apiVersions: [v1], resources: [cronjobs], operations: [CREATE, UPDATE]}
mutating: true
backgroundAudit: true
executionMode: kubewarden-wapc
policyType: kubernetes
contextAwareResources:
  - {apiVersion: v1, kind: Secret}
  - {apiVersion: v1, kind: ServiceAccount}
  - {apiVersion: v1, kind: Namespace}
hostCapabilities: [kubernetes/get_resource]
minimumKubewardenVersion: 1.33.0
"#;
    let mut meta = yaml(METADATA);
    meta.as_mapping_mut().unwrap().remove("annotations");
    assert_eq!(
        meta,
        parse("expected", expected),
        "{METADATA} without its annotations"
    );
}

/// kwctl drops what it does not know (a typo, or a retired field such as `contextAware`)
/// silently: every field of the metadata must come back from the annotated module.
#[test]
fn kwctl_reads_back_every_metadata_field() {
    let Some(kwctl) = program("KWCTL", "kwctl inspect of the annotated module") else {
        return;
    };
    let scratch = Scratch::new();
    let module = scratch.annotated_module(&kwctl);
    let read_back = parse(
        "kwctl inspect",
        &scratch.ok(&kwctl, &["inspect", "-o", "yaml", &module]),
    );
    let ours = yaml(METADATA);
    let keys = ours.as_mapping().unwrap().keys();
    let dropped: Vec<_> = keys.filter(|key| read_back.get(key).is_none()).collect();
    assert!(dropped.is_empty(), "{METADATA}: kwctl drops {dropped:?}");
    for key in ["rules", "minimumKubewardenVersion"] {
        assert_eq!(
            read_back[key], ours[key],
            "{METADATA}: {key} as kwctl reads it"
        );
    }
}

/// The release annotates the module and scaffolds the Artifact Hub package with this kwctl: a
/// stable release, the same in both workflows.
#[test]
fn workflows_use_one_stable_kwctl_release() {
    let version = |file: &str| {
        yaml(file)["env"]["KWCTL_VERSION"]
            .as_str()
            .map(str::to_string)
    };
    let release = version(".github/workflows/release.yml").unwrap_or_default();
    let parts: Vec<_> = release
        .strip_prefix('v')
        .unwrap_or_default()
        .split('.')
        .collect();
    let stable = parts.len() == 3 && parts.iter().all(|part| part.parse::<u32>().is_ok());
    assert!(
        stable,
        "release.yml KWCTL_VERSION {release:?} must be a stable vX.Y.Z"
    );
    assert_eq!(
        version(".github/workflows/test.yml"),
        Some(release),
        "test.yml vs release.yml"
    );
}

/// The signed SBOM lists what the module links: syft scans the lockfile cut to it, never the tree
/// (whose other lockfiles hold the fuzz and bench tools).
#[test]
fn release_sbom_scans_only_the_module_dependencies() {
    let release = read(".github/workflows/release.yml");
    let lines = release
        .lines()
        .skip_while(|line| !line.contains("syft scan"));
    let syft: Vec<_> = lines
        .take_while(|line| !line.trim().is_empty() && !line.contains("cosign"))
        .collect();
    let syft = syft.join("\n");
    assert!(
        release.contains(".github/scripts/module-lockfile.py")
            && syft.contains("$RUNNER_TEMP/module"),
        "release.yml: syft must scan the folder module-lockfile.py writes: {syft}"
    );
    assert!(
        !syft.contains("dir:."),
        "release.yml: syft scans the whole tree: {syft}"
    );
}

/// The README's settings table: each key (`| \`rules[].secret\` | ...`) with its row.
fn documented_settings() -> Vec<(String, String)> {
    let readme = read("README.md");
    let section = readme
        .split("\n## Settings")
        .nth(1)
        .expect("README.md: ## Settings");
    let rows = section.split("\n## ").next().unwrap_or_default().lines();
    let rows = rows.filter_map(|line| line.strip_prefix("| `")?.split_once("` |"));
    rows.map(|(key, row)| (key.to_string(), row.to_string()))
        .collect()
}

/// Whether `path` is `key` or lies under it.
fn is_under(path: &str, key: &str) -> bool {
    let rest = path.strip_prefix(key);
    rest.is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with("[]"))
}

/// The README's settings table has exactly its rows; the form asks for each key (or fields under
/// it) and for nothing the table does not document: a row of its own, or its last field
/// (`` `field` ``) in the row of a key it lies under (`customResources` lists its three fields).
#[test]
fn questions_ui_asks_for_every_documented_setting_and_nothing_else() {
    let documented = documented_settings();
    let keys: Vec<&str> = documented.iter().map(|(key, _)| key.as_str()).collect();
    let expected = [
        "rules",
        "rules[].secret",
        "rules[].registries",
        "rules[].images",
        "rules[].onMissingSecret",
        "rules[].namespaceSelector",
        "rules[].imagePullPolicy",
        "serviceAccounts",
        "inject",
        "templates",
        "verifySecrets",
        "checkCredentials",
        "customResources",
    ];
    assert_eq!(keys, expected, "README.md: the settings table's keys");
    let mut asked = Vec::new();
    question_paths(&yaml(QUESTIONS)["questions"], "", &mut asked);
    let missing: Vec<_> = keys
        .iter()
        .filter(|key| !asked.iter().any(|path| is_under(path, key)))
        .collect();
    let is_documented = |path: &&String| {
        let last = path.rsplit(['.', ']']).next().unwrap_or(path);
        documented.iter().any(|(key, row)| {
            key == *path || (is_under(path, key) && row.contains(&format!("`{last}`")))
        })
    };
    let unknown: Vec<_> = asked.iter().filter(|path| !is_documented(path)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{QUESTIONS} vs the README settings table: not asked {missing:?}; not documented {unknown:?}"
    );
}

/// artifacthub-pkg.yml is kwctl's output, not hand-written: regenerate it and compare, all but
/// the creation time (and YAML map order: kwctl writes its annotations from a hash map).
#[test]
fn artifacthub_package_is_what_kwctl_scaffold_writes() {
    let Some(kwctl) = program(
        "KWCTL",
        "the comparison of artifacthub-pkg.yml with kwctl's",
    ) else {
        return;
    };
    let scratch = Scratch::new();
    let generated = scratch.path(ARTIFACTHUB);
    let args = [
        "scaffold",
        "artifacthub",
        "-m",
        METADATA,
        "--questions-path",
        QUESTIONS,
        "-o",
        &generated,
    ];
    let output = scratch.run(&kwctl, &args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kwctl scaffold artifacthub: {stderr}"
    );
    assert!(
        !stderr.to_lowercase().contains("warn"),
        "kwctl scaffold artifacthub warns: {stderr}"
    );
    let without_created_at = |mut package: Value| {
        let created_at = package
            .as_mapping_mut()
            .and_then(|map| map.remove("createdAt"));
        let created_at = created_at
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default();
        let rfc3339_utc = created_at.get(10..11) == Some("T") && created_at.ends_with('Z');
        assert!(
            rfc3339_utc,
            "{ARTIFACTHUB}: createdAt {created_at:?} is no RFC 3339 UTC time"
        );
        package
    };
    let fresh = parse(ARTIFACTHUB, &std::fs::read_to_string(&generated).unwrap());
    assert!(
        without_created_at(yaml(ARTIFACTHUB)) == without_created_at(fresh),
        "{ARTIFACTHUB} is not what `kwctl scaffold artifacthub` writes now; run `make artifacthub-pkg.yml`"
    );
}
