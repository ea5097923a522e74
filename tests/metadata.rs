//! Keeps `policy-metadata.yaml`, `artifacthub-pkg.yml`, `questions-ui.yml` and `Cargo.toml` in
//! step. The metadata is the source of truth: kwctl embeds it in the Wasm module and derives the
//! Artifact Hub package from it (with the Rancher form), so the package is compared with what the
//! real kwctl (`KWCTL`) writes from them today, and the checks here are on the metadata.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;

use serde_yaml::Value;
use support::{
    annotation, not_run, question_paths, read, real_kwctl, yaml, Scratch, METADATA, QUESTIONS,
};

const ARTIFACTHUB: &str = "artifacthub-pkg.yml";

/// Annotations kwctl needs to annotate the module, scaffold the Artifact Hub
/// package and label audit reports.
const REQUIRED_ANNOTATIONS: &[&str] = &[
    "io.kubewarden.policy.title",
    "io.kubewarden.policy.version",
    "io.kubewarden.policy.description",
    "io.kubewarden.policy.author",
    "io.kubewarden.policy.url",
    "io.kubewarden.policy.source",
    "io.kubewarden.policy.license",
    "io.kubewarden.policy.ociUrl",
    "io.kubewarden.policy.category",
    "io.kubewarden.policy.severity",
    "io.artifacthub.displayName",
    "io.artifacthub.resources",
    "io.artifacthub.keywords",
];

/// Top-level fields of kwctl's policy `Metadata`. Anything else is either a
/// typo or a retired field (such as `contextAware`) that kwctl drops silently.
const KNOWN_METADATA_FIELDS: &[&str] = &[
    "protocolVersion",
    "rules",
    "annotations",
    "mutating",
    "backgroundAudit",
    "executionMode",
    "policyType",
    "contextAwareResources",
    "hostCapabilities",
    "minimumKubewardenVersion",
];

const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

fn metadata() -> Value {
    yaml(METADATA)
}

fn artifacthub() -> Value {
    yaml(ARTIFACTHUB)
}

/// The string at `path` (dot-free keys, one per step) or a panic naming the file and path.
fn text<'a>(doc: &'a Value, file: &str, path: &[&str]) -> &'a str {
    let mut node = doc;
    for key in path {
        node = &node[*key];
    }
    node.as_str().unwrap_or_else(|| {
        panic!(
            "{file}: {} must be a string, found {node:?}",
            path.join(" > ")
        )
    })
}

fn flag(doc: &Value, file: &str, key: &str) -> bool {
    doc[key]
        .as_bool()
        .unwrap_or_else(|| panic!("{file}: {key} must be a boolean, found {:?}", doc[key]))
}

/// Comma-separated list as kwctl reads it: items trimmed, none empty.
fn csv(file: &str, key: &str, value: &str) -> Vec<String> {
    let items: Vec<String> = value
        .split(',')
        .map(|item| item.trim().to_string())
        .collect();
    assert!(
        items.iter().all(|item| !item.is_empty()),
        "{file}: {key} has an empty entry in {value:?}"
    );
    items
}

fn string_list(node: &Value, what: &str) -> Vec<String> {
    node.as_sequence()
        .unwrap_or_else(|| panic!("{what} must be a list, found {node:?}"))
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("{what} entries must be strings, found {item:?}"))
                .to_string()
        })
        .collect()
}

/// Every (apiGroup, apiVersion, resource, operation) a rule list matches.
/// Panics on a combination matched twice, which would hide a copy-paste slip.
fn rule_matches(rules: &Value, what: &str) -> BTreeSet<(String, String, String, String)> {
    let mut matches = BTreeSet::new();
    let rules = rules
        .as_sequence()
        .unwrap_or_else(|| panic!("{what} must be a list, found {rules:?}"));
    for (index, rule) in rules.iter().enumerate() {
        let field = |key: &str| string_list(&rule[key], &format!("{what}[{index}].{key}"));
        for group in field("apiGroups") {
            for version in field("apiVersions") {
                for resource in field("resources") {
                    for operation in field("operations") {
                        let entry = (group.clone(), version.clone(), resource.clone(), operation);
                        assert!(
                            matches.insert(entry.clone()),
                            "{what}: {entry:?} is matched twice"
                        );
                    }
                }
            }
        }
    }
    matches
}

