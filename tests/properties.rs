//! Property tests for the pure core: normalisation, matching, merging, and the mutation as a whole.
//! Generators follow the distribution reference grammar; each property is named for what it pins.

use std::sync::LazyLock;

use image_pull_secrets::{
    canonical_registry, merged_pull_secrets, Cluster, ImageRef, LookupError, RegistryPattern,
    Secret, Settings, DOCKER_HUB,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

const CASES: u32 = 256;

/// A cluster in which nothing exists: every lookup answers "not found".
struct EmptyCluster;

impl Cluster for EmptyCluster {
    fn secret(&mut self, _: &str, _: &str, _: bool) -> Result<Secret, LookupError> {
        Err(LookupError::NotFound)
    }

    fn service_account_pull_secrets(
        &mut self,
        _: &str,
        _: &str,
    ) -> Result<Vec<String>, LookupError> {
        Err(LookupError::NotFound)
    }

    fn namespace_labels(
        &mut self,
        _: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, LookupError> {
        Err(LookupError::NotFound)
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, kept short.
const PATH_COMPONENT: &str = "[a-z0-9]{1,6}((\\.|_|__|-{1,2})[a-z0-9]{1,5}){0,2}";
/// A DNS label as registries write them.
const DNS_LABEL: &str = "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?";
const TAG: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}";
const DIGEST: &str = "sha256:[0-9a-f]{64}";

/// Flips the case of the ASCII letters of `text` where `mask` (cycled) has a set bit.
fn with_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![Just(5000u16), Just(443), Just(80), 1u16..]
}

/// A host of 2–4 DNS labels that is not a Docker Hub alias.
fn dotted_host() -> impl Strategy<Value = String> {
    prop::collection::vec(DNS_LABEL, 2..=4)
        .prop_map(|labels| labels.join("."))
        .prop_filter("not Docker Hub", |host| {
            canonical_registry(host) != DOCKER_HUB
        })
}

/// Every spelling of a registry the kubelet accepts in front of a repository, including a dotless
/// host that is a registry only because it has upper-case letters (`Corp/app`).
fn registry() -> impl Strategy<Value = String> {
    let hub = select(vec!["docker.io", "index.docker.io", "registry-1.docker.io"]);
    prop_oneof![
        hub.clone().prop_map(str::to_string),
        (hub, any::<u64>()).prop_map(|(host, mask)| with_case(host, mask)),
        Just("localhost".to_string()),
        port().prop_map(|port| format!("localhost:{port}")),
        dotted_host(),
        (dotted_host(), port()).prop_map(|(host, port)| format!("{host}:{port}")),
        (dotted_host(), any::<u64>()).prop_map(|(host, mask)| with_case(&host, mask)),
        (DNS_LABEL, port(), any::<u64>())
            .prop_map(|(host, port, mask)| with_case(&format!("{host}:{port}"), mask)),
        "[A-Z][A-Za-z0-9]{0,6}"
            .prop_filter("not localhost", |h| !h.eq_ignore_ascii_case("localhost")),
    ]
}

/// `[registry/]path[:tag][@digest]`, with 1–4 path components.
fn reference() -> impl Strategy<Value = String> {
    (
        prop::option::of(registry()),
        prop::collection::vec(PATH_COMPONENT, 1..=4),
        prop::option::of(TAG),
        prop::option::of(DIGEST),
    )
        .prop_map(|(registry, path, tag, digest)| {
            let mut reference = registry.map(|r| format!("{r}/")).unwrap_or_default();
            reference.push_str(&path.join("/"));
            if let Some(tag) = tag {
                reference.push_str(&format!(":{tag}"));
            }
            if let Some(digest) = digest {
                reference.push_str(&format!("@{digest}"));
            }
            reference
        })
}

/// A tag, a digest, both, or neither.
fn version_suffix() -> impl Strategy<Value = String> {
    (prop::option::of(TAG), prop::option::of(DIGEST)).prop_map(|(tag, digest)| {
        let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
        let digest = digest.map(|d| format!("@{d}")).unwrap_or_default();
        format!("{tag}{digest}")
    })
}

/// Rule sets covering registry, wildcard, port, Hub-alias and image-glob rules.
static RULE_SETS: LazyLock<Vec<Settings>> = LazyLock::new(|| {
    [
        json!({"rules": [{"secret": "hub", "registries": ["docker.io"]}]}),
        json!({"rules": [
            {"secret": "index", "registries": ["Index.Docker.io"]},
            {"secret": "registry-1", "registries": ["registry-1.docker.io"]}
        ]}),
        json!({"rules": [
            {"secret": "official", "images": ["nginx", "busybox", "docker.io/*"]},
            {"secret": "acme", "images": ["acme/*", "docker.io/acme/**"]},
            {"secret": "library", "images": ["library/**"]},
            {"secret": "everything-on-hub", "images": ["docker.io/**"]}
        ]}),
        json!({"rules": [
            {"secret": "corp", "registries": ["reg.example", "*.corp.example", "localhost:5000", "localhost"]},
            {"secret": "team", "images": ["reg.example/team/**", "*.corp.example/*", "localhost/**/cli"]}
        ]}),
        json!({"rules": [
            {"secret": "ports", "registries": ["reg.example:5000", "REG.EXAMPLE:443"]},
            {"secret": "deep", "images": ["**/cli", "*/*/*", "reg.example:5000/**"]}
        ]}),
    ]
    .into_iter()
    .map(|settings| Settings::from_slice(settings.to_string().as_bytes()).expect("valid rule set"))
    .collect()
});

/// Which rules of every rule set match `image`, as one comparable vector.
fn matching_rules(image: &ImageRef) -> Vec<Vec<bool>> {
    RULE_SETS
        .iter()
        .map(|settings| settings.rules.iter().map(|r| r.matches(image)).collect())
        .collect()
}

/// The ways to write one Docker Hub image: bare, `library/`, each alias host in several cases.
fn hub_spellings(repository: &str, official: bool, suffix: &str) -> Vec<String> {
    let mut paths = vec![repository.to_string()];
    if official {
        paths.push(format!("library/{repository}"));
    }
    let hosts = [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "Docker.IO",
        "INDEX.DOCKER.IO",
        "Registry-1.Docker.Io",
    ];
    let mut spellings = paths.clone();
    for host in hosts {
        spellings.extend(paths.iter().map(|path| format!("{host}/{path}")));
    }
    spellings
        .into_iter()
        .map(|spelling| format!("{spelling}{suffix}"))
        .collect()
}

/// A Docker Hub repository and whether it is official (single name, implicit `library/`).
fn hub_repository() -> impl Strategy<Value = (String, bool)> {
    let realistic = select(vec![
        "nginx",
        "busybox",
        "acme/app",
        "acme/tools/cli",
        "bitnami/redis",
    ])
    .prop_map(|r| (r.to_string(), !r.contains('/')));
    let official = PATH_COMPONENT.prop_map(|name| (name, true));
    // The namespace must not read as a registry host.
    let namespaced = (
        "[a-z0-9]{1,6}((_|__|-{1,2})[a-z0-9]{1,5}){0,2}",
        prop::collection::vec(PATH_COMPONENT, 1..=2),
    )
        .prop_filter("namespace is not a registry", |(namespace, _)| {
            namespace != "localhost"
        })
        .prop_map(|(namespace, rest)| (format!("{namespace}/{}", rest.join("/")), false));
    prop_oneof![realistic, official, namespaced]
}

/// How a look-alike host is derived from the real one.
#[derive(Debug, Clone, Copy)]
enum LookAlike {
    Suffix,
    LetterPrefix,
    ExtraLeadingLabel,
    ExtraTrailingLabel,
    DroppedLabel,
    DashedLastLabel,
    LetterSuffix,
    ReplacedLabel,
    OtherPort,
    AddedOrRemovedPort,
    HostInPath,
}

const LOOK_ALIKES: [LookAlike; 11] = [
    LookAlike::Suffix,
    LookAlike::LetterPrefix,
    LookAlike::ExtraLeadingLabel,
    LookAlike::ExtraTrailingLabel,
    LookAlike::DroppedLabel,
    LookAlike::DashedLastLabel,
    LookAlike::LetterSuffix,
    LookAlike::ReplacedLabel,
    LookAlike::OtherPort,
    LookAlike::AddedOrRemovedPort,
    LookAlike::HostInPath,
];

/// An image on a look-alike of `labels[:port]`: never label-for-label equal to it.
fn look_alike_image(labels: &[String], port: Option<u16>, how: LookAlike, salt: &str) -> String {
    let join = |labels: &[String], port: Option<u16>| {
        let host = labels.join(".");
        match port {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    };
    let mut changed = labels.to_vec();
    let last = changed.len() - 1;
    let registry = match how {
        LookAlike::Suffix => format!("{}.evil.com", labels.join(".")) + &port_suffix(port),
        LookAlike::LetterPrefix => {
            changed[0] = format!("x{}", changed[0]);
            join(&changed, port)
        }
        LookAlike::ExtraLeadingLabel => {
            changed.insert(0, salt.to_string());
            join(&changed, port)
        }
        LookAlike::ExtraTrailingLabel => {
            changed.push(salt.to_string());
            join(&changed, port)
        }
        LookAlike::DroppedLabel if changed.len() > 1 => {
            changed.remove(0);
            join(&changed, port)
        }
        LookAlike::DroppedLabel | LookAlike::DashedLastLabel => {
            changed[last] = format!("{}-x", changed[last]);
            join(&changed, port)
        }
        LookAlike::LetterSuffix => {
            changed[last] = format!("{}x", changed[last]);
            join(&changed, port)
        }
        LookAlike::ReplacedLabel => {
            let index = salt.len() % changed.len();
            changed[index] = if changed[index] == salt {
                format!("{salt}0")
            } else {
                salt.to_string()
            };
            join(&changed, port)
        }
        LookAlike::OtherPort => join(labels, Some(port.map_or(5000, |p| p.wrapping_add(1)))),
        LookAlike::AddedOrRemovedPort => match port {
            Some(_) => join(labels, None),
            None => join(labels, Some(5000)),
        },
        LookAlike::HostInPath => return format!("evil.com/{}/app:1", labels.join(".")),
    };
    format!("{registry}/app:1")
}

fn port_suffix(port: Option<u16>) -> String {
    port.map(|p| format!(":{p}")).unwrap_or_default()
}

/// A registry rule's host: 2–4 labels, or `localhost`, or one label with a port.
fn rule_host() -> impl Strategy<Value = (Vec<String>, Option<u16>)> {
    prop_oneof![
        (
            prop::collection::vec(DNS_LABEL, 2..=4),
            prop::option::of(port())
        ),
        prop::option::of(port()).prop_map(|port| (vec!["localhost".to_string()], port)),
        (DNS_LABEL, port()).prop_map(|(label, port)| (vec![label], Some(port))),
    ]
    .prop_filter("not Docker Hub", |(labels, port)| {
        port.is_some() || canonical_registry(&labels.join(".")) != DOCKER_HUB
    })
}

/// Names chosen from a small pool so that collisions between the lists are common.
fn secret_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec!["a", "b", "corp", "hub", "sa", ""]).prop_map(str::to_string),
        1 => "[a-z]{1,3}",
    ]
}

