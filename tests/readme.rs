//! The README's settings example is the user contract: it must parse exactly as documented.

mod support;

use image_pull_secrets::{ImageRef, OnMissingSecret, Settings, Templates};
use support::{read, yaml_block_after};

#[test]
fn readme_settings_example_parses_as_documented() {
    let yaml: serde_json::Value =
        serde_yaml::from_str(&yaml_block_after("README.md", "<!-- settings-example"))
            .expect("README example is YAML");
    let settings = Settings::from_slice(yaml.to_string().as_bytes())
        .expect("README example is valid settings");
    assert_eq!(settings.rules.len(), 3);
    assert_eq!(settings.rules[0].secret, "corp-registry");
    assert_eq!(settings.rules[0].on_missing_secret, OnMissingSecret::Reject);
    assert_eq!(settings.rules[1].on_missing_secret, OnMissingSecret::Skip);
    assert!(settings.rules[0].pull_always && !settings.rules[1].pull_always);
    assert!(settings.inject && settings.verify_secrets && settings.check_credentials);
    assert_eq!(settings.templates, Templates::Check);
    assert_eq!(settings.custom_resources[0].kind, "Rollout");
    assert!(settings.rules[0].namespace_selector.is_none());
    let team_a: std::collections::BTreeMap<String, String> =
        [("team".to_string(), "a".to_string())].into();
    let selector = settings.rules[2]
        .namespace_selector
        .as_ref()
        .expect("a selector");
    assert!(selector.matches(&team_a));
    assert!(!selector.matches(&Default::default()));
    assert_eq!(settings.service_accounts.len(), 1);
    assert_eq!(settings.service_accounts[0].secret, "dockerhub");
    assert_eq!(
        settings.service_accounts[0].on_missing_secret,
        OnMissingSecret::Warn
    );
    let matches =
        |rule: usize, image: &str| settings.rules[rule].matches(&ImageRef::parse(image).unwrap());
    assert!(matches(
        0,
        "registry.corp.example:5000/finance/billing:2.4.1"
    ));
    assert!(matches(0, "eu.corp.example/app"));
    assert!(matches(0, "acme/tools/cli"));
    assert!(
        !matches(0, "registry.corp.example:5001/app"),
        "other port: no match"
    );
    assert!(!matches(0, "a.b.corp.example/app"), "* is one label");
    assert!(matches(1, "nginx"));
}

#[test]
fn readme_documents_every_settings_key() {
    let readme = read("README.md");
    for key in [
        "`rules`",
        "`rules[].secret`",
        "`rules[].registries`",
        "`rules[].images`",
        "`rules[].onMissingSecret`",
        "`rules[].namespaceSelector`",
        "`rules[].imagePullPolicy`",
        "`serviceAccounts`",
        "`inject`",
        "`templates`",
        "`verifySecrets`",
        "`checkCredentials`",
        "`customResources`",
    ] {
        assert!(
            readme.contains(&format!("| {key} |")),
            "README settings table lacks {key}"
        );
    }
}
