//! Registry and image patterns, compiled once from the settings and matched against normalised
//! image references. Hosts are compared label by label, paths segment by segment, so a look-alike
//! (`reg.example.evil.com`, `evil.com/reg.example/app`) can never match by prefix.

use std::fmt;

use crate::image_ref::ImageRef;
use crate::reference::is_path_component;
use crate::registry_host::{
    canonical_registry, is_dns_label, is_docker_hub_alias, names_registry, parse_port, split_port,
    PortError, DOCKER_HUB, OFFICIAL_NAMESPACE,
};

/// A registry or image pattern from the settings that does not compile: the pattern as written
/// and what is wrong with it. Its `Display` is the whole sentence, naming the pattern and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    pub pattern: String,
    /// What is wrong and how to write it instead, from the pieces cut from the pattern.
    problem: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" {}", self.pattern, self.problem)
    }
}

impl std::error::Error for PatternError {}

/// The error for `pattern`: what is wrong with it, and how to write it.
fn error(pattern: &str, problem: String) -> PatternError {
    PatternError {
        pattern: pattern.to_string(),
        problem,
    }
}

/// One DNS label of a host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Label {
    Exact(String),
    /// `*`: exactly one label.
    Any,
}

/// A registry host with an optional port, where `*` stands for exactly one DNS label.
/// `*.corp.example` matches `eu.corp.example/app`, not `corp.example/app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPattern {
    labels: Vec<Label>,
    port: Option<String>,
}

impl RegistryPattern {
    /// Compiles a `host[:port]` pattern; the error says what is wrong and how to write it.
    pub fn parse(pattern: &str) -> Result<RegistryPattern, PatternError> {
        Self::compile(pattern).map_err(|problem| error(pattern, problem))
    }

    fn compile(pattern: &str) -> Result<RegistryPattern, String> {
        if pattern.is_empty() {
            return Err("is empty; write a registry host such as \"registry.example.com\"".into());
        }
        if let Some((_, rest)) = pattern.split_once("://") {
            let host = rest.split('/').next().unwrap_or_default();
            return Err(format!("is a URL, not a registry host; write \"{host}\""));
        }
        if let Some((host, path)) = pattern.split_once('/') {
            return Err(format!(
                "has a path (\"/{path}\"); registries take a host only: write \"{host}\", \
                 or put the repository glob under images"
            ));
        }
        if pattern.contains('@') {
            return Err("has a digest; write the registry host only".into());
        }
        let (host, port) = split_port(pattern);
        match port.map(|port| (port, parse_port(port))) {
            Some((port, Err(PortError::NotANumber))) => {
                return Err(format!(
                    "has \":{port}\" after the host, which is not a port number; \
                     registries take host[:port] without tag"
                ))
            }
            Some((port, Err(PortError::OutOfRange))) => {
                return Err(format!(
                    "has the port {port}, which is not from 1 to 65535; write the port \
                     the registry listens on"
                ))
            }
            _ => {}
        }
        let host = canonical_registry(host);
        let labels = host
            .split('.')
            .map(|label| match label {
                "*" => Ok(Label::Any),
                _ if is_dns_label(label) => Ok(Label::Exact(label.to_string())),
                _ if label.contains('*') => Err(format!(
                    "has the label \"{label}\"; '*' must stand alone for exactly one DNS label, \
                     as in \"*.example.com\""
                )),
                _ => Err(format!(
                    "has the label \"{label}\", which is not a DNS label (letters, digits, '-')"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RegistryPattern {
            labels,
            port: port.map(str::to_string),
        })
    }

    /// Whether the pattern matches the normalised registry of `image`.
    pub fn matches(&self, image: &ImageRef) -> bool {
        self.matches_registry(image.registry())
    }

    /// Whether the pattern matches a normalised `host[:port]`.
    pub fn matches_registry(&self, registry: &str) -> bool {
        let (host, port) = split_port(registry);
        if port != self.port.as_deref() {
            return false;
        }
        let mut labels = host.split('.');
        let all_equal = self.labels.iter().all(|pattern| match labels.next() {
            Some(label) => match pattern {
                Label::Any => !label.is_empty(),
                Label::Exact(exact) => exact == label,
            },
            None => false,
        });
        all_equal && labels.next().is_none()
    }
}

/// One path segment of an image pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: one or more segments.
    OneOrMore,
}

/// A repository glob normalised like an image: `nginx` means `docker.io/library/nginx`,
/// `acme/*` means `docker.io/acme/*`. `*` is one path segment, `**` one or more, so `acme/**`
/// matches `docker.io/acme/tools/cli:1` but not `acme`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePattern {
    registry: RegistryPattern,
    segments: Vec<Segment>,
}

impl ImagePattern {
    /// Compiles an image glob; the error says what is wrong and how to write it.
    pub fn parse(pattern: &str) -> Result<ImagePattern, PatternError> {
        Self::compile(pattern).map_err(|problem| error(pattern, problem))
    }