/// An `imagePullSecrets` entry as a request may carry it, odd shapes included.
fn pull_secret_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => secret_name().prop_map(|name| json!({ "name": name })),
        1 => Just(json!({})),
        1 => Just(json!({"name": 3})),
        1 => Just(json!({"name": null})),
        1 => Just(json!("corp")),
        1 => Just(Value::Null),
        1 => secret_name().prop_map(|name| json!({"name": name, "extra": 1})),
    ]
}

/// The current value of `imagePullSecrets`: absent, null, a list, or (malformed) something else.
fn existing_pull_secrets() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        6 => prop::collection::vec(pull_secret_entry(), 0..6).prop_map(|list| Some(Value::Array(list))),
        1 => Just(Some(json!({"name": "corp"}))),
    ]
}

fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// Any small JSON value (floats included), for fields the policy must carry through untouched.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Fields the policy does not know, to be carried through byte for byte.
fn extra_fields() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("x-[a-z]{1,5}", any_json(), 0..3)
        .prop_map(|map| map.into_iter().collect())
}

/// Images that match the test rules, images that do not, and strings that are not images.
fn container_image() -> impl Strategy<Value = Option<String>> {
    let pool = select(vec![
        "reg.example/app:1",
        "Reg.Example/team/app",
        "eu.corp.example/api@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        "acme/tools/cli:2",
        "docker.io/acme/app",
        "nginx:1.27",
        "quay.io/app",
        "reg.example.evil.com/app",
        "evil.com/reg.example/app",
        "reg.example/UPPER",
        "not an image",
        "",
    ]);
    prop_oneof![
        6 => pool.prop_map(|image| Some(image.to_string())),
        2 => reference().prop_map(Some),
        1 => Just(None),
    ]
}

