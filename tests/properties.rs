//! Property tests for the pure core: every Docker Hub spelling of an image is one image, and a
//! registry rule matches exactly its own host. (That a normalised image parses back to itself is
//! checked with the grammar, in tests/reference_oracle.rs.)

use image_pull_secrets::{ImageRef, RegistryPattern, DOCKER_HUB};
use proptest::prelude::*;
use proptest::sample::select;

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, kept short.
const PATH_COMPONENT: &str = "[a-z0-9]{1,6}((\\.|_|__|-{1,2})[a-z0-9]{1,5}){0,2}";

/// Flips the case of the ASCII letters of `text` where `mask` (cycled) has a set bit.
fn with_case(text: &str, mask: u64) -> String {
    let flip = |(i, c): (usize, char)| match mask >> (i % 64) & 1 {
        1 => c.to_ascii_uppercase(),
        _ => c,
    };
    text.chars().enumerate().map(flip).collect()
}

/// A Docker Hub repository and whether it is official (single name, implicit `library/`); a
/// namespace never reads as a registry host (no dot, not `localhost`).
fn hub_repository() -> impl Strategy<Value = (String, bool)> {
    let namespace = "[a-z0-9]{1,6}((_|__|-{1,2})[a-z0-9]{1,5}){0,2}"
        .prop_filter("a namespace", |n| n != "localhost");
    let namespaced = (namespace, prop::collection::vec(PATH_COMPONENT, 1..=2));
    prop_oneof![
        PATH_COMPONENT.prop_map(|name| (name, true)),
        namespaced.prop_map(|(namespace, rest)| (format!("{namespace}/{}", rest.join("/")), false)),
    ]
}

/// A registry host from a small alphabet, so that two draws often coincide or differ by one
/// label, a letter, a dash or a port: 1–3 labels with an optional port (a single label without
/// port is a Docker Hub namespace unless it is `localhost`).
fn host() -> impl Strategy<Value = String> {
    let labels = prop::collection::vec(
        select(vec!["reg", "xreg", "regx", "reg-x", "example", "localhost"]),
        1..=3,
    );
    let port = prop::option::of(select(vec![80u16, 5000, 5001]));
    (labels, port)
        .prop_map(|(labels, port)| {
            labels.join(".") + &port.map(|p| format!(":{p}")).unwrap_or_default()
        })
        .prop_filter("a registry", |host| {
            host.contains(['.', ':']) || host == "localhost"
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Rules match an image by its registry and repository alone, so one image for every
    /// spelling means every spelling matches the same rules.
    #[test]
    fn every_docker_hub_spelling_is_one_image(
        (repository, official) in hub_repository(),
        host in select(vec!["", "docker.io/", "index.docker.io/", "registry-1.docker.io/"]),
        (library, case) in (any::<bool>(), any::<u64>()),
        suffix in "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,12})?(@sha256:[0-9a-f]{64})?",
    ) {
        let library = if official && library { "library/" } else { "" };
        let spelling = format!("{}{library}{repository}{suffix}", with_case(host, case));
        let image = ImageRef::parse(&spelling).expect("a valid reference");
        prop_assert_eq!(image.registry(), DOCKER_HUB);
        prop_assert_eq!(image, ImageRef::parse(&repository).unwrap(), "{}", spelling);
    }

    #[test]
    fn registry_rule_matches_exactly_its_own_host_in_any_case(
        (rule, other) in (host(), host()),
        (rule_case, image_case) in (any::<u64>(), any::<u64>()),
        path in prop::collection::vec(PATH_COMPONENT, 1..=3),
    ) {
        let pattern = RegistryPattern::parse(&with_case(&rule, rule_case)).expect("a valid pattern");
        let image = format!("{}/{}", with_case(&other, image_case), path.join("/"));
        let matched = pattern.matches(&ImageRef::parse(&image).expect("a valid image"));
        prop_assert_eq!(matched, rule == other, "{} vs {}", rule, image);
    }
}