/// Whether an author reads as RFC 5322's `Display Name <local@domain>`.
fn is_name_and_email(author: &str) -> bool {
    let Some((name, email)) = author
        .split_once(" <")
        .and_then(|(name, rest)| Some((name, rest.strip_suffix('>')?)))
    else {
        return false;
    };
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !name.trim().is_empty()
        && !name.contains(['<', '>', ','])
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@')
}

#[test]
fn metadata_version_is_the_cargo_version() {
    assert_eq!(
        annotation("io.kubewarden.policy.version"),
        env!("CARGO_PKG_VERSION"),
        "{METADATA} io.kubewarden.policy.version vs Cargo.toml"
    );
}

#[test]
fn metadata_has_every_required_annotation_in_the_expected_form() {
    let meta = metadata();

    let missing: Vec<&str> = REQUIRED_ANNOTATIONS
        .iter()
        .copied()
        .filter(|key| {
            meta["annotations"][*key]
                .as_str()
                .is_none_or(|value| value.trim().is_empty())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{METADATA}: missing or empty annotations: {}",
        missing.join(", ")
    );

    let author = &annotation("io.kubewarden.policy.author");
    assert!(
        is_name_and_email(author),
        "{METADATA}: author {author:?} must read `Name <email>`"
    );

    // kwctl scaffold manifest uses the title as the policy's object name.
    let title = &annotation("io.kubewarden.policy.title");
    let rfc1123 = !title.is_empty()
        && title.len() <= 253
        && title
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && title.starts_with(|c: char| c.is_ascii_alphanumeric())
        && title.ends_with(|c: char| c.is_ascii_alphanumeric());
    assert!(
        rfc1123,
        "{METADATA}: title {title:?} must be an RFC 1123 name"
    );

    let severity = &annotation("io.kubewarden.policy.severity");
    assert!(
        SEVERITIES.contains(&severity.as_str()),
        "{METADATA}: severity {severity:?} must be one of {SEVERITIES:?}"
    );

    // kwctl appends `:v<version>` itself, so the ociUrl carries neither scheme nor tag.
    let oci_url = &annotation("io.kubewarden.policy.ociUrl");
    let last_segment = oci_url.rsplit('/').next().unwrap_or_default();
    assert!(
        !oci_url.contains("://") && !last_segment.contains([':', '@']),
        "{METADATA}: ociUrl {oci_url:?} must be a repository without scheme, tag or digest"
    );

    for key in ["io.kubewarden.policy.url", "io.kubewarden.policy.source"] {
        let url = &annotation(key);
        assert!(
            url.starts_with("https://"),
            "{METADATA}: {key} {url:?} must be an https URL"
        );
    }

    for key in ["io.artifacthub.keywords", "io.artifacthub.resources"] {
        csv(METADATA, key, &annotation(key));
    }
}

/// What the policy asks for by default: Pods and `kubectl debug`'s sub-resource, and the workloads
/// (checked without a patch, issue 28; a Job's template is immutable after CREATE). Custom
/// resources and ServiceAccounts are opt-in (docs/workloads.md). The same pairs as a set, in the
/// form `kwctl scaffold manifest` copies.
fn default_rules() -> BTreeSet<(String, String, String, String)> {
    let pods = [
        ("", "pods", "CREATE"),
        // A Pod's imagePullSecrets cannot change after creation, its images can: UPDATE is checked.
        ("", "pods", "UPDATE"),
        ("", "pods/ephemeralcontainers", "UPDATE"),
        ("batch", "jobs", "CREATE"),
    ];
    let workloads = [
        ("", "replicationcontrollers"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "cronjobs"),
    ];
    let workloads = workloads.into_iter().flat_map(|(group, resource)| {
        ["CREATE", "UPDATE"].map(|operation| (group, resource, operation))
    });
    pods.into_iter()
        .chain(workloads)
        .map(|(group, resource, operation)| {
            (
                group.to_string(),
                "v1".to_string(),
                resource.to_string(),
                operation.to_string(),
            )
        })
        .collect()
}

#[test]
fn metadata_rules_match_pods_and_workloads() {
    let meta = metadata();
    assert_eq!(
        rule_matches(&meta["rules"], "policy-metadata.yaml rules"),
        default_rules(),
        "{METADATA} rules: Pods, pods/ephemeralcontainers and the built-in workloads, nothing else"
    );
}

/// The release annotates the module and scaffolds the Artifact Hub package with this kwctl: a
/// stable release, the same in both workflows.
#[test]
fn workflows_use_one_stable_kwctl_release() {
    let version = |file: &str| -> String {
        let workflow = yaml(file);
        text(&workflow, file, &["env", "KWCTL_VERSION"]).to_string()
    };
    let release = version(".github/workflows/release.yml");
    let core = release
        .strip_prefix('v')
        .unwrap_or_else(|| panic!("release.yml KWCTL_VERSION {release:?} is not a v-prefixed tag"));
    assert!(
        core.split('.').count() == 3
            && core
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())),
        "release.yml KWCTL_VERSION {release:?} must be a stable vX.Y.Z (no -beta, -rc)"
    );
    assert_eq!(
        version(".github/workflows/test.yml"),
        release,
        "test.yml and release.yml must use the same kwctl"
    );
}