fn container() -> impl Strategy<Value = Value> {
    ("[a-z]{1,6}", container_image(), extra_fields()).prop_map(|(name, image, extra)| {
        let mut container = extra;
        container.insert("name".into(), Value::from(name));
        if let Some(image) = image {
            container.insert("image".into(), Value::from(image));
        }
        Value::Object(container)
    })
}

fn pod_spec() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(container(), 0..4),
        prop::option::of(prop::collection::vec(container(), 0..2)),
        prop_oneof![
            1 => Just(None),
            1 => Just(Some(Value::Null)),
            3 => prop::collection::vec(pull_secret_entry(), 0..4).prop_map(|l| Some(Value::Array(l))),
        ],
        prop::option::of(select(vec!["builder", "", "default"])),
        extra_fields(),
    )
        .prop_map(|(containers, init, pull_secrets, account, extra)| {
            let mut spec = extra;
            spec.insert("containers".into(), Value::Array(containers));
            if let Some(init) = init {
                spec.insert("initContainers".into(), Value::Array(init));
            }
            if let Some(pull_secrets) = pull_secrets {
                spec.insert("imagePullSecrets".into(), pull_secrets);
            }
            if let Some(account) = account {
                spec.insert("serviceAccountName".into(), Value::from(account));
            }
            Value::Object(spec)
        })
}

