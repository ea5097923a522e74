//! Differential test: the hand-written reference grammar (src/reference.rs) accepts and splits
//! exactly what oci-spec's maintained `Reference` parser does, for ASCII input, and what it
//! accepts normalises to a form that parses back to the same image. oci-spec is the oracle here
//! only; the module does not link it (see BENCHMARKS.md for why). Where we follow distribution
//! instead, src/reference.rs pins our answer.

use image_pull_secrets::{parse_reference, ImageRef, ReferenceError};
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
