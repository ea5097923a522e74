//! The README's settings example is the user contract: it must parse exactly as its comments say.
//! (Its settings table is checked beside the Rancher form, in tests/metadata.rs.)

mod support;

use image_pull_secrets::{ImageRef, OnMissingSecret, Settings, Templates};
use support::yaml_block_after;

#[test]
fn readme_settings_example_parses_as_documented() {
    let example: serde_json::Value =
        serde_yaml::from_str(&yaml_block_after("README.md", "<!-- settings-example")).unwrap();
    let settings = Settings::from_slice(example.to_string().as_bytes()).expect("valid settings");
    let [corp, hub, team_a] = &settings.rules[..] else {
        panic!("three rules expected");
    };
    assert_eq!(corp.secret, "corp-registry");
    let outcomes = [corp, hub].map(|rule| rule.on_missing_secret);
    assert_eq!(outcomes, [OnMissingSecret::Reject, OnMissingSecret::Skip]);
    assert!(corp.pull_always && !hub.pull_always && corp.namespace_selector.is_none());
    assert!(settings.inject && settings.verify_secrets && settings.check_credentials);
    assert_eq!(settings.templates, Templates::Check);
    assert_eq!(settings.custom_resources[0].kind, "Rollout");
    let selector = team_a.namespace_selector.as_ref().expect("a selector");
    assert!(selector.matches(&[("team".to_string(), "a".to_string())].into()));
    assert!(!selector.matches(&Default::default()));
    let [account] = &settings.service_accounts[..] else {
        panic!("one ServiceAccount entry expected");
    };
    assert_eq!(
        (&*account.secret, account.on_missing_secret),
        ("dockerhub", OnMissingSecret::Warn)
    );
    let cases = [
        (
            corp,
            "registry.corp.example:5000/finance/billing:2.4.1",
            true,
        ),
        (corp, "eu.corp.example/app", true),
        (corp, "acme/tools/cli", true),
        (corp, "registry.corp.example:5001/app", false), // another port
        (corp, "a.b.corp.example/app", false),           // `*` is one label
        (hub, "nginx", true),
    ];
    for (rule, image, expected) in cases {
        let matched = rule.matches(&ImageRef::parse(image).unwrap());
        assert_eq!(matched, expected, "{} vs {image}", rule.secret);
    }
}