/// A Pod or Deployment request (group, kind, operation, object, pod spec pointer).
fn workload_request() -> impl Strategy<Value = (Value, &'static str)> {
    (
        any::<bool>(),
        any::<bool>(),
        pod_spec(),
        extra_fields(),
        extra_fields(),
    )
        .prop_map(|(is_pod, update, spec, top_extra, metadata_extra)| {
            let mut metadata = metadata_extra;
            metadata.insert("name".into(), json!("w"));
            metadata.insert("namespace".into(), json!("team-a"));
            let mut object = top_extra;
            object.insert("metadata".into(), Value::Object(metadata));
            let (group, kind, operation, pointer) = if is_pod {
                object.insert("apiVersion".into(), json!("v1"));
                object.insert("spec".into(), spec);
                ("", "Pod", "CREATE", "/spec")
            } else {
                object.insert("apiVersion".into(), json!("apps/v1"));
                object.insert(
                    "spec".into(),
                    json!({"replicas": 2, "selector": {"matchLabels": {"app": "w"}},
                           "template": {"metadata": {"labels": {"app": "w"}}, "spec": spec}}),
                );
                let operation = if update { "UPDATE" } else { "CREATE" };
                ("apps", "Deployment", operation, "/spec/template/spec")
            };
            object.insert("kind".into(), json!(kind));
            let request = json!({
                "uid": "0b5e", "kind": {"group": group, "version": "v1", "kind": kind},
                "operation": operation, "namespace": "team-a", "object": object
            });
            (request, pointer)
        })
}

