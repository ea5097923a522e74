//! One home for the rules about registry hosts: Docker Hub's names, DNS labels, `host[:port]` and
//! ports. Settings, the pattern matcher, the reference grammar, image normalisation and the
//! docker-config reader take them from here, so each rule is written once. Pure: no I/O.
//!
//! Not here: how the kubelet parses the keys of a docker-config Secret (`dockerconfig.rs`). It
//! runs them through Go's `net/url` (`credentialprovider.ParseSchemelessURL`, `SplitURL`,
//! `URLsMatch`), which differs from the reference grammar on purpose: hosts compared case by
//! case, `filepath.Match` globs inside a label, any run of digits (or none) as a port. That module
//! copies those rules to stay exact to the kubelet, and takes only Docker Hub's names from here.

/// Docker Hub's canonical name: where a reference without a registry host is pulled from.
pub const DOCKER_HUB: &str = "docker.io";

/// Docker Hub's legacy index host. distribution (`splitDockerDomain`) rewrites exactly this
/// spelling to [`DOCKER_HUB`], and the kubelet's keyring falls back to a key for it for Docker Hub
/// images (`defaultRegistryHost`, the host of the old `https://index.docker.io/v1/` key).
pub const LEGACY_DOCKER_HUB: &str = "index.docker.io";

/// Docker Hub's namespace for official images: `nginx` is `docker.io/library/nginx`.
pub const OFFICIAL_NAMESPACE: &str = "library";

/// Every host that means Docker Hub to the rules, in any case.
const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, LEGACY_DOCKER_HUB, "registry-1.docker.io"];

/// The longest DNS label (RFC 1123).
const MAX_LABEL_LEN: usize = 63;

/// The longest DNS subdomain (RFC 1123), as Kubernetes checks object names.
const MAX_SUBDOMAIN_LEN: usize = 253;

/// The most digits a port is written with.
const MAX_PORT_DIGITS: usize = 5;

/// Whether a host (any case, no port) is one of Docker Hub's names.
pub fn is_docker_hub_alias(host: &str) -> bool {
    DOCKER_HUB_ALIASES
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(host))
}

/// Lower-cases a registry host and folds Docker Hub's names into [`DOCKER_HUB`].
pub fn canonical_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    if is_docker_hub_alias(&lower) {
        DOCKER_HUB.to_string()
    } else {
        lower
    }
}

/// A domain as distribution normalises it, which is all the kubelet sees: exactly
/// `index.docker.io` becomes `docker.io`; nothing is case-folded and `registry-1.docker.io` stays.
pub fn distribution_domain(domain: &str) -> &str {
    match domain {
        LEGACY_DOCKER_HUB => DOCKER_HUB,
        domain => domain,
    }
}

/// Whether a repository `path` on `domain` (already normalised) is an official Docker Hub image
/// that takes [`OFFICIAL_NAMESPACE`] in front: a single name on `docker.io`.
pub fn takes_library(domain: &str, path: &str) -> bool {
    domain == DOCKER_HUB && !path.contains('/')
}

/// Whether a first path component names a registry (it has `.` or `:`, or is `localhost`) rather
/// than a Docker Hub namespace, leaving aside Docker's upper-case rule.
pub fn names_registry(component: &str) -> bool {
    component.contains(['.', ':']) || component == "localhost"
}

/// Docker's `splitDockerDomain`: the first component of `name` is the registry if it
/// [names a registry](names_registry) or has upper-case letters (which a repository cannot);
/// otherwise the name is on Docker Hub. Returns the domain as written (or [`DOCKER_HUB`]) and
/// the path.
pub fn split_docker_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if names_registry(first) || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

/// Splits `host[:port]` at its last `:` into the host and the port as written.
pub fn split_port(registry: &str) -> (&str, Option<&str>) {
    registry
        .rsplit_once(':')
        .map_or((registry, None), |(host, port)| (host, Some(port)))
}

/// `[0-9]+`: the reference grammar's port, with no range.
pub fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Why a port is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortError {
    /// Not one to five digits.
    NotANumber,
    /// Digits, but 0 or above 65535.
    OutOfRange,
}