/// The signed SBOM lists what the module links: syft scans the lockfile cut to it, never the tree
/// (whose other lockfiles hold wasmtime, the fuzz and bench tools).
#[test]
fn release_sbom_scans_only_the_module_dependencies() {
    let release = read(".github/workflows/release.yml");
    let syft: Vec<&str> = release
        .lines()
        .skip_while(|line| !line.contains("syft scan"))
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

#[test]
fn metadata_declares_a_mutating_audited_context_aware_wapc_policy() {
    let meta = metadata();

    let mut unknown: Vec<&str> = meta
        .as_mapping()
        .unwrap_or_else(|| panic!("{METADATA} must be a mapping"))
        .keys()
        .filter_map(Value::as_str)
        .filter(|key| !KNOWN_METADATA_FIELDS.contains(key))
        .collect();
    unknown.sort_unstable();
    assert!(
        unknown.is_empty(),
        "{METADATA}: fields kwctl does not know: {}",
        unknown.join(", ")
    );

    assert!(
        flag(&meta, METADATA, "mutating"),
        "{METADATA}: mutating must be true"
    );
    assert!(
        flag(&meta, METADATA, "backgroundAudit"),
        "{METADATA}: backgroundAudit must be true"
    );
    assert_eq!(text(&meta, METADATA, &["executionMode"]), "kubewarden-wapc");
    assert_eq!(text(&meta, METADATA, &["policyType"]), "kubernetes");

    let expected: Value = serde_yaml::from_str(
        "[{apiVersion: v1, kind: Secret}, {apiVersion: v1, kind: ServiceAccount},
          {apiVersion: v1, kind: Namespace}]",
    )
    .unwrap();
    assert_eq!(
        meta["contextAwareResources"], expected,
        "{METADATA} contextAwareResources"
    );

    assert_eq!(
        string_list(
            &meta["hostCapabilities"],
            "policy-metadata.yaml hostCapabilities"
        ),
        vec!["kubernetes/get_resource".to_string()],
        "{METADATA}: the policy only fetches single objects from the cluster"
    );

    // Field masks on get_resource arrived in Kubewarden 1.33.
    let minimum = text(&meta, METADATA, &["minimumKubewardenVersion"]);
    let parts: Vec<u64> = minimum
        .split('.')
        .map(|part| {
            part.parse().unwrap_or_else(|_| {
                panic!("{METADATA}: minimumKubewardenVersion {minimum:?} is not x.y.z")
            })
        })
        .collect();
    assert_eq!(
        parts.len(),
        3,
        "{METADATA}: minimumKubewardenVersion {minimum:?} is not x.y.z"
    );
    assert!(
        parts[..2] >= [1, 33][..],
        "{METADATA}: minimumKubewardenVersion {minimum:?} predates field masks (1.33)"
    );
}