    fn compile(pattern: &str) -> Result<ImagePattern, String> {
        if pattern.is_empty() {
            return Err(
                "is empty; write a repository glob such as \"registry.example.com/team/*\"".into(),
            );
        }
        if let Some((_, without_scheme)) = pattern.split_once("://") {
            return Err(format!("has a URL scheme; write \"{without_scheme}\""));
        }
        if let Some((name, digest)) = pattern.split_once('@') {
            return Err(format!(
                "has a digest (\"@{digest}\"); patterns match repositories: write \"{name}\""
            ));
        }
        let bare_host = split_port(pattern).0;
        if !pattern.contains('/') && (bare_host.contains('.') || bare_host == "localhost") {
            return Err(format!(
                "names a registry, not a repository; put \"{pattern}\" under registries, \
                 or write \"{pattern}/**\""
            ));
        }
        let (registry, path) = match pattern.split_once('/') {
            Some((first, rest)) if names_registry(first) => (first, rest),
            _ => (DOCKER_HUB, pattern),
        };
        let last_segment = path.rsplit('/').next().unwrap_or(path);
        if let Some((_, tag)) = last_segment.split_once(':') {
            let untagged = &pattern[..pattern.len() - tag.len() - 1];
            return Err(format!(
                "has a tag (\":{tag}\"); patterns match repositories: write \"{untagged}\""
            ));
        }
        let registry = RegistryPattern::compile(registry)?;
        let mut segments = path
            .split('/')
            .map(|segment| match segment {
                "*" => Ok(Segment::One),
                "**" => Ok(Segment::OneOrMore),
                "" => Err("has an empty path segment (\"//\" or a leading or trailing '/')".into()),
                _ if segment.contains('*') => Err(format!(
                    "has the segment \"{segment}\"; '*' and '**' must be whole path segments, \
                     as in \"team/*\""
                )),
                _ if segment.bytes().any(|b| b.is_ascii_uppercase()) => Err(format!(
                    "has the segment \"{segment}\"; repository paths are lower-case: write \"{}\"",
                    segment.to_ascii_lowercase()
                )),
                _ if is_path_component(segment) => Ok(Segment::Exact(segment.to_string())),
                _ => Err(format!(
                    "has the segment \"{segment}\", which is not a repository path component \
                     (lower-case letters and digits, separated by '.', '_', '__' or '-')"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let on_docker_hub = registry.matches_registry(DOCKER_HUB)
            && registry.labels.iter().all(|l| l != &Label::Any);
        if on_docker_hub && segments.len() == 1 && segments[0] != Segment::OneOrMore {
            segments.insert(0, Segment::Exact(OFFICIAL_NAMESPACE.into()));
        }
        Ok(ImagePattern { registry, segments })
    }

    /// Whether a normalised image matches: registry label by label, then the path glob.
    pub fn matches(&self, image: &ImageRef) -> bool {
        self.registry.matches(image) && glob_matches(&self.segments, image.repository())
    }
}

/// Whether a registry pattern, as written, may match the normalised `host[:port]` `registry`:
/// a test without compiling or allocating that never says no where the compiled pattern
/// ([`RegistryPattern::matches_registry`]) says yes. Patterns it cannot judge cheaply (globs,
/// anything malformed) may match.
pub(crate) fn registry_may_match(pattern: &str, registry: &str) -> bool {
    // Bytes, not a char set: this runs for every pattern of every rule on every request.
    if pattern.bytes().any(|b| b == b'/' || b == b'@') {
        return true;
    }
    let ((pattern_host, pattern_port), (host, port)) = (split_port(pattern), split_port(registry));
    if pattern_port != port {
        return false;
    }
    if host == DOCKER_HUB && is_docker_hub_alias(pattern_host) {
        return true;
    }
    if !pattern_host.contains('*') {
        return pattern_host.eq_ignore_ascii_case(host);
    }
    // Label by label, `*` standing for any one label, case aside (as `canonical_registry` folds).
    let mut labels = host.split('.');
    let all_may_match = pattern_host.split('.').all(|pattern| match labels.next() {
        Some(label) => pattern.contains('*') || pattern.eq_ignore_ascii_case(label),
        None => false,
    });
    all_may_match && labels.next().is_none()
}

/// The same for an image pattern: its registry (written first, or Docker Hub) may match.
pub(crate) fn image_may_match(pattern: &str, registry: &str) -> bool {
    match pattern.split_once('/') {
        Some((first, _)) if names_registry(first) => registry_may_match(first, registry),
        _ => registry == DOCKER_HUB,
    }
}

/// Segment glob over a repository path, by dynamic programming (no backtracking blow-up).
fn glob_matches(pattern: &[Segment], repository: &str) -> bool {
    let path: Vec<&str> = repository.split('/').collect();
    // reachable[j]: the pattern prefix consumed so far can match path[..j].
    let mut reachable = vec![false; path.len() + 1];
    reachable[0] = true;
    for segment in pattern {
        let mut next = vec![false; path.len() + 1];
        for j in 0..path.len() {
            if !reachable[j] {
                continue;
            }
            match segment {
                Segment::Exact(exact) => next[j + 1] |= exact == path[j],
                Segment::One => next[j + 1] = true,
                Segment::OneOrMore => next[j + 1..].iter_mut().for_each(|cell| *cell = true),
            }
        }
        reachable = next;
    }
    reachable[path.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const PATTERN_PARTS: [&str; 12] = [
        "reg.example",
        "REG.Example",
        "*.corp.example",
        "eu.corp.example",
        "docker.io",
        "Index.Docker.IO",
        "registry-1.docker.io",
        "localhost",
        "reg.example:5000",
        "reg.example:05000",
        "*",
        "a*b.example",
    ];
    const PATHS: [&str; 5] = ["", "/acme/**", "/library/nginx", "/*", "/team/app"];
    const IMAGES: [&str; 10] = [
        "reg.example/app:1",
        "REG.example/app",
        "reg.example:5000/a/b",
        "eu.corp.example/x",
        "nginx",
        "acme/tools/cli",
        "docker.io/library/nginx",
        "index.docker.io/acme/x",
        "localhost/app",
        "a.b.corp.example/x",
    ];

    proptest::proptest! {
        /// The cheap test never says no where the compiled pattern says yes, for registry
        /// patterns and image patterns, valid or not.
        #[test]
        fn may_match_never_misses_a_match(
            part in proptest::sample::select(PATTERN_PARTS.to_vec()),
            path in proptest::sample::select(PATHS.to_vec()),
            bare in proptest::sample::select(vec!["nginx", "acme/**", "acme/*/cli", "**"]),
            image in proptest::sample::select(IMAGES.to_vec()),
        ) {
            let image = ImageRef::parse(image).unwrap();
            if RegistryPattern::parse(part).is_ok_and(|p| p.matches(&image)) {
                proptest::prop_assert!(registry_may_match(part, image.registry()), "{} {:?}", part, image);
            }
            for pattern in [format!("{part}{path}"), bare.to_string()] {
                if ImagePattern::parse(&pattern).is_ok_and(|p| p.matches(&image)) {
                    proptest::prop_assert!(image_may_match(&pattern, image.registry()), "{} {:?}", pattern, image);
                }
            }
        }
    }

    #[rstest]
    #[case::other_host("reg.example", "other.example", false)]
    #[case::case_folded("REG.example", "reg.example", true)]
    #[case::docker_hub_alias("index.docker.io", "docker.io", true)]
    #[case::glob("*.corp.example", "eu.corp.example", true)]
    #[case::glob_other_domain("*.corp.example", "other.example", false)]
    #[case::glob_one_label("*.corp.example", "a.b.corp.example", false)]
    fn may_match_rules_out_other_hosts(
        #[case] pattern: &str,
        #[case] registry: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(registry_may_match(pattern, registry), expected);
    }

    fn image(reference: &str) -> ImageRef {
        ImageRef::parse(reference).expect("valid test image")
    }

    #[rstest]
    #[case::exact_host("reg.example", "reg.example/app", true)]
    #[case::same_port("reg.example:5000", "reg.example:5000/app", true)]
    #[case::other_port("reg.example:5000", "reg.example:5001/app", false)]
    #[case::wildcard_one_label("*.corp.example", "eu.corp.example/app", true)]
    #[case::wildcard_not_two_labels("*.corp.example", "a.eu.corp.example/app", false)]
    #[case::wildcard_not_zero_labels("*.corp.example", "corp.example/app", false)]
    #[case::wildcard_with_port("*.corp.example:5000", "eu.corp.example:5000/app", true)]
    #[case::wildcard_port_mismatch("*.corp.example", "eu.corp.example:5000/app", false)]
    #[case::hub_matches_single_name("docker.io", "nginx", true)]
    #[case::hub_matches_namespace("docker.io", "acme/app", true)]
    #[case::hub_alias_pattern("index.docker.io", "nginx", true)]
    #[case::hub_pattern_matches_alias_image("docker.io", "registry-1.docker.io/acme/app", true)]
    #[case::hub_does_not_match_other("docker.io", "quay.io/app", false)]
    #[case::localhost("localhost:5000", "localhost:5000/app", true)]
    #[case::localhost_tagged("localhost:5000", "localhost:5000/dev/app:latest", true)]
    #[case::hub_matches_tagged_single_name("docker.io", "nginx:1.27", true)]
    #[case::hub_index_alias_image("docker.io", "index.docker.io/acme/api:3.0.1", true)]
    #[case::hub_registry_1_official_image(
        "docker.io",
        "registry-1.docker.io/library/redis:7.4-alpine",
        true
    )]
    #[case::hub_suffix_look_alike("docker.io", "docker.io.evil.com/library/nginx:1.27", false)]
    #[case::port_and_digest_only("registry.corp.example:5000", "registry.corp.example:5000/finance/billing@sha256:4f0c1ab97d4a1e8b5d3c9f2e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b", true)]
    #[case::port_tag_and_digest("registry.corp.example:5000", "registry.corp.example:5000/finance/billing:2.4.1@sha256:4f0c1ab97d4a1e8b5d3c9f2e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b", true)]
    fn registry_pattern(#[case] pattern: &str, #[case] reference: &str, #[case] expected: bool) {
        let compiled = RegistryPattern::parse(pattern).expect("valid pattern");
        assert_eq!(
            compiled.matches(&image(reference)),
            expected,
            "{pattern} vs {reference}"
        );
    }

    #[rstest]
    #[case::single_name_is_official("nginx", "nginx:1.27", true)]
    #[case::single_name_is_not_namespace("nginx", "nginx/nginx", false)]
    #[case::namespace_star("acme/*", "acme/app", true)]
    #[case::namespace_star_explicit_hub("acme/*", "docker.io/acme/app", true)]
    #[case::namespace_star_index_alias("acme/*", "index.docker.io/acme/app", true)]
    #[case::star_is_one_segment("acme/*", "acme/tools/cli", false)]
    #[case::double_star_many("docker.io/acme/**", "acme/tools/cli", true)]
    #[case::double_star_one("docker.io/acme/**", "acme/app", true)]
    #[case::double_star_not_zero("docker.io/acme/**", "acme", false)]
    #[case::double_star_alone_is_all_of_hub("docker.io/**", "nginx", true)]
    #[case::star_alone_is_official("docker.io/*", "nginx", true)]
    #[case::star_alone_not_namespaced("docker.io/*", "acme/app", false)]
    #[case::double_star_middle("reg.example/**/cli", "reg.example/a/b/cli", true)]
    #[case::double_star_middle_needs_one("reg.example/**/cli", "reg.example/cli", false)]
    #[case::registry_port("reg.example:5000/team/*", "reg.example:5000/team/app", true)]
    #[case::registry_port_missing("reg.example:5000/team/*", "reg.example/team/app", false)]
    #[case::wildcard_registry("*.corp.example/team/**", "eu.corp.example/team/app", true)]
    #[case::look_alike_host("reg.example/**", "reg.example.evil.com/app", false)]
    #[case::look_alike_path("reg.example/**", "evil.com/reg.example/app", false)]
    #[case::exact_repository("reg.example/team/app", "reg.example/team/app@sha256:0123456789012345678901234567890123456789012345678901234567890123", true)]
    #[case::segment_prefix_look_alike("reg.example/team/*", "reg.example/teammate/app", false)]
    #[case::hub_namespace_glob_deep("acme/**", "docker.io/acme/tools/cli:1", true)]
    #[case::hub_namespace_glob_not_namespace_itself("acme/**", "acme", false)]
    #[case::double_star_three_segments(
        "registry.corp.example:5000/platform/**",
        "registry.corp.example:5000/platform/tools/ci/runner:17.2",
        true
    )]
    fn image_pattern(#[case] pattern: &str, #[case] reference: &str, #[case] expected: bool) {
        let compiled = ImagePattern::parse(pattern).expect("valid pattern");
        assert_eq!(
            compiled.matches(&image(reference)),
            expected,
            "{pattern} vs {reference}"
        );
    }

    type Parse = fn(&str) -> Result<(), PatternError>;
    const REGISTRY: Parse = |pattern| RegistryPattern::parse(pattern).map(drop);
    const IMAGE: Parse = |pattern| ImagePattern::parse(pattern).map(drop);

    #[rstest]
    #[case::registry_tag_like_port("reg.example:latest", REGISTRY, "has \":latest\" after the host, which is not a port number; registries take host[:port] without tag")]
    #[case::registry_empty(
        "",
        REGISTRY,
        "is empty; write a registry host such as \"registry.example.com\""
    )]
    #[case::registry_partial_wildcard("reg-*.example", REGISTRY, "has the label \"reg-*\"; '*' must stand alone for exactly one DNS label, as in \"*.example.com\"")]
    #[case::registry_underscore(
        "reg_x.example",
        REGISTRY,
        "has the label \"reg_x\", which is not a DNS label (letters, digits, '-')"
    )]
    #[case::registry_empty_label(
        "reg..example",
        REGISTRY,
        "has the label \"\", which is not a DNS label (letters, digits, '-')"
    )]
    #[case::registry_digest(
        "reg.example@sha256",
        REGISTRY,
        "has a digest; write the registry host only"
    )]
    #[case::tag_with_registry(
        "reg.example:5000/app:v1",
        IMAGE,
        "has a tag (\":v1\"); patterns match repositories: write \"reg.example:5000/app\""
    )]
    #[case::scheme(
        "https://reg.example/app",
        IMAGE,
        "has a URL scheme; write \"reg.example/app\""
    )]
    #[case::partial_star(
        "acme/app-*",
        IMAGE,
        "has the segment \"app-*\"; '*' and '**' must be whole path segments, as in \"team/*\""
    )]
    #[case::upper_case(
        "acme/App",
        IMAGE,
        "has the segment \"App\"; repository paths are lower-case: write \"app\""
    )]
    #[case::trailing_slash(
        "acme/",
        IMAGE,
        "has an empty path segment (\"//\" or a leading or trailing '/')"
    )]
    #[case::bad_registry("reg.example:x/app", IMAGE, "has \":x\" after the host, which is not a port number; registries take host[:port] without tag")]
    #[case::bare_registry("reg.example:5000", IMAGE, "names a registry, not a repository; put \"reg.example:5000\" under registries, or write \"reg.example:5000/**\"")]
    #[case::bad_component("acme/-app", IMAGE, "has the segment \"-app\", which is not a repository path component (lower-case letters and digits, separated by '.', '_', '__' or '-')")]
    fn invalid_pattern(#[case] pattern: &str, #[case] parse: Parse, #[case] message: &str) {
        let error = parse(pattern).unwrap_err();
        assert_eq!(error.pattern, pattern);
        assert_eq!(error.to_string(), format!("\"{pattern}\" {message}"));
    }
}

#[cfg(test)]
mod properties {
    //! Property tests for the pure core: every Docker Hub spelling of an image is one image, and a
    //! registry rule matches exactly its own host. (That a normalised image parses back to itself is
    //! checked with the grammar, in `reference::oracle`.)

    use super::RegistryPattern;
    use crate::image_ref::ImageRef;
    use crate::registry_host::DOCKER_HUB;
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
            namespaced
                .prop_map(|(namespace, rest)| (format!("{namespace}/{}", rest.join("/")), false)),
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
}
