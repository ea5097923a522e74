//! Property tests for the pure core: normalisation and matching.
//! Generators follow the distribution reference grammar; each property is named for what it pins.

use image_pull_secrets::{canonical_registry, ImageRef, RegistryPattern, DOCKER_HUB};
use proptest::prelude::*;
use proptest::sample::select;

const CASES: u32 = 256;

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
    /// Rules match an image by its registry and repository alone, so one image for every
    /// spelling means every spelling matches the same rules.
    fn every_docker_hub_spelling_is_one_image(
        (repository, official) in hub_repository(),
        suffix in version_suffix(),
    ) {
        let spellings = hub_spellings(&repository, official, &suffix);
        let canonical = ImageRef::parse(&spellings[0]).expect("bare spelling parses");
        prop_assert_eq!(canonical.registry(), DOCKER_HUB);
        for spelling in &spellings {
            prop_assert_eq!(ImageRef::parse(spelling), Ok(canonical.clone()), "{}", spelling);
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
}