/// The README's settings table: each key (`| \`rules[].secret\` | ...`) with its row.
fn documented_settings() -> BTreeMap<String, String> {
    let readme = read("README.md");
    let section = readme
        .split("\n## Settings")
        .nth(1)
        .expect("README.md has a `## Settings` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| {
            rest.split_once("` |")
                .map(|(key, row)| (key.to_string(), row.to_string()))
        })
        .collect()
}

/// Whether the README documents `path`: a row of its own, or a mention of its last field
/// (`` `field` ``) in the row of a key it lies under (as `customResources` lists its three
/// fields, `rules[].namespaceSelector` its `matchLabels`, `key`, `operator` and `values`).
fn is_documented(documented: &BTreeMap<String, String>, path: &str) -> bool {
    let last = path.rsplit(['.', ']']).next().unwrap_or(path);
    documented.contains_key(path)
        || documented.iter().any(|(key, row)| {
            path.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
                && row.contains(&format!("`{last}`"))
        })
}

/// Whether the form asks for a documented key: that path, or fields under it (the form asks
/// for `rules[].namespaceSelector.matchLabels`, the README documents `rules[].namespaceSelector`).
fn is_asked(asked: &[String], key: &str) -> bool {
    asked.iter().any(|path| {
        path == key
            || path
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
    })
}

#[test]
fn questions_ui_asks_for_every_documented_setting_and_nothing_else() {
    let form = yaml(QUESTIONS);
    let mut asked = Vec::new();
    question_paths(&form["questions"], "", &mut asked);
    let documented = documented_settings();
    assert!(!documented.is_empty(), "README.md: no settings table found");
    let missing: Vec<_> = documented
        .keys()
        .filter(|key| !is_asked(&asked, key))
        .collect();
    let unknown: Vec<_> = asked
        .iter()
        .filter(|path| !is_documented(&documented, path))
        .collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "{QUESTIONS} vs the README settings table: not asked {missing:?}; not documented {unknown:?}"
    );
}

/// artifacthub-pkg.yml is kwctl's output, not hand-written: regenerate it and compare, all but
/// the creation time (and YAML map order: kwctl writes its annotations from a hash map).
#[test]
fn artifacthub_package_is_what_kwctl_scaffold_writes() {
    let Some(kwctl) = real_kwctl() else {
        not_run(&format!(
            "the comparison of {ARTIFACTHUB} with kwctl scaffold artifacthub"
        ));
        return;
    };
    let scratch = Scratch::new("scaffold");
    let generated = scratch.path(ARTIFACTHUB);
    let output = scratch.run(
        &kwctl,
        [
            OsStr::new("scaffold"),
            "artifacthub".as_ref(),
            "-m".as_ref(),
            METADATA.as_ref(),
            "--questions-path".as_ref(),
            QUESTIONS.as_ref(),
            "-o".as_ref(),
            generated.as_os_str(),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{kwctl} scaffold artifacthub failed: {stderr}"
    );
    assert!(
        !stderr.to_lowercase().contains("warn"),
        "{kwctl} scaffold artifacthub warns: {stderr}"
    );

    let without_created_at = |mut doc: Value| {
        let created_at = doc
            .as_mapping_mut()
            .and_then(|map| map.remove("createdAt"))
            .expect("createdAt");
        let created_at = created_at.as_str().unwrap_or_default();
        assert!(
            created_at.len() >= 20
                && created_at.as_bytes()[10] == b'T'
                && created_at.ends_with('Z'),
            "{ARTIFACTHUB}: createdAt {created_at:?} must be an RFC 3339 UTC timestamp"
        );
        doc
    };
    let fresh: Value = serde_yaml::from_str(&std::fs::read_to_string(&generated).unwrap()).unwrap();
    assert!(
        without_created_at(artifacthub()) == without_created_at(fresh),
        "{ARTIFACTHUB} is not what `kwctl scaffold artifacthub` writes now; run `make artifacthub-pkg.yml`"
    );
}
