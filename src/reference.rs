//! The distribution reference grammar (`name[:tag][@digest]`), checked by hand in one pass with no
//! allocation. It accepts exactly what oci-spec's `Reference` parser accepts, for ASCII input; a
//! differential property test pins the two together (`oracle` below). oci-spec itself
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

/// Parses `name[:tag][@digest]`: `reg.example:5000/team/app:v1` is the name
/// `reg.example:5000/team/app` with the tag `v1`.
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

#[cfg(test)]
mod oracle {
    //! Differential test: the hand-written reference grammar (src/reference.rs) accepts and splits
    //! exactly what oci-spec's maintained `Reference` parser does, for ASCII input, and what it
    //! accepts normalises to a form that parses back to the same image. oci-spec is the oracle here
    //! only; the module does not link it (see BENCHMARKS.md for why). Where we follow distribution
    //! instead, src/reference.rs pins our answer.

    use super::{parse as parse_reference, ReferenceError};
    use crate::image_ref::ImageRef;
    use oci_spec::distribution::Reference as OciReference;
    use proptest::prelude::*;

    /// Pieces that reference strings are made of, valid and invalid, so that random concatenations
    /// land on both sides of every rule of the grammar.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("nginx".to_string()),
            Just("library".to_string()),
            Just("docker.io".to_string()),
            Just("index.docker.io".to_string()),
            Just("Reg.Example".to_string()),
            Just("reg.example:5000".to_string()),
            Just("localhost".to_string()),
            Just("a_b".to_string()),
            Just("a__b".to_string()),
            Just("a___b".to_string()),
            Just("a--b".to_string()),
            Just("-a".to_string()),
            Just("a.".to_string()),
            Just("sha256".to_string()),
            Just("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_string()),
            Just("0123456789abcdef0123456789abcdef".to_string()),
            "[a-z0-9]{1,6}",
            "[A-Za-z0-9._-]{1,8}",
            "[ -~]{1,4}",
        ]
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["/", ":", "@", ".", "", "@sha256:", "//"])
    }

    /// Docker's rule that a dotless first component in upper case is a registry (`Corp/app`), which
    /// distribution applies and oci-spec does not.
    fn upper_case_dotless_domain(input: &str) -> bool {
        input.split_once('/').is_some_and(|(first, _)| {
            !first.contains(['.', ':'])
                && first != "localhost"
                && first.bytes().any(|b| b.is_ascii_uppercase())
        })
    }

    fn reference_like() -> impl Strategy<Value = String> {
        prop::collection::vec((piece(), separator()), 1..6).prop_map(|parts| {
            let mut text: String = parts.iter().map(|(p, s)| format!("{p}{s}")).collect();
            if parts.len() % 2 == 0 {
                text.pop();
            }
            text
        })
    }

    /// Where we deliberately follow distribution/reference (what the kubelet parses with) and oci-spec
    /// differs: our answer for such an input, `None` elsewhere.
    fn deliberate_difference(input: &str) -> Option<Result<(), ReferenceError>> {
        use ReferenceError::*;
        // ParseNormalizedNamed refuses a bare 64-hex name (anchoredIdentifierRegexp); oci-spec takes it.
        if input.len() == 64
            && input
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Some(Err(HexIdentifier));
        }
        let oracle = OciReference::try_from(input);
        // go-digest wants lower-case hex for known algorithms; oci-spec checks only the length.
        if let Ok(oracle) = &oracle {
            let upper_hex = oracle
                .digest()
                .and_then(|digest| digest.split_once(':'))
                .is_some_and(|(_, hex)| hex.bytes().any(|b| b.is_ascii_uppercase()));
            if upper_hex {
                return Some(Err(DigestInvalidFormat));
            }
        }
        // distribution counts the path after an upper-case dotless domain; oci-spec counts it whole.
        if oracle == Err(oci_spec::distribution::ParseError::NameTooLong)
            && upper_case_dotless_domain(input)
        {
            return Some(parse_reference(input).map(|_| ()));
        }
        None
    }

    fn check_against_oracle(input: &str) -> Result<(), TestCaseError> {
        if let Some(expected) = deliberate_difference(input) {
            prop_assert_eq!(parse_reference(input).map(|_| ()), expected, "{:?}", input);
            return Ok(());
        }
        match (parse_reference(input), OciReference::try_from(input)) {
            (Ok(_), Ok(oracle)) => {
                let image = ImageRef::parse(input).expect("accepted by the grammar");
                let normal = image.to_string();
                prop_assert_eq!(
                    ImageRef::parse(&normal),
                    Ok(image.clone()),
                    "{:?} -> {}",
                    input,
                    normal
                );
                if !upper_case_dotless_domain(input) {
                    let expected = ImageRef::from_parts(oracle.registry(), oracle.repository());
                    prop_assert_eq!(image, expected, "split of {:?}", input);
                }
            }
            (Err(ours), Err(oracle)) => {
                prop_assert_eq!(
                    ours.to_string(),
                    oracle.to_string(),
                    "error for {:?}",
                    input
                )
            }
            (ours, oracle) => {
                prop_assert!(false, "{:?}: ours {:?}, oci-spec {:?}", input, ours, oracle)
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn grammar_agrees_with_oci_spec_on_reference_like_strings(input in reference_like()) {
            check_against_oracle(&input)?;
        }

        #[test]
        fn grammar_agrees_with_oci_spec_on_printable_ascii(input in "[ -~]{0,40}") {
            check_against_oracle(&input)?;
        }
    }

    #[test]
    fn grammar_agrees_with_oci_spec_on_known_cases() {
        let sha = "sha256:0123456789012345678901234567890123456789012345678901234567890123";
        // Cases the generators may miss; src/reference.rs and src/image_ref.rs pin exact answers
        // for many more.
        let cases = [
            "library/nginx",
            "index.docker.io/library/nginx:1",
            "localhost:5000/app:v1",
            "reg.example:5000/a/b/c:v",
            "test.com:tag",
            "a__b",
            "a-b--c",
            "/app",
            "app:",
            ":tag",
            "app@",
            "@sha256:00",
            "reg.example:/app",
            "reg.example:x/app",
            "-reg.example/app",
            "reg-.example/app",
            "a.b.c.d.e/f",
            "nginx:_x",
            "nginx:x.y-z_w",
        ];
        for case in cases {
            check_against_oracle(case).unwrap();
            check_against_oracle(&format!("{case}@{sha}")).unwrap();
        }
        check_against_oracle(&format!("nginx@sha512:{}", "a".repeat(128))).unwrap();
        check_against_oracle(&format!("nginx@sha384:{}", "a".repeat(95))).unwrap();
        check_against_oracle(&format!("nginx@sha1:{}", "a".repeat(40))).unwrap();
        check_against_oracle(&format!("nginx@sha256+b64:{}", "a".repeat(64))).unwrap();
        check_against_oracle(&format!("reg.example/{}", "a".repeat(255))).unwrap();
        check_against_oracle(&"a".repeat(247)).unwrap();
        check_against_oracle(&"a".repeat(248)).unwrap();
        check_against_oracle(&format!("nginx:{}", "a".repeat(128))).unwrap();
        check_against_oracle(&format!("nginx:{}", "a".repeat(129))).unwrap();
        // The deliberate differences: a bare hex name, upper-case hex, a long path after `Corp/`.
        check_against_oracle(&"0123456789abcdef".repeat(4)).unwrap();
        check_against_oracle(&format!("nginx@sha256:{}", "A".repeat(64))).unwrap();
        check_against_oracle(&format!("Corp/{}", "a".repeat(255))).unwrap();
    }
}