fn without_pull_secrets(mut object: Value, pointer: &str) -> Value {
    if let Some(spec) = object.pointer_mut(pointer).and_then(Value::as_object_mut) {
        spec.remove("imagePullSecrets");
    }
    object
}

/// Integration tests have no `lib.rs` beside them for proptest's regression files: no persistence.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn normalisation_is_idempotent(reference in reference()) {
        let parsed = ImageRef::parse(&reference);
        prop_assert!(parsed.is_ok(), "{reference} should parse: {parsed:?}");
        let parsed = parsed.unwrap();
        let normalised = parsed.to_string();
        prop_assert_eq!(ImageRef::parse(&normalised), Ok(parsed), "{} -> {}", reference, normalised);
    }

    #[test]
    fn reference_and_its_normalised_form_match_the_same_rules(reference in reference()) {
        let parsed = ImageRef::parse(&reference).expect("generated references are valid");
        let normalised = ImageRef::parse(&parsed.to_string()).expect("normalised form parses");
        prop_assert_eq!(matching_rules(&parsed), matching_rules(&normalised), "{}", reference);
    }

    #[test]
    fn every_docker_hub_spelling_matches_the_same_rules(
        (repository, official) in hub_repository(),
        suffix in version_suffix(),
    ) {
        let spellings = hub_spellings(&repository, official, &suffix);
        let canonical = ImageRef::parse(&spellings[0]).expect("bare spelling parses");
        prop_assert_eq!(canonical.registry(), DOCKER_HUB);
        let expected = matching_rules(&canonical);
        for spelling in &spellings {
            let image = ImageRef::parse(spelling);
            prop_assert_eq!(image.as_ref(), Ok(&canonical), "{}", spelling);
            prop_assert_eq!(matching_rules(image.as_ref().unwrap()), expected.clone(), "{}", spelling);
        }
    }

    #[test]
    fn registry_rule_never_matches_a_look_alike_host(
        (labels, port) in rule_host(),
        how in select(LOOK_ALIKES.to_vec()),
        salt in DNS_LABEL,
    ) {
        let host = labels.join(".") + &port_suffix(port);
        let pattern = RegistryPattern::parse(&host).expect("generated hosts are valid patterns");
        let look_alike = look_alike_image(&labels, port, how, &salt);
        let image = ImageRef::parse(&look_alike);
        prop_assert!(image.is_ok(), "{look_alike} should parse: {image:?}");
        prop_assert!(!pattern.matches(&image.unwrap()), "{host} matched {look_alike} ({how:?})");
    }

    #[test]
    fn registry_rule_matches_its_own_host_in_any_case(
        (labels, port) in rule_host(),
        pattern_case in any::<u64>(),
        image_case in any::<u64>(),
        path in prop::collection::vec(PATH_COMPONENT, 1..=3),
    ) {
        let host = labels.join(".") + &port_suffix(port);
        let pattern = RegistryPattern::parse(&with_case(&host, pattern_case)).expect("valid pattern");
        let image = format!("{}/{}", with_case(&host, image_case), path.join("/"));
        prop_assert!(pattern.matches(&ImageRef::parse(&image).expect("valid image")), "{host} vs {image}");
    }

    #[test]
    fn merging_is_idempotent_keeps_existing_entries_and_adds_each_name_once(
        existing in existing_pull_secrets(),
        inherited in prop::collection::vec(secret_name(), 0..4),
        wanted in prop::collection::vec(secret_name(), 0..5),
    ) {
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let entries: &[Value] = match &existing {
            Some(Value::Array(entries)) => entries,
            _ => &[],
        };
        let Some(merged) = merged_pull_secrets(existing.as_ref(), &inherited, &wanted) else {
            for name in &wanted {
                prop_assert!(entries.iter().any(|e| entry_name(e) == Some(name)), "{name} is missing but nothing was added");
            }
            return Ok(());
        };
        prop_assert_eq!(&merged[..entries.len()], entries, "existing entries are a prefix, in order");
        for added in &merged[entries.len()..] {
            let name = entry_name(added);
            prop_assert_eq!(added, &json!({ "name": name }), "added entries are {{\"name\": ...}}");
            let copies = merged.iter().filter(|e| entry_name(e) == name).count();
            prop_assert_eq!(copies, 1, "{:?} added more than once: {:?}", name, merged);
            let from_service_account = entries.is_empty() && inherited.iter().any(|i| Some(i.as_str()) == name);
            prop_assert!(from_service_account || wanted.iter().any(|w| Some(*w) == name));
        }
        for name in &wanted {
            prop_assert!(merged.iter().any(|e| entry_name(e) == Some(name)), "{name} was not added");
        }
        let again = merged_pull_secrets(Some(&Value::Array(merged.clone())), &inherited, &wanted);
        prop_assert_eq!(again, None, "merging {:?} again changed it", merged);
    }

    #[test]
    fn mutated_object_equals_the_input_except_at_image_pull_secrets(
        (request, pointer) in workload_request(),
    ) {
        let settings = json!({"verifySecrets": false, "rules": [
            {"secret": "corp", "registries": ["reg.example", "*.corp.example"]},
            {"secret": "hub", "images": ["acme/**"]},
            {"secret": "dockerhub", "registries": ["docker.io"], "onMissingSecret": "skip"}
        ]});
        let payload = serde_json::to_vec(&json!({"settings": settings, "request": request})).unwrap();
        let answer = image_pull_secrets::respond(&payload, &mut EmptyCluster);
        let response: Value = serde_json::from_slice(&answer).unwrap();
        prop_assert_eq!(&response["accepted"], &json!(true), "rejected: {}", response["message"]);
        if let Some(mutated) = response.get("mutated_object").filter(|o| !o.is_null()).cloned() {
            // Compare with the object as the policy read it (floats go through the same parser).
            let sent: Value = serde_json::from_slice(&payload).unwrap();
            let original = sent["request"]["object"].clone();
            let before = match original.pointer(pointer).and_then(|s| s.get("imagePullSecrets")) {
                Some(Value::Array(entries)) => entries.clone(),
                _ => Vec::new(),
            };
            let after = mutated.pointer(pointer).and_then(|s| s.get("imagePullSecrets")).cloned();
            let Some(Value::Array(after)) = after else {
                return Err(TestCaseError::fail(format!("imagePullSecrets is not a list: {after:?}")));
            };
            prop_assert!(after.len() > before.len() && after.starts_with(&before), "{before:?} -> {after:?}");
            prop_assert_eq!(without_pull_secrets(mutated, pointer), without_pull_secrets(original, pointer));
        }
    }
}

/// Found by `normalisation_is_idempotent` (minimal input `A/a`): Docker reads an upper-case first
/// component as a registry host (`Corp/app` pulls from `Corp`); its normalised form must not read
/// as Docker Hub's `corp/app`.
#[test]
fn dotless_upper_case_registry_round_trips() {
    let parsed = ImageRef::parse("Corp/app").unwrap();
    assert_eq!((parsed.registry(), parsed.repository()), ("corp", "app"));
    assert_eq!(ImageRef::parse(&parsed.to_string()), Ok(parsed));
}

/// Found by the `request_bytes` fuzz target (input `8`): `respond` used to index the payload with
/// `payload["settings"]`, which panics on a JSON value that is neither an object nor null (in the
/// wasm module, an abort instead of a 400 answer).
#[rstest::rstest]
#[case::number("8")]
#[case::string("\"x\"")]
#[case::list("[]")]
#[case::boolean("true")]
fn non_object_payload_is_rejected_not_a_panic(#[case] payload: &str) {
    let answer = image_pull_secrets::respond(payload.as_bytes(), &mut EmptyCluster);
    let response: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(
        (&response["accepted"], &response["code"]),
        (&json!(false), &json!(400))
    );
}
