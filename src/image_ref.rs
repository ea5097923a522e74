//! Image reference normalisation: the one canonical form (`registry/repository`) in which images
//! and patterns are compared. The grammar is checked by [`crate::reference`] (equal to oci-spec's
//! distribution `Reference`); this module splits the registry off as Docker and the kubelet do and
//! normalises it (case-folded hosts, Docker Hub aliases, `library/`). It also keeps the name as
//! the kubelet looks up pull credentials for it, where only distribution's own normalisation applies.

use std::borrow::Cow;
use std::fmt;

use crate::reference::{self, ReferenceError};
use crate::registry_host::{
    canonical_registry, distribution_domain, names_registry, split_docker_domain, takes_library,
    DOCKER_HUB, OFFICIAL_NAMESPACE,
};

/// An image reference reduced to what pull-secret matching looks at: tag and digest are dropped.
///
/// Two references are equal when rules see them alike (`registry` and `repository`); the name the
/// kubelet looks credentials up under ([`ImageRef::kubelet_registry`]) may still differ.
///
/// For example `registry-1.docker.io/nginx:1.27` is `docker.io/library/nginx` to rules, and the
/// kubelet looks its credentials up under `registry-1.docker.io` for `nginx`.
#[derive(Debug, Clone)]
pub struct ImageRef {
    registry: String,
    repository: String,
    kubelet_registry: String,
    kubelet_repository: String,
}

impl PartialEq for ImageRef {
    fn eq(&self, other: &Self) -> bool {
        (&self.registry, &self.repository) == (&other.registry, &other.repository)
    }
}

impl Eq for ImageRef {}

impl ImageRef {
    /// Parses and normalises an image reference as the kubelet would pull it; the error is the
    /// reference grammar's.
    pub fn parse(image: &str) -> Result<ImageRef, ReferenceError> {
        let parsed = reference::parse(image)?;
        let (registry, repository) = split_docker_domain(parsed.name);
        Ok(ImageRef::from_parts(registry, repository))
    }

    /// Builds a reference from an already split registry and repository, applying the
    /// normalisation rules (host case, Docker Hub aliases, `library/`).
    pub fn from_parts(registry: &str, repository: &str) -> ImageRef {
        // distribution's `splitDockerDomain`: only the exact legacy host `index.docker.io`
        // becomes `docker.io`, nothing is case-folded.
        let kubelet_registry = distribution_domain(registry);
        let registry = canonical_registry(registry);
        ImageRef {
            repository: with_library(&registry, repository),
            registry,
            kubelet_repository: with_library(kubelet_registry, repository),
            kubelet_registry: kubelet_registry.to_string(),
        }
    }

    /// The registry host as the kubelet looks credentials up for it (distribution's
    /// `ParseNormalizedNamed`): as written, case kept, `docker.io` for a name without a host and
    /// for exactly `index.docker.io`; `registry-1.docker.io` stays itself.
    pub fn kubelet_registry(&self) -> &str {
        &self.kubelet_registry
    }

    /// The repository path that goes with [`ImageRef::kubelet_registry`]; `library/` is added
    /// only on `docker.io`.
    pub fn kubelet_repository(&self) -> &str {
        &self.kubelet_repository
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
        let registry = match self.registry != DOCKER_HUB && !names_registry(&self.registry) {
            true => Cow::Owned(self.registry.to_ascii_uppercase()),
            false => Cow::Borrowed(self.registry.as_str()),
        };
        write!(f, "{registry}/{}", self.repository)
    }
}

/// `library/` before a single-name Docker Hub repository.
fn with_library(registry: &str, repository: &str) -> String {
    if takes_library(registry, repository) {
        format!("{OFFICIAL_NAMESPACE}/{repository}")
    } else {
        repository.to_string()
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
    #[case::upper_case_host("Reg.Example/app", "reg.example", "app")]
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

    #[test]
    fn an_upper_case_only_registry_is_shown_in_upper_case() {
        assert_eq!(
            ImageRef::parse("Corp/app:1").unwrap().to_string(),
            "CORP/app"
        );
    }

    // distribution: ParseNormalizedNamed / splitDockerDomain, the name the kubelet's Lookup gets.
    #[rstest]
    #[case::single_name("nginx", "docker.io", "library/nginx")]
    #[case::hub_namespace("acme/app", "docker.io", "acme/app")]
    #[case::explicit_docker_io("docker.io/nginx", "docker.io", "library/nginx")]
    #[case::index_becomes_docker_io("index.docker.io/nginx", "docker.io", "library/nginx")]
    #[case::upper_case_index_is_kept("Index.Docker.io/nginx", "Index.Docker.io", "nginx")]
    #[case::registry_1_is_kept("registry-1.docker.io/acme/app", "registry-1.docker.io", "acme/app")]
    #[case::registry_1_gets_no_library(
        "registry-1.docker.io/busybox",
        "registry-1.docker.io",
        "busybox"
    )]
    #[case::host_case_kept("Reg.Example:5000/app", "Reg.Example:5000", "app")]
    #[case::upper_case_dotless_host("Corp/app", "Corp", "app")]
    fn kubelet_name_is_distributions(
        #[case] image: &str,
        #[case] registry: &str,
        #[case] repository: &str,
    ) {
        let parsed = ImageRef::parse(image).expect("valid reference");
        assert_eq!(parsed.kubelet_registry(), registry, "{image}");
        assert_eq!(parsed.kubelet_repository(), repository, "{image}");
    }
}
