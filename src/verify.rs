//! The companion rule's checks: a rule's secret exists, has a docker-config type and holds
//! credentials for the images that need it. Each distinct secret is looked up at most once per
//! request, in the order it is first needed; secret data never leaves this module.

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::{Cluster, LookupError, Secret};
use crate::dockerconfig::{config_key, keyring};
use crate::image_ref::ImageRef;
use crate::outcome::Problem;

/// Looks secrets up through a `Cluster`, once per name, and checks them.
pub struct SecretChecks<'c, C: Cluster> {
    cluster: &'c mut C,
    namespace: &'c str,
    check_credentials: bool,
    fetched: BTreeMap<String, Result<Secret, LookupError>>,
}

impl<'c, C: Cluster> SecretChecks<'c, C> {
    pub fn new(cluster: &'c mut C, namespace: &'c str, check_credentials: bool) -> Self {
        SecretChecks {
            cluster,
            namespace,
            check_credentials,
            fetched: BTreeMap::new(),
        }
    }

    /// Whether `secret` can serve every image in `images`; `None` when it can.
    pub fn problem(&mut self, secret: &str, images: &[&ImageRef]) -> Option<Problem> {
        let looked_up = self.fetched.entry(secret.to_string()).or_insert_with(|| {
            self.cluster
                .secret(self.namespace, secret, self.check_credentials)
        });
        let found = match &*looked_up {
            Ok(found) => found,
            Err(error) => return Some(Problem::Lookup(error.clone())),
        };
        let secret_type = found.secret_type.as_deref().unwrap_or_default();
        if let Err(error) = config_key(secret_type) {
            return Some(Problem::Unusable(error));
        }
        if !self.check_credentials {
            return None;
        }
        let keyring = match keyring(
            secret_type,
            found.data.as_ref().unwrap_or(&Default::default()),
        ) {
            Ok(keyring) => keyring,
            Err(error) => return Some(Problem::Unusable(error)),
        };
        // The kubelet looks an image up under its host as written, not the rules' normalised one.
        let uncovered: BTreeSet<String> = images
            .iter()
            .filter(|image| !keyring.covers(image.kubelet_registry(), image.kubelet_repository()))
            .map(|image| image.kubelet_registry().to_string())
            .collect();
        (!uncovered.is_empty()).then(|| Problem::NoCredentials(uncovered.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Denial;
    use crate::testing::MemoryCluster as FakeCluster;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use rstest::rstest;
    use std::collections::BTreeMap;

    const CANARY: &str = "CANARY-9b1d-verify-password";

    /// `robot:<CANARY>` in base64, an `auth` the kubelet decodes.
    fn canary_auth() -> String {
        STANDARD.encode(format!("robot:{CANARY}"))
    }

    /// A dockerconfigjson secret whose `auths` are `entries` (raw JSON per key).
    fn secret_with_entries(entries: &[(&str, String)]) -> Result<Secret, LookupError> {
        let auths: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .map(|(key, entry)| (key.to_string(), serde_json::from_str(entry).unwrap()))
            .collect();
        let config = serde_json::json!({ "auths": auths }).to_string();
        raw_secret(
            "kubernetes.io/dockerconfigjson",
            ".dockerconfigjson",
            &STANDARD.encode(config),
        )
    }

    /// A secret whose every key holds canary credentials the kubelet accepts.
    fn docker_secret(keys: &[&str]) -> FakeCluster {
        let entry = format!(
            r#"{{"auth":"{}","password":"{CANARY}","identitytoken":"{CANARY}"}}"#,
            canary_auth()
        );
        let entries: Vec<(&str, String)> = keys.iter().map(|k| (*k, entry.clone())).collect();
        FakeCluster::default().with_secret("corp", secret_with_entries(&entries))
    }

    fn images(references: &[&str]) -> Vec<ImageRef> {
        references
            .iter()
            .map(|r| ImageRef::parse(r).unwrap())
            .collect()
    }

    fn problem_for(
        cluster: &mut FakeCluster,
        check_credentials: bool,
        references: &[&str],
    ) -> Option<Problem> {
        let images = images(references);
        let refs: Vec<&ImageRef> = images.iter().collect();
        SecretChecks::new(cluster, "team-a", check_credentials).problem("corp", &refs)
    }

    fn raw_secret(secret_type: &str, key: &str, value: &str) -> Result<Secret, LookupError> {
        Ok(Secret {
            secret_type: Some(secret_type.into()),
            data: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
        })
    }

    #[test]
    fn covered_secret_has_no_problem() {
        let mut cluster = docker_secret(&["reg.example"]);
        assert_eq!(problem_for(&mut cluster, true, &["reg.example/app"]), None);
        assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
    }

    #[rstest]
    #[case::missing(FakeCluster::default(), "secret not found")]
    #[case::not_granted(FakeCluster::default().with_secret("corp", Err(LookupError::NotPermitted(Denial::Capability))), "the policy has not been granted access to it")]
    #[case::forbidden(FakeCluster::default().with_secret("corp", Err(LookupError::NotPermitted(Denial::Forbidden(None)))), "the PolicyServer is forbidden to read it (403 Forbidden)")]
    #[case::failed(FakeCluster::default().with_secret("corp", Err(LookupError::Failed("timeout".into()))), "lookup failed: timeout")]
    #[case::opaque(FakeCluster::default().with_secret("corp", raw_secret("Opaque", "x", "eA==")), "secret type \"Opaque\" holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"")]
    #[case::no_type(FakeCluster::default().with_secret("corp", Ok(Secret::default())), "secret type \"\" holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"")]
    #[case::missing_key(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockerconfigjson", ".dockercfg", "e30=")), "secret data has no \".dockerconfigjson\" entry")]
    #[case::undecodable(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "%%%")), "secret data \".dockerconfigjson\" is not valid base64")]
    #[case::not_json(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockercfg", ".dockercfg", "bm90IGpzb24=")), "secret data \".dockercfg\" is not valid docker config JSON")]
    #[case::base64_of_non_json(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "dXNlcj1yb2JvdCBwYXNzd29yZD1odW50ZXIy")), "secret data \".dockerconfigjson\" is not valid docker config JSON")]
    #[case::other_registry(docker_secret(&["other.example"]), "it holds no credentials for reg.example")]
    #[case::other_port(docker_secret(&["reg.example:5000"]), "it holds no credentials for reg.example")]
    fn problems(#[case] mut cluster: FakeCluster, #[case] expected: &str) {
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).expect("a problem");
        assert_eq!(problem.to_string(), expected);
    }

    #[rstest]
    #[case::scheme_and_v1("https://reg.example/v1/", "reg.example/app", true)]
    #[case::port("reg.example:5000", "reg.example:5000/app", true)]
    #[case::path_prefix("reg.example/team", "reg.example/team/app", true)]
    // kubelet: credentialprovider.URLsMatch, a plain string prefix.
    #[case::path_string_prefix("reg.example/team", "reg.example/team2/app", true)]
    #[case::path_string_prefix_with_port(
        "registry.corp.example:5000/fin",
        "registry.corp.example:5000/finance/billing:2.4.1",
        true
    )]
    #[case::wildcard_label("*.corp.example", "eu.corp.example/app", true)]
    // kubelet: credentialprovider.URLsMatch, hosts are case-sensitive.
    #[case::host_case("reg.example", "Reg.Example/app", false)]
    // kubelet: credentialprovider.BasicDockerKeyring.Lookup, isDefaultRegistryMatch.
    #[case::legacy_hub_key("https://index.docker.io/v1/", "nginx", true)]
    #[case::docker_io_key_for_hub_image("docker.io", "acme/app", true)]
    #[case::registry_1_key_not_for_hub_image("registry-1.docker.io", "acme/app", false)]
    #[case::hub_path_key_not_legacy("index.docker.io/acme", "acme/app", false)]
    // distribution: splitDockerDomain keeps registry-1.docker.io and maps index.docker.io.
    #[case::registry_1_image_not_docker_io("docker.io", "registry-1.docker.io/acme/app", false)]
    #[case::registry_1_image_own_key("registry-1.docker.io", "registry-1.docker.io/acme/app", true)]
    #[case::index_image_is_docker_io("docker.io", "index.docker.io/acme/app", true)]
    fn key_forms(#[case] key: &str, #[case] image: &str, #[case] covered: bool) {
        let mut cluster = docker_secret(&[key]);
        assert_eq!(
            problem_for(&mut cluster, true, &[image]).is_none(),
            covered,
            "{key} for {image}"
        );
    }

