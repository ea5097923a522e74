//! Image reference normalisation: the one canonical form (`registry/repository`) in which images
//! and patterns are compared. The grammar is checked by [`crate::reference`] (equal to oci-spec's
//! distribution `Reference`); this module splits the registry off as Docker and the kubelet do and
//! normalises it (case-folded hosts, Docker Hub aliases, `library/`).

use std::fmt;

use crate::reference;

/// The canonical name of Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";

/// Hosts that all mean Docker Hub.
const DOCKER_HUB_ALIASES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// An image reference reduced to what pull-secret matching looks at: tag and digest are dropped.
///
/// ```
/// use image_pull_secrets::image_ref::ImageRef;
/// let image = ImageRef::parse("Index.Docker.io/nginx:1.27").unwrap();
/// assert_eq!(image.to_string(), "docker.io/library/nginx");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
}

/// Why an image string is not a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRefError {
    pub reason: String,
}

impl fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl ImageRef {
    /// Parses and normalises an image reference as the kubelet would pull it.
    pub fn parse(image: &str) -> Result<ImageRef, ImageRefError> {
        let parsed = reference::parse(image).map_err(|e| ImageRefError {
            reason: e.to_string(),
        })?;
        let (registry, repository) = split_registry(parsed.name);
        Ok(ImageRef::from_parts(registry, repository))
    }

    /// Builds a reference from an already split registry and repository, applying the
    /// normalisation rules (host case, Docker Hub aliases, `library/`).
    pub fn from_parts(registry: &str, repository: &str) -> ImageRef {
        let registry = canonical_registry(registry);
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        ImageRef {
            registry,
            repository,
        }
    }

    /// The registry host, lower-cased, with its port if any (`reg.example:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }
}

impl fmt::Display for ImageRef {
    /// `registry/repository`, written so that it parses back to the same reference: a host that
    /// only counts as a registry through Docker's upper-case rule (`Corp/app`) is shown in upper
    /// case, since in lower case it would read as a Docker Hub namespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.registry != DOCKER_HUB && !names_registry(&self.registry) {
            write!(
                f,
                "{}/{}",
                self.registry.to_ascii_uppercase(),
                self.repository
            )
        } else {
            write!(f, "{}/{}", self.registry, self.repository)
        }
    }
}

/// Whether a host (any case, no port) is one of Docker Hub's names.
pub fn is_docker_hub_alias(host: &str) -> bool {
    DOCKER_HUB_ALIASES
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(host))
}

/// Lower-cases a registry host and folds the Docker Hub aliases into `docker.io`.
pub fn canonical_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    if is_docker_hub_alias(&lower) {
        DOCKER_HUB.to_string()
    } else {
        lower
    }
}

/// Splits `host[:port]` into its host and optional port.
pub fn split_port(registry: &str) -> (&str, Option<&str>) {
    match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    }
}

/// Whether a first path component names a registry rather than a Docker Hub namespace.
pub fn names_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// Docker's `splitDockerDomain`: the first component is the registry if it contains `.` or `:`, is
/// `localhost`, or has upper-case letters (which a repository cannot); otherwise it is Docker Hub.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if names_registry(first) || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::single_name_gets_library("nginx", "docker.io", "library/nginx")]
    #[case::tag_dropped("nginx:1.27", "docker.io", "library/nginx")]
    #[case::digest_dropped(
        "nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        "docker.io",
        "library/nginx"
    )]
    #[case::tag_and_digest_dropped(
        "reg.example/app:v1@sha256:0123456789012345678901234567890123456789012345678901234567890123",
        "reg.example",
        "app"
    )]
    #[case::hub_namespace("acme/app", "docker.io", "acme/app")]
    #[case::explicit_hub("docker.io/nginx", "docker.io", "library/nginx")]
    #[case::index_alias("index.docker.io/nginx", "docker.io", "library/nginx")]
    #[case::registry_1_alias("registry-1.docker.io/acme/app", "docker.io", "acme/app")]
    #[case::registry_1_alias_single_name(
        "registry-1.docker.io/busybox",
        "docker.io",
        "library/busybox"
    )]
    #[case::upper_case_host("Reg.Example/app", "reg.example", "app")]
    #[case::upper_case_hub_alias("Index.Docker.IO/nginx", "docker.io", "library/nginx")]
    #[case::upper_case_first_component_is_registry("Corp/app", "corp", "app")]
    #[case::localhost("localhost/app", "localhost", "app")]
    #[case::localhost_port("localhost:5000/app:1", "localhost:5000", "app")]
    #[case::port("reg.example:5000/team/app", "reg.example:5000", "team/app")]
    #[case::dotted_first_component("reg.example/app", "reg.example", "app")]
    #[case::dotless_first_component_is_namespace("corp/app", "docker.io", "corp/app")]
    #[case::deep_path("reg.example/a/b/c/d", "reg.example", "a/b/c/d")]
    #[case::host_looking_tag("test.com:5000", "docker.io", "library/test.com")]
    fn normalises(#[case] image: &str, #[case] registry: &str, #[case] repository: &str) {
        let parsed = ImageRef::parse(image).expect("valid reference");
        assert_eq!(parsed.registry(), registry, "registry of {image}");
        assert_eq!(parsed.repository(), repository, "repository of {image}");
    }

    #[rstest]
    #[case::empty("")]
    #[case::upper_case_repository("reg.example/App")]
    #[case::spaces("nginx latest")]
    #[case::scheme("https://reg.example/app")]
    #[case::trailing_slash("reg.example/app/")]
    #[case::bad_digest("nginx@sha256:abc")]
    fn rejects(#[case] image: &str) {
        assert!(ImageRef::parse(image).is_err(), "{image} should not parse");
    }

    #[test]
    fn upper_case_only_registry_is_shown_in_upper_case() {
        let parsed = ImageRef::parse("Corp/app:1").unwrap();
        assert_eq!(parsed.to_string(), "CORP/app");
        assert_eq!(ImageRef::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn normalised_form_reparses_to_itself() {
        let once = ImageRef::parse("Index.Docker.io/nginx:1").unwrap();
        let twice = ImageRef::parse(&once.to_string()).unwrap();
        assert_eq!(once, twice);
    }

    #[rstest]
    #[case("reg.example:5000", ("reg.example", Some("5000")))]
    #[case("reg.example", ("reg.example", None))]
    fn splits_port(#[case] registry: &str, #[case] expected: (&str, Option<&str>)) {
        assert_eq!(split_port(registry), expected);
    }
}
