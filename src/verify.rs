//! The companion rule's checks: a rule's secret exists, has a docker-config type and holds
//! credentials for the images that need it. Each distinct secret is looked up at most once per
//! request, in the order it is first needed; secret data never leaves this module.

use std::collections::BTreeSet;
use std::fmt;

use crate::cluster::{Cluster, LookupError, Secret};
use crate::dockerconfig::{covers_any, registry_keys, ConfigFormat, DockerConfigError};
use crate::image_ref::ImageRef;

/// Why a rule's secret cannot serve the images that need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotFound,
    NotPermitted,
    LookupFailed(String),
    /// Wrong type, missing data key, undecodable data, no `auths`.
    Unusable(DockerConfigError),
    /// Registries (sorted) for which the secret holds no matching key.
    NoCredentials(BTreeSet<String>),
    /// The pod spec does not list the secret (validate-only and ephemeral containers).
    NotReferenced,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotFound => f.write_str("secret not found"),
            Problem::NotPermitted => f.write_str("the policy is not permitted to read it"),
            Problem::LookupFailed(reason) => write!(f, "lookup failed: {reason}"),
            Problem::Unusable(error) => write!(f, "{error}"),
            Problem::NoCredentials(registries) => {
                let list: Vec<&str> = registries.iter().map(String::as_str).collect();
                write!(f, "it holds no credentials for {}", list.join(", "))
            }
            Problem::NotReferenced => f.write_str("it is not listed in imagePullSecrets"),
        }
    }
}

/// Looks secrets up through a `Cluster`, once per name, and checks them.
pub struct SecretChecks<'c, C: Cluster> {
    cluster: &'c mut C,
    namespace: &'c str,
    check_credentials: bool,
    fetched: Vec<(String, Result<Secret, LookupError>)>,
}

impl<'c, C: Cluster> SecretChecks<'c, C> {
    pub fn new(cluster: &'c mut C, namespace: &'c str, check_credentials: bool) -> Self {
        SecretChecks {
            cluster,
            namespace,
            check_credentials,
            fetched: Vec::new(),
        }
    }

