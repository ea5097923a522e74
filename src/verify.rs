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
    /// The request's other lookups go through it too.
    pub cluster: &'c mut C,
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
    use crate::testing::{MemoryCluster, CANARY, CANARY_B64};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use rstest::rstest;

    fn secret(secret_type: Option<&str>, key: &str, value: &str) -> MemoryCluster {
        let data = BTreeMap::from([(key.to_string(), value.to_string())]);
        let secret_type = secret_type.map(str::to_string);
        let secret = Secret {
            secret_type,
            data: Some(data),
        };
        MemoryCluster::default().with_secret("corp", Ok(secret))
    }

    /// A dockerconfigjson secret `corp` whose `auths` are `entries` (raw JSON per key).
    fn with_entries(entries: &[(&str, &str)]) -> MemoryCluster {
        let entry =
            |(key, json): &(&str, &str)| (key.to_string(), serde_json::from_str(json).unwrap());
        let auths: serde_json::Map<String, serde_json::Value> = entries.iter().map(entry).collect();
        let config = serde_json::json!({ "auths": auths }).to_string();
        let json = Some("kubernetes.io/dockerconfigjson");
        secret(json, ".dockerconfigjson", &STANDARD.encode(config))
    }

    /// A secret `corp` whose every key holds the canary credentials.
    fn docker_secret(keys: &[&str]) -> MemoryCluster {
        MemoryCluster::default().with_docker_secret("corp", keys)
    }

    /// What the checks find about `corp` for `references`, shown; the lookups made.
    fn problem(
        mut cluster: MemoryCluster,
        check: bool,
        references: &[&str],
    ) -> (Option<String>, Vec<String>) {
        let images: Vec<ImageRef> = references
            .iter()
            .map(|r| ImageRef::parse(r).unwrap())
            .collect();
        let images: Vec<&ImageRef> = images.iter().collect();
        let mut checks = SecretChecks::new(&mut cluster, "team-a", check);
        let found = checks.problem("corp", &images);
        if let Some(problem) = &found {
            let shown = format!("{problem} {problem:?}");
            assert!(
                !shown.contains(CANARY) && !shown.contains(CANARY_B64),
                "{shown}"
            );
        }
        (found.map(|problem| problem.to_string()), cluster.calls)
    }

    const WRONG_TYPE: &str = "holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"";

    /// A secret that is missing, of the wrong type, undecodable or without credentials for the
    /// image; with `checkCredentials: false` only its type is fetched, and checked.
    #[rstest]
    #[case::covered(docker_secret(&["reg.example"]), true, None)]
    #[case::missing(MemoryCluster::default(), true, Some("secret not found".into()))]
    #[case::no_type(secret(None, "x", "eA=="), true, Some(format!("secret type \"\" {WRONG_TYPE}")))]
    #[case::undecodable(secret(Some("kubernetes.io/dockerconfigjson"), ".dockerconfigjson", "%%%"), true, Some("secret data \".dockerconfigjson\" is not valid base64".into()))]
    #[case::other_registry(docker_secret(&["other.example"]), true, Some("it holds no credentials for reg.example".into()))]
    #[case::type_only_credentials_unchecked(docker_secret(&["other.example"]), false, None)]
    #[case::type_only_still_checked(secret(Some("Opaque"), "x", "eA=="), false, Some(format!("secret type \"Opaque\" {WRONG_TYPE}")))]
    fn problems(
        #[case] cluster: MemoryCluster,
        #[case] check: bool,
        #[case] expected: Option<String>,
    ) {
        let (found, calls) = problem(cluster, check, &["reg.example/app"]);
        assert_eq!(found, expected);
        assert_eq!(calls, [format!("Secret team-a/corp data={check}")]);
    }

    /// The image is looked up as the kubelet names it (distribution's `splitDockerDomain`).
    #[rstest]
    #[case::host_case_kept("reg.example", "Reg.Example/app", false)]
    #[case::legacy_hub_key("https://index.docker.io/v1/", "nginx", true)]
    #[case::registry_1_image_not_docker_io("docker.io", "registry-1.docker.io/acme/app", false)]
    #[case::index_image_is_docker_io("docker.io", "index.docker.io/acme/app", true)]
    fn key_forms(#[case] key: &str, #[case] image: &str, #[case] covered: bool) {
        let (found, _) = problem(docker_secret(&[key]), true, &[image]);
        assert_eq!(found.is_none(), covered, "{key} for {image}");
    }

    #[test]
    fn lists_every_uncovered_registry_once_sorted_as_the_kubelet_names_it() {
        let images = [
            "z.example/a",
            "b.example/x",
            "a.example/y",
            "z.example/b",
            "registry-1.docker.io/acme/app",
        ];
        let (found, _) = problem(docker_secret(&["b.example", "docker.io"]), true, &images);
        let expected = "it holds no credentials for a.example, registry-1.docker.io, z.example";
        assert_eq!(found.as_deref(), Some(expected));
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
        let good = format!(r#"{{"auth":"{CANARY_B64}"}}"#);
        let cluster = with_entries(&[("reg.example", &good), ("robot:pw@other.example", &bad)]);
        let (found, _) = problem(cluster, true, &["reg.example/app"]);
        let expected = format!("secret data \".dockerconfigjson\": the entry for registry \"<user>@other.example\" {reason}");
        assert!(
            found
                .as_ref()
                .is_some_and(|found| found.starts_with(&expected)),
            "{found:?}"
        );
    }

    // kubelet: credentialprovider.BasicDockerKeyring.Lookup returns the empty entry, so the pull
    // is anonymous: identitytoken and registrytoken are not read from a secret; it uses every
    // matching key, the legacy index.docker.io fallback only when none matches.
    #[rstest]
    #[case::empty(&[("reg.example", "{}")], "reg.example/app")]
    #[case::null(&[("reg.example", "null")], "reg.example/app")]
    #[case::tokens_only(&[("reg.example", r#"{"identitytoken":"CANARY-0f9e8d7c-secret","registrytoken":"CANARY-0f9e8d7c-secret"}"#)], "reg.example/app")]
    #[case::auth_of_a_bare_colon(&[("reg.example", r#"{"auth":"Og=="}"#)], "reg.example/app")]
    #[case::empty_strings(&[("reg.example", r#"{"username":"","password":"","auth":""}"#)], "reg.example/app")]
    #[case::anonymous_match_hides_the_legacy_hub_key(&[("docker.io", "{}"), ("https://index.docker.io/v1/", r#"{"auth":"dTpw"}"#)], "nginx")]
    fn an_entry_without_username_or_password_holds_no_credentials(
        #[case] entries: &[(&str, &str)],
        #[case] image: &str,
    ) {
        let (found, _) = problem(with_entries(entries), true, &[image]);
        let registry = ImageRef::parse(image)
            .unwrap()
            .kubelet_registry()
            .to_string();
        assert_eq!(
            found,
            Some(format!("it holds no credentials for {registry}"))
        );
    }
}
