//! The distribution reference grammar (`name[:tag][@digest]`), checked by hand in one pass with no
//! allocation. It accepts exactly what oci-spec's `Reference` parser accepts, for ASCII input; a
//! differential property test pins the two together (tests/reference_oracle.rs). oci-spec itself
//! is not linked into the module: its regex costs about 900 KB of wasm and, because PolicyServer
//! starts every request on a fresh instance, a regex compilation of 100 ms or more per request.
//!
//! Deliberate differences, where we follow distribution/reference (`ParseNormalizedNamed`, which
//! the kubelet uses) rather than oci-spec: a tag must be ASCII (Go's `\w`); a bare 64-hex name is
//! refused; digests of known algorithms are lower-case hex (go-digest); the 255 limit counts the
//! path after the domain as `splitDockerDomain` splits it (upper-case dotless hosts included).

use std::fmt;

use crate::registry_host::{
    distribution_domain, is_digits, is_domain_component, split_docker_domain, split_port,
    takes_library, OFFICIAL_NAMESPACE,
};

/// The longest repository path the grammar allows, `library/` included.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A reference split into its parts, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// `[domain/]path`, exactly as written.
    pub name: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Why a string is not a reference; the texts are oci-spec's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceError {
    NameEmpty,
    InvalidFormat,
    NameTooLong,
    DigestInvalidLength,
    DigestUnsupported,
    /// A known algorithm's digest with upper-case hex.
    DigestInvalidFormat,
    /// The whole reference is 64 lower-case hex characters: an image ID, not a name.
    HexIdentifier,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReferenceError::NameEmpty => "repository name must have at least one component",
            ReferenceError::InvalidFormat => "invalid reference format",
            ReferenceError::NameTooLong => "repository name must not be more than 255 characters",
            ReferenceError::DigestInvalidLength => "invalid checksum digest length",
            ReferenceError::DigestUnsupported => "unsupported digest algorithm",
            ReferenceError::DigestInvalidFormat => "invalid checksum digest format",
            ReferenceError::HexIdentifier => {
                "invalid repository name, cannot specify 64-byte hexadecimal strings"
            }
        })
    }
}

/// Parses `name[:tag][@digest]`.
///
/// ```
/// use image_pull_secrets::parse_reference as parse;
/// let parsed = parse("reg.example:5000/team/app:v1").unwrap();
/// assert_eq!((parsed.name, parsed.tag), ("reg.example:5000/team/app", Some("v1")));
/// ```
pub fn parse(reference: &str) -> Result<Reference<'_>, ReferenceError> {
    if reference.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let is_lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if reference.len() == 64 && reference.bytes().all(is_lower_hex) {
        return Err(ReferenceError::HexIdentifier);
    }
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((left, digest)) => (left, Some(digest)),
        None => (reference, None),
    };
    // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
    let (name, tag) = match name_and_tag.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (name_and_tag, None),
    };
    let well_formed =
        is_name(name) && tag.is_none_or(is_tag) && digest.is_none_or(is_digest_format);
    if !well_formed {
        return Err(ReferenceError::InvalidFormat);
    }
    if hub_style_repository_length(name) > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    digest.map_or(Ok(()), check_digest_length)?;
    Ok(Reference { name, tag, digest })
}

/// `[domain "/"] path-component ("/" path-component)*`.
fn is_name(name: &str) -> bool {
    is_remote_name(name)
        || name
            .split_once('/')
            .is_some_and(|(domain, rest)| is_domain(domain) && is_remote_name(rest))
}