    /// Whether `secret` can serve every image in `images`; `None` when it can.
    pub fn problem(&mut self, secret: &str, images: &[&ImageRef]) -> Option<Problem> {
        let looked_up = match self.fetched.iter().position(|(name, _)| name == secret) {
            Some(index) => &self.fetched[index].1,
            None => {
                let answer = self
                    .cluster
                    .secret(self.namespace, secret, self.check_credentials);
                self.fetched.push((secret.to_string(), answer));
                &self.fetched[self.fetched.len() - 1].1
            }
        };
        let found = match looked_up {
            Ok(found) => found,
            Err(LookupError::NotFound) => return Some(Problem::NotFound),
            Err(LookupError::NotPermitted) => return Some(Problem::NotPermitted),
            Err(LookupError::Failed(reason)) => return Some(Problem::LookupFailed(reason.clone())),
        };
        let secret_type = found.secret_type.as_deref().unwrap_or_default();
        if let Err(error) = ConfigFormat::of_secret_type(secret_type) {
            return Some(Problem::Unusable(error));
        }
        if !self.check_credentials {
            return None;
        }
        let keys = match registry_keys(
            secret_type,
            found.data.as_ref().unwrap_or(&Default::default()),
        ) {
            Ok(keys) => keys,
            Err(error) => return Some(Problem::Unusable(error)),
        };
        let uncovered: BTreeSet<String> = images
            .iter()
            .filter(|image| !covers_any(&keys, image.registry(), image.repository()))
            .map(|image| image.registry().to_string())
            .collect();
        (!uncovered.is_empty()).then_some(Problem::NoCredentials(uncovered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::memory::{MemoryCluster as FakeCluster, CANARY, CANARY_B64};
    use rstest::rstest;
    use std::collections::BTreeMap;

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
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
        assert_eq!(problem_for(&mut cluster, true, &["reg.example/app"]), None);
        assert_eq!(cluster.calls, vec!["Secret team-a/corp data=true"]);
    }

    #[rstest]
    #[case::missing(FakeCluster::default(), "secret not found")]
    #[case::denied(FakeCluster::default().with_secret("corp", Err(LookupError::NotPermitted)), "the policy is not permitted to read it")]
    #[case::failed(FakeCluster::default().with_secret("corp", Err(LookupError::Failed("timeout".into()))), "lookup failed: timeout")]
    #[case::opaque(FakeCluster::default().with_secret("corp", raw_secret("Opaque", "x", "eA==")), "secret type \"Opaque\" holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"")]
    #[case::no_type(FakeCluster::default().with_secret("corp", Ok(Secret::default())), "secret type \"\" holds no registry credentials; use \"kubernetes.io/dockerconfigjson\" or \"kubernetes.io/dockercfg\"")]
    #[case::missing_key(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockerconfigjson", ".dockercfg", "e30=")), "secret data has no \".dockerconfigjson\" entry")]
    #[case::undecodable(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "%%%")), "secret data \".dockerconfigjson\" is not valid base64")]
    #[case::not_json(FakeCluster::default().with_secret("corp", raw_secret("kubernetes.io/dockercfg", ".dockercfg", "bm90IGpzb24=")), "secret data \".dockercfg\" is not valid docker config JSON")]
    #[case::other_registry(FakeCluster::default().with_docker_secret("corp", &["other.example"]), "it holds no credentials for reg.example")]
    #[case::other_port(FakeCluster::default().with_docker_secret("corp", &["reg.example:5000"]), "it holds no credentials for reg.example")]
    fn problems(#[case] mut cluster: FakeCluster, #[case] expected: &str) {
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).expect("a problem");
        assert_eq!(problem.to_string(), expected);
    }

    #[rstest]
    #[case::scheme_and_v1("https://reg.example/v1/", "reg.example/app", true)]
    #[case::port("reg.example:5000", "reg.example:5000/app", true)]
    #[case::path_prefix("reg.example/team", "reg.example/team/app", true)]
    #[case::path_prefix_look_alike("reg.example/team", "reg.example/teammate/app", false)]
    #[case::wildcard_label("*.corp.example", "eu.corp.example/app", true)]
    #[case::legacy_hub_key("https://index.docker.io/v1/", "nginx", true)]
    #[case::hub_alias("registry-1.docker.io", "acme/app", true)]
    fn key_forms(#[case] key: &str, #[case] image: &str, #[case] covered: bool) {
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &[key]);
        assert_eq!(
            problem_for(&mut cluster, true, &[image]).is_none(),
            covered,
            "{key} for {image}"
        );
    }

    #[test]
    fn lists_every_uncovered_registry_sorted_once() {
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &["b.example"]);
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
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &["other.example"]);
        assert_eq!(problem_for(&mut cluster, false, &["reg.example/app"]), None);
        assert_eq!(cluster.calls, vec!["Secret team-a/corp data=false"]);
    }

    #[test]
    fn each_secret_is_looked_up_once() {
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &["reg.example"]);
        let images = images(&["reg.example/app"]);
        let refs: Vec<&ImageRef> = images.iter().collect();
        let mut checks = SecretChecks::new(&mut cluster, "team-a", true);
        assert_eq!(checks.problem("corp", &refs), None);
        assert_eq!(checks.problem("other", &refs), Some(Problem::NotFound));
        assert_eq!(checks.problem("corp", &refs), None);
        assert_eq!(checks.problem("other", &refs), Some(Problem::NotFound));
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
        let mut cluster = FakeCluster::default().with_docker_secret("corp", &["other.example"]);
        let problem = problem_for(&mut cluster, true, &["reg.example/app"]).unwrap();
        for shown in [problem.to_string(), format!("{problem:?}")] {
            assert!(
                !shown.contains(CANARY) && !shown.contains(CANARY_B64),
                "{shown}"
            );
        }
    }
}