/// A TCP port as settings take it: one to five digits, from 1 to 65535.
pub fn parse_port(port: &str) -> Result<u16, PortError> {
    if !is_digits(port) || port.len() > MAX_PORT_DIGITS {
        return Err(PortError::NotANumber);
    }
    match port.parse::<u16>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(PortError::OutOfRange),
    }
}

/// `[a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`: the reference grammar's domain component,
/// any case, any length.
pub fn is_domain_component(label: &str) -> bool {
    !label.is_empty()
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A domain component in lower case, as RFC 1123 names are written in Kubernetes.
fn is_lower_case_label(label: &str) -> bool {
    is_domain_component(label) && !label.bytes().any(|b| b.is_ascii_uppercase())
}

/// An RFC 1123 DNS label in lower case: letters, digits and inner hyphens, at most 63 characters.
pub fn is_dns_label(label: &str) -> bool {
    label.len() <= MAX_LABEL_LEN && is_lower_case_label(label)
}

/// RFC 1123 subdomain, as Kubernetes requires for Secret names (its `IsDNS1123Subdomain`: the
/// whole name is at most 253 characters; labels are not limited one by one).
pub fn check_dns_subdomain(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_SUBDOMAIN_LEN {
        return Err("it is longer than 253 characters");
    }
    if name.split('.').all(is_lower_case_label) {
        Ok(())
    } else {
        Err("use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::docker_io("docker.io", true)]
    #[case::index("index.docker.io", true)]
    #[case::registry_1("registry-1.docker.io", true)]
    #[case::any_case("Index.Docker.IO", true)]
    #[case::look_alike("docker.io.evil.com", false)]
    #[case::with_port("docker.io:443", false)]
    fn docker_hub_names(#[case] host: &str, #[case] expected: bool) {
        assert_eq!(is_docker_hub_alias(host), expected);
        assert_eq!(canonical_registry(host) == DOCKER_HUB, expected);
    }

    #[rstest]
    #[case::lowest("1", Ok(1))]
    #[case::common("5000", Ok(5000))]
    #[case::highest("65535", Ok(65535))]
    #[case::leading_zero("05000", Ok(5000))]
    #[case::zero("0", Err(PortError::OutOfRange))]
    #[case::above_range("65536", Err(PortError::OutOfRange))]
    #[case::five_nines("99999", Err(PortError::OutOfRange))]
    #[case::six_digits("000080", Err(PortError::NotANumber))]
    #[case::empty("", Err(PortError::NotANumber))]
    #[case::letters("http", Err(PortError::NotANumber))]
    #[case::sign("+80", Err(PortError::NotANumber))]
    fn ports(#[case] port: &str, #[case] expected: Result<u16, PortError>) {
        assert_eq!(parse_port(port), expected);
    }

    #[rstest]
    #[case::plain("reg", true)]
    #[case::inner_hyphen("reg-1", true)]
    #[case::longest(&"a".repeat(63), true)]
    #[case::too_long(&"a".repeat(64), false)]
    #[case::upper_case("Reg", false)]
    #[case::leading_hyphen("-reg", false)]
    #[case::trailing_hyphen("reg-", false)]
    #[case::underscore("reg_x", false)]
    #[case::empty("", false)]
    fn dns_labels(#[case] label: &str, #[case] expected: bool) {
        assert_eq!(is_dns_label(label), expected);
    }

    #[rstest]
    #[case::upper_case("Reg", true)]
    #[case::long(&"a".repeat(64), true)]
    #[case::hyphen_edge("reg-", false)]
    #[case::empty("", false)]
    fn domain_components(#[case] label: &str, #[case] expected: bool) {
        assert_eq!(is_domain_component(label), expected);
    }

    #[rstest]
    #[case("a", true)]
    #[case("corp-registry.v2", true)]
    #[case("-a", false)]
    #[case("a..b", false)]
    #[case("A", false)]
    fn secret_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(check_dns_subdomain(name).is_ok(), valid);
    }
}