fn is_remote_name(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`: runs of `[a-z0-9]`, one separator between two runs.
pub fn is_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    component.starts_with(alnum)
        && component.ends_with(alnum)
        && component.split(alnum).all(|separator| {
            matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-')
        })
}

/// `domain-component ("." domain-component)* [":" [0-9]+]`.
fn is_domain(domain: &str) -> bool {
    let (host, port) = split_port(domain);
    port.is_none_or(is_digits) && host.split('.').all(is_domain_component)
}

/// `[\w][\w.-]{0,127}` with ASCII `\w`.
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `algorithm ":" hex{32,}` where algorithm is `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`.
fn is_digest_format(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_digest_length(digest: &str) -> Result<(), ReferenceError> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestUnsupported),
    };
    if hex.len() != expected {
        Err(ReferenceError::DigestInvalidLength)
    } else if hex.bytes().any(|b| b.is_ascii_uppercase()) {
        Err(ReferenceError::DigestInvalidFormat)
    } else {
        Ok(())
    }
}

/// The path length distribution checks: the path after the domain `splitDockerDomain` finds (one
/// with `.` or `:`, `localhost`, or upper-case letters), with `library/` for single names on Docker Hub.
fn hub_style_repository_length(name: &str) -> usize {
    let (domain, path) = split_docker_domain(name);
    match takes_library(distribution_domain(domain), path) {
        true => OFFICIAL_NAMESPACE.len() + 1 + path.len(),
        false => path.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const SHA256: &str = "sha256:0123456789012345678901234567890123456789012345678901234567890123";

    #[rstest]
    #[case::single_name("nginx", "nginx", None, None)]
    #[case::tag("nginx:1.27", "nginx", Some("1.27"), None)]
    #[case::port_is_not_a_tag("reg.example:5000/app", "reg.example:5000/app", None, None)]
    #[case::port_and_tag("reg.example:5000/app:v1", "reg.example:5000/app", Some("v1"), None)]
    #[case::host_without_slash_has_a_tag("test.com:5000", "test.com", Some("5000"), None)]
    #[case::tag_and_digest(&format!("reg.example/app:v1@{SHA256}"), "reg.example/app", Some("v1"), Some(SHA256))]
    #[case::upper_case_domain("Reg.Example/app", "Reg.Example/app", None, None)]
    #[case::hex_with_tag_is_a_name(&format!("{}:1", "a".repeat(64)), &"a".repeat(64), Some("1"), None)]
    // distribution: the 255 limit leaves out an upper-case dotless domain.
    #[case::upper_case_host_path_at_limit(&format!("Corp/{}", "a".repeat(255)), &format!("Corp/{}", "a".repeat(255)), None, None)]
    fn splits(
        #[case] input: &str,
        #[case] name: &str,
        #[case] tag: Option<&str>,
        #[case] digest: Option<&str>,
    ) {
        assert_eq!(parse(input), Ok(Reference { name, tag, digest }));
    }

    #[rstest]
    #[case::empty("", ReferenceError::NameEmpty)]
    #[case::upper_case_path("reg.example/App", ReferenceError::InvalidFormat)]
    #[case::empty_tag("nginx:", ReferenceError::InvalidFormat)]
    #[case::tag_starting_with_dot("nginx:.1", ReferenceError::InvalidFormat)]
    #[case::long_tag(&format!("nginx:{}", "a".repeat(129)), ReferenceError::InvalidFormat)]
    #[case::unicode_tag("nginx:vé", ReferenceError::InvalidFormat)]
    #[case::double_slash("reg.example//app", ReferenceError::InvalidFormat)]
    #[case::trailing_slash("reg.example/app/", ReferenceError::InvalidFormat)]
    #[case::space("nginx latest", ReferenceError::InvalidFormat)]
    #[case::scheme("https://reg.example/app", ReferenceError::InvalidFormat)]
    #[case::triple_underscore("a___b", ReferenceError::InvalidFormat)]
    #[case::short_digest("nginx@sha256:abc", ReferenceError::InvalidFormat)]
    #[case::wrong_digest_length(&format!("nginx@sha256:{}", "a".repeat(40)), ReferenceError::DigestInvalidLength)]
    #[case::unknown_algorithm(&format!("nginx@md5:{}", "a".repeat(32)), ReferenceError::DigestUnsupported)]
    #[case::too_long(&format!("reg.example/{}", "a".repeat(256)), ReferenceError::NameTooLong)]
    #[case::hub_library_counts(&"a".repeat(250), ReferenceError::NameTooLong)]
    // distribution: ParseNormalizedNamed refuses a bare identifier (anchoredIdentifierRegexp).
    #[case::bare_hex_identifier(&"0123456789abcdef".repeat(4), ReferenceError::HexIdentifier)]
    // go-digest: Algorithm.Validate wants lower-case hex.
    #[case::upper_case_digest(&format!("nginx@sha256:{}", "A".repeat(64)), ReferenceError::DigestInvalidFormat)]
    // distribution: Parse counts the path after the domain (RepositoryNameTotalLengthMax).
    #[case::upper_case_host_path_too_long(&format!("Corp/{}", "a".repeat(256)), ReferenceError::NameTooLong)]
    fn rejects(#[case] input: &str, #[case] error: ReferenceError) {
        assert_eq!(parse(input), Err(error));
    }
}