    #[test]
    fn lists_every_uncovered_registry_sorted_once() {
        let mut cluster = docker_secret(&["b.example"]);
        let problem = problem_for(
            &mut cluster,
            true,
            &["z.example/a", "b.example/x", "a.example/y", "z.example/b"],
        )
        .unwrap();
        assert_eq!(
            problem.to_string(),
            "it holds no credentials for a.example, z.example"
        );
    }

    #[test]
    fn without_credential_check_only_the_type_is_fetched_and_checked() {
        let mut cluster = docker_secret(&["other.example"]);
        assert_eq!(problem_for(&mut cluster, false, &["reg.example/app"]), None);
        assert_eq!(cluster.calls, vec!["Secret team-a/corp data=false"]);
    }

    #[test]
    fn each_secret_is_looked_up_once() {
        let mut cluster = docker_secret(&["reg.example"]);
        let images = images(&["reg.example/app"]);
        let refs: Vec<&ImageRef> = images.iter().collect();
        let mut checks = SecretChecks::new(&mut cluster, "team-a", true);
        assert_eq!(checks.problem("corp", &refs), None);
        assert_eq!(
            checks.problem("other", &refs),
            Some(Problem::Lookup(LookupError::NotFound))
        );
        assert_eq!(checks.problem("corp", &refs), None);
        assert_eq!(
            checks.problem("other", &refs),
            Some(Problem::Lookup(LookupError::NotFound))
        );
        assert_eq!(
            cluster.calls,
            vec![
                "Secret team-a/corp data=true",
                "Secret team-a/other data=true"
            ]
        );
    }

    #[test]
    fn canary_never_appears_in_problems() {
        let mut cluster = docker_secret(&["other.example"]);
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).unwrap();
        assert_no_canary(&problem);
    }

    fn assert_no_canary(problem: &Problem) {
        for shown in [problem.to_string(), format!("{problem:?}")] {
            assert!(
                !shown.contains(CANARY) && !shown.contains(&canary_auth()),
                "{shown}"
            );
        }
    }

    // kubelet: credentialprovider.DockerConfigEntry.UnmarshalJSON fails MakeDockerKeyring, so
    // any bad entry makes the secret unusable, even one for another registry.
    #[rstest]
    #[case::auth_not_base64(format!(r#"{{"auth":"{CANARY}!"}}"#), "has an \"auth\" that is not base64")]
    #[case::auth_without_colon(format!(r#"{{"auth":"{}"}}"#, STANDARD.encode(CANARY)), "has an \"auth\" that does not decode to <user>:<password>")]
    #[case::entry_not_an_object(format!(r#""{CANARY}""#), "is not a JSON object")]
    #[case::password_not_a_string(r#"{"password":7}"#.to_string(), "has a \"password\" that is not a string")]
    fn a_bad_entry_for_any_registry_makes_the_secret_unusable(
        #[case] bad: String,
        #[case] reason: &str,
    ) {
        let good = format!(r#"{{"auth":"{}"}}"#, canary_auth());
        let mut cluster = FakeCluster::default().with_secret(
            "corp",
            secret_with_entries(&[("reg.example", good), ("robot:pw@other.example", bad)]),
        );
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).expect("unusable");
        assert!(matches!(problem, Problem::Unusable(_)), "{problem:?}");
        let expected = format!(
            "secret data \".dockerconfigjson\": the entry for registry \"<user>@other.example\" {reason}"
        );
        assert!(problem.to_string().starts_with(&expected), "{problem}");
        assert!(!problem.to_string().contains("pw@"), "{problem}");
        assert_no_canary(&problem);
    }

    // kubelet: credentialprovider.BasicDockerKeyring.Lookup returns the empty entry, so the pull
    // is anonymous: identitytoken and registrytoken are not read from a secret.
    #[rstest]
    #[case::empty("{}".to_string())]
    #[case::null("null".to_string())]
    #[case::tokens_only(format!(r#"{{"identitytoken":"{CANARY}","registrytoken":"{CANARY}"}}"#))]
    #[case::auth_of_a_bare_colon(format!(r#"{{"auth":"{}"}}"#, STANDARD.encode(":")))]
    #[case::empty_strings(r#"{"username":"","password":"","auth":""}"#.to_string())]
    fn an_entry_without_username_or_password_holds_no_credentials(#[case] entry: String) {
        let mut cluster = FakeCluster::default()
            .with_secret("corp", secret_with_entries(&[("reg.example", entry)]));
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).expect("anonymous");
        assert_eq!(
            problem.to_string(),
            "it holds no credentials for reg.example"
        );
        assert_no_canary(&problem);
    }

    // kubelet: credentialprovider.BasicDockerKeyring.Lookup uses every matching key; the legacy
    // index.docker.io fallback applies only when none matches.
    #[test]
    fn an_anonymous_match_hides_the_legacy_hub_key() {
        let good = format!(r#"{{"auth":"{}"}}"#, canary_auth());
        let mut cluster = FakeCluster::default().with_secret(
            "corp",
            secret_with_entries(&[
                ("docker.io", "{}".into()),
                ("https://index.docker.io/v1/", good),
            ]),
        );
        let problem = problem_for(&mut cluster, true, &["nginx"]).expect("anonymous");
        assert_eq!(problem.to_string(), "it holds no credentials for docker.io");
    }

    #[test]
    fn the_missing_registry_is_named_as_the_kubelet_looks_it_up() {
        let mut cluster = docker_secret(&["docker.io"]);
        let problem =
            problem_for(&mut cluster, true, &["registry-1.docker.io/acme/app"]).expect("uncovered");
        assert_eq!(
            problem.to_string(),
            "it holds no credentials for registry-1.docker.io"
        );
    }

    #[test]
    fn without_credential_check_the_type_is_still_checked() {
        let mut cluster = FakeCluster::default().with_secret(
            "corp",
            Ok(Secret {
                secret_type: Some("Opaque".into()),
                data: None,
            }),
        );
        let problem = problem_for(&mut cluster, false, &["reg.example/app"]).expect("wrong type");
        assert_eq!(
            problem.to_string(),
            "secret type \"Opaque\" holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\""
        );
        assert_eq!(cluster.calls, vec!["Secret team-a/corp data=false"]);
    }
}
