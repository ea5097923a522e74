//! Which registries a docker-config Secret holds credentials for.
//!
//! Reads only the registry *keys* of a `kubernetes.io/dockerconfigjson` or
//! `kubernetes.io/dockercfg` Secret (credential values are skipped unread) and
//! decides whether a key covers an image the way kubelet's keyring does
//! (`k8s.io/kubernetes/pkg/credentialprovider/keyring.go`). Pure: no I/O.

use crate::image_ref::{is_docker_hub_alias, DOCKER_HUB};
use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The two Secret layouts that carry registry credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// `kubernetes.io/dockerconfigjson`: `{"auths": {"<key>": {...}}}` under `.dockerconfigjson`.
    DockerConfigJson,
    /// `kubernetes.io/dockercfg` (legacy): `{"<key>": {...}}` under `.dockercfg`.
    DockerCfg,
}

impl ConfigFormat {
    /// The format a Secret of type `secret_type` holds.
    ///
    /// ```
    /// use image_pull_secrets::dockerconfig::{ConfigFormat, DockerConfigError};
    /// assert_eq!(
    ///     ConfigFormat::of_secret_type("kubernetes.io/dockerconfigjson"),
    ///     Ok(ConfigFormat::DockerConfigJson)
    /// );
    /// assert_eq!(
    ///     ConfigFormat::of_secret_type("Opaque"),
    ///     Err(DockerConfigError::WrongType("Opaque".into()))
    /// );
    /// ```
    pub fn of_secret_type(secret_type: &str) -> Result<Self, DockerConfigError> {
        [Self::DockerConfigJson, Self::DockerCfg]
            .into_iter()
            .find(|format| format.secret_type() == secret_type)
            .ok_or_else(|| DockerConfigError::WrongType(secret_type.to_owned()))
    }

    /// The Secret `type` of this format, e.g. `kubernetes.io/dockercfg`.
    pub const fn secret_type(self) -> &'static str {
        match self {
            Self::DockerConfigJson => "kubernetes.io/dockerconfigjson",
            Self::DockerCfg => "kubernetes.io/dockercfg",
        }
    }

    /// The key in the Secret's `data` that holds the config, e.g. `.dockercfg`.
    pub const fn data_key(self) -> &'static str {
        match self {
            Self::DockerConfigJson => ".dockerconfigjson",
            Self::DockerCfg => ".dockercfg",
        }
    }
}

/// What could not be decoded in a Secret's config data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeFailure {
    /// The `data` value is not standard base64.
    Base64,
    /// The decoded bytes are not JSON of the expected shape.
    Json,
}

/// Why a Secret's registry keys could not be read.
///
/// Messages name the Secret type or data key, never any of the data: neither
/// the decoded bytes nor the base64/serde error text (which can quote input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerConfigError {
    /// The Secret's type (held here) is not a docker-config type.
    WrongType(String),
    /// The Secret's `data` has no entry under this key.
    MissingKey(&'static str),
    /// The entry under `key` does not decode.
    Undecodable {
        key: &'static str,
        failure: DecodeFailure,
    },
    /// A `.dockerconfigjson` without an `auths` object.
    NoAuths,
}

impl fmt::Display for DockerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType(found) => write!(
                f,
                "secret type {found:?} holds no registry credentials; use {:?} or {:?}",
                ConfigFormat::DockerConfigJson.secret_type(),
                ConfigFormat::DockerCfg.secret_type(),
            ),
            Self::MissingKey(key) => write!(f, "secret data has no {key:?} entry"),
            Self::Undecodable { key, failure } => {
                let what = match failure {
                    DecodeFailure::Base64 => "not valid base64",
                    DecodeFailure::Json => "not valid docker config JSON",
                };
                write!(f, "secret data {key:?} is {what}")
            }
            Self::NoAuths => write!(
                f,
                "secret data {:?} has no \"auths\" object",
                ConfigFormat::DockerConfigJson.data_key()
            ),
        }
    }
}

impl std::error::Error for DockerConfigError {}

/// Credential entries by registry key; values are skipped, never held.
type Auths = BTreeMap<String, IgnoredAny>;

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: Option<Auths>,
}

/// The registry keys of a docker-config Secret, sorted and without duplicates.
///
/// `data` is the Secret's `data` map as the API returns it (base64 values).
///
/// ```
/// use std::collections::BTreeMap;
/// use image_pull_secrets::dockerconfig::registry_keys;
/// // {"auths":{"reg.example":{"auth":"dTpw"}}}
/// let data = BTreeMap::from([(
///     ".dockerconfigjson".to_string(),
///     "eyJhdXRocyI6eyJyZWcuZXhhbXBsZSI6eyJhdXRoIjoiZFRwdyJ9fX0=".to_string(),
/// )]);
/// let keys = registry_keys("kubernetes.io/dockerconfigjson", &data).unwrap();
/// assert_eq!(keys, ["reg.example"]);
/// ```
pub fn registry_keys(
    secret_type: &str,
    data: &BTreeMap<String, String>,
) -> Result<Vec<String>, DockerConfigError> {
    let format = ConfigFormat::of_secret_type(secret_type)?;
    let key = format.data_key();
    let encoded = data.get(key).ok_or(DockerConfigError::MissingKey(key))?;
    // The decode error is dropped: it quotes an offending byte.
    let json = STANDARD
        .decode(encoded)
        .map_err(|_| DockerConfigError::Undecodable {
            key,
            failure: DecodeFailure::Base64,
        })?;
    registry_keys_in_json(format, &json)
}

/// The registry keys in already-decoded config JSON, sorted and without duplicates.
///
/// For callers whose Secret `data` is already bytes (e.g. `k8s-openapi`'s `ByteString`).
///
/// ```
/// use image_pull_secrets::dockerconfig::{registry_keys_in_json, ConfigFormat};
/// let json = br#"{"reg.example": {"auth": "dTpw"}, "https://index.docker.io/v1/": {}}"#;
/// let keys = registry_keys_in_json(ConfigFormat::DockerCfg, json).unwrap();
/// assert_eq!(keys, ["https://index.docker.io/v1/", "reg.example"]);
/// ```
pub fn registry_keys_in_json(
    format: ConfigFormat,
    json: &[u8],
) -> Result<Vec<String>, DockerConfigError> {
    // serde's error text is dropped: it can quote the input.
    let undecodable = |_| DockerConfigError::Undecodable {
        key: format.data_key(),
        failure: DecodeFailure::Json,
    };
    let auths = match format {
        ConfigFormat::DockerConfigJson => serde_json::from_slice::<DockerConfigJson>(json)
            .map_err(undecodable)?
            .auths
            .ok_or(DockerConfigError::NoAuths)?,
        ConfigFormat::DockerCfg => serde_json::from_slice::<Auths>(json).map_err(undecodable)?,
    };
    Ok(auths.into_keys().collect())
}

/// Does the docker-config `key` cover an image in `repository` on `registry`?
///
/// `registry` is the image's normalised registry: lower-case host with an
/// optional `:port`, `docker.io` for Docker Hub. `repository` is its
/// normalised path, e.g. `library/nginx`. Keys follow kubelet's rules: an
/// optional `http(s)://`, a host whose labels may hold `*` globs, an exact
/// port, and a path where `/v1/` and `/v2/` mean the bare host. A key that is
/// not a registry location covers nothing.
///
/// ```
/// use image_pull_secrets::dockerconfig::key_covers;
/// assert!(key_covers("https://index.docker.io/v1/", "docker.io", "library/nginx"));
/// assert!(key_covers("*.corp.example", "reg.corp.example", "team/app"));
/// assert!(key_covers("reg.example:5000/team", "reg.example:5000", "team/app"));
/// assert!(!key_covers("reg.example/team", "reg.example", "teammate/app"));
/// assert!(!key_covers("reg.example", "reg.example:5000", "team/app"));
/// ```
pub fn key_covers(key: &str, registry: &str, repository: &str) -> bool {
    AuthKey::parse(key).is_some_and(|key| key.covers(registry, repository))
}

/// Does any of `keys` cover an image in `repository` on `registry`? See [`key_covers`].
///
/// ```
/// use image_pull_secrets::dockerconfig::covers_any;
/// assert!(covers_any(&["ghcr.io", "reg.example"], "reg.example", "app"));
/// assert!(!covers_any(&["ghcr.io"], "docker.io", "library/nginx"));
/// ```
pub fn covers_any<K: AsRef<str>>(keys: &[K], registry: &str, repository: &str) -> bool {
    keys.iter()
        .any(|key| key_covers(key.as_ref(), registry, repository))
}

/// A docker-config key split into the parts kubelet matches on.
#[derive(Debug, PartialEq, Eq)]
struct AuthKey<'a> {
    /// Host pattern, labels separated by `.`; may hold `*`; Hub aliases folded to `docker.io`.
    host: &'a str,
    port: Option<&'a str>,
    /// Repository path prefix without leading or trailing `/`; empty for the bare host.
    path: &'a str,
    /// The key path ended in `/`: it covers only repositories strictly below it.
    below_only: bool,
}

impl<'a> AuthKey<'a> {
    fn parse(key: &'a str) -> Option<Self> {
        // Characters a registry location never holds, or that kubelet's URL
        // parser would reinterpret (user info, query, fragment, escapes).
        let garbage = |c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '@' | '?' | '#' | '%' | '\\')
        };
        if key.chars().any(garbage) {
            return None;
        }
        let rest = strip_prefix_ignore_case(key, "https://")
            .or_else(|| strip_prefix_ignore_case(key, "http://"))
            .unwrap_or(key);
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
        let (host, port) = split_host_port(authority, is_key_label)?;

        // Kubelet: a leading `/v1` or `/v2` before a `/` is dropped.
        let path = match path.get(..4) {
            Some("/v1/" | "/v2/") => &path[3..],
            _ => path,
        };
        let path = path.strip_prefix('/').unwrap_or(path);
        let (path, below_only) = match path.strip_suffix('/') {
            Some(inner) => (inner, true),
            None => (path, false),
        };
        // Kubelet's prefix for an empty segment (`host//`, `host/a//b`) matches no image.
        if (below_only || !path.is_empty()) && path.split('/').any(str::is_empty) {
            return None;
        }
        Some(Self {
            host,
            port,
            path,
            below_only,
        })
    }

    fn covers(&self, registry: &str, repository: &str) -> bool {
        let Some((host, port)) = split_host_port(registry, is_host_label) else {
            return false;
        };
        self.port == port && host_matches(self.host, host) && self.path_covers(repository)
    }

    /// Kubelet checks a raw string prefix, so its key `reg/team` also covers
    /// `reg/teammate/app`. Comparing whole path segments closes that look-alike.
    fn path_covers(&self, repository: &str) -> bool {
        if self.path.is_empty() {
            return true;
        }
        let mut segments = repository.split('/');
        self.path
            .split('/')
            .all(|prefix| segments.next() == Some(prefix))
            && !(self.below_only && segments.next().is_none())
    }
}

/// Splits `host[:port]`, checks each host label and the port, and folds Docker Hub aliases.
fn split_host_port(authority: &str, is_label: fn(&str) -> bool) -> Option<(&str, Option<&str>)> {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok || !host.split('.').all(is_label) {
        return None;
    }
    // A key for any of Docker Hub's names covers images whose registry is `docker.io`. Kubelet
    // itself only matches `docker.io` and a bare `index.docker.io`; `registry-1.docker.io` and Hub
    // keys with a path are accepted here on purpose.
    let is_hub = port.is_none() && is_docker_hub_alias(host);
    Some((if is_hub { DOCKER_HUB } else { host }, port))
}

fn is_host_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_key_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*')
}

/// Same number of labels, each matched by its glob, ignoring ASCII case.
fn host_matches(pattern: &str, host: &str) -> bool {
    pattern.split('.').count() == host.split('.').count()
        && pattern
            .split('.')
            .zip(host.split('.'))
            .all(|(p, h)| label_matches(p.as_bytes(), h.as_bytes()))
}

/// Glob match within one label: `*` matches any run of characters, including none.
fn label_matches(pattern: &[u8], label: &[u8]) -> bool {
    let (mut p, mut l) = (0, 0);
    // Where the last `*` was, and how much of `label` it has swallowed so far.
    let mut last_star: Option<(usize, usize)> = None;
    while l < label.len() {
        match pattern.get(p) {
            Some(b'*') => {
                last_star = Some((p, l));
                p += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&label[l]) => {
                p += 1;
                l += 1;
            }
            _ => match last_star {
                Some((star, swallowed)) => {
                    p = star + 1;
                    l = swallowed + 1;
                    last_star = Some((star, swallowed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const CANARY: &str = "CANARY-s3cr3t";

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    fn data(key: &str, value: String) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value)])
    }

    fn undecodable(key: &'static str, failure: DecodeFailure) -> DockerConfigError {
        DockerConfigError::Undecodable { key, failure }
    }

    #[rstest]
    #[case::dockerconfigjson(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"auths":{"reg.example":{"auth":"dTpw"},"ghcr.io":{}}}"#)),
        Ok(vec!["ghcr.io", "reg.example"])
    )]
    #[case::dockerconfigjson_other_fields_ignored(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"credsStore":"x","auths":{"reg.example":{}},"HttpHeaders":{}}"#)),
        Ok(vec!["reg.example"])
    )]
    #[case::dockerconfigjson_empty_auths(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"auths":{}}"#)),
        Ok(vec![])
    )]
    #[case::dockercfg(
        "kubernetes.io/dockercfg",
        data(".dockercfg", b64(r#"{"https://index.docker.io/v1/":{"auth":"dTpw","email":"a@b"},"reg.example":{}}"#)),
        Ok(vec!["https://index.docker.io/v1/", "reg.example"])
    )]
    #[case::duplicate_keys_collapse(
        "kubernetes.io/dockercfg",
        data(".dockercfg", b64(r#"{"reg.example":{},"reg.example":{}}"#)),
        Ok(vec!["reg.example"])
    )]
    #[case::wrong_type(
        "Opaque",
        data(".dockerconfigjson", b64(r#"{"auths":{}}"#)),
        Err(DockerConfigError::WrongType("Opaque".into()))
    )]
    #[case::type_is_case_sensitive(
        "Kubernetes.io/DockerConfigJson",
        data(".dockerconfigjson", b64(r#"{"auths":{}}"#)),
        Err(DockerConfigError::WrongType("Kubernetes.io/DockerConfigJson".into()))
    )]
    #[case::missing_dockerconfigjson_key(
        "kubernetes.io/dockerconfigjson",
        data(".dockercfg", b64(r#"{"reg.example":{}}"#)),
        Err(DockerConfigError::MissingKey(".dockerconfigjson"))
    )]
    #[case::missing_dockercfg_key(
        "kubernetes.io/dockercfg",
        BTreeMap::new(),
        Err(DockerConfigError::MissingKey(".dockercfg"))
    )]
    #[case::bad_base64(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", "not base64!".into()),
        Err(undecodable(".dockerconfigjson", DecodeFailure::Base64))
    )]
    #[case::bad_json(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"auths":{"reg.example":"#)),
        Err(undecodable(".dockerconfigjson", DecodeFailure::Json))
    )]
    #[case::bad_json_dockercfg(
        "kubernetes.io/dockercfg",
        data(".dockercfg", b64("[1, 2]")),
        Err(undecodable(".dockercfg", DecodeFailure::Json))
    )]
    #[case::empty_data(
        "kubernetes.io/dockercfg",
        data(".dockercfg", String::new()),
        Err(undecodable(".dockercfg", DecodeFailure::Json))
    )]
    #[case::auths_not_an_object(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"auths":["reg.example"]}"#)),
        Err(undecodable(".dockerconfigjson", DecodeFailure::Json))
    )]
    #[case::no_auths(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"reg.example":{}}"#)),
        Err(DockerConfigError::NoAuths)
    )]
    #[case::null_auths(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(r#"{"auths":null}"#)),
        Err(DockerConfigError::NoAuths)
    )]
    fn registry_keys_reads_only_keys(
        #[case] secret_type: &str,
        #[case] data: BTreeMap<String, String>,
        #[case] expected: Result<Vec<&str>, DockerConfigError>,
    ) {
        let expected = expected.map(|keys| keys.into_iter().map(String::from).collect());
        assert_eq!(registry_keys(secret_type, &data), expected);
    }

    #[rstest]
    #[case::wrong_type(
        DockerConfigError::WrongType("Opaque".into()),
        r#"secret type "Opaque" holds no registry credentials; use "kubernetes.io/dockerconfigjson" or "kubernetes.io/dockercfg""#
    )]
    #[case::missing_key(
        DockerConfigError::MissingKey(".dockercfg"),
        r#"secret data has no ".dockercfg" entry"#
    )]
    #[case::bad_base64(
        undecodable(".dockerconfigjson", DecodeFailure::Base64),
        r#"secret data ".dockerconfigjson" is not valid base64"#
    )]
    #[case::bad_json(
        undecodable(".dockercfg", DecodeFailure::Json),
        r#"secret data ".dockercfg" is not valid docker config JSON"#
    )]
    #[case::no_auths(
        DockerConfigError::NoAuths,
        r#"secret data ".dockerconfigjson" has no "auths" object"#
    )]
    fn error_messages_name_the_input(#[case] error: DockerConfigError, #[case] message: &str) {
        assert_eq!(error.to_string(), message);
    }

    #[rstest]
    #[case::valid_dockerconfigjson(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(&format!(
            r#"{{"auths":{{"reg.example":{{"auth":"{CANARY}","password":"{CANARY}","identitytoken":"{CANARY}","registrytoken":"{CANARY}"}}}}}}"#
        )))
    )]
    #[case::valid_dockercfg(
        "kubernetes.io/dockercfg",
        data(".dockercfg", b64(&format!(r#"{{"reg.example":{{"auth":"{CANARY}","password":"{CANARY}"}}}}"#)))
    )]
    #[case::truncated_json(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(&format!(r#"{{"auths":{{"reg.example":{{"password":"{CANARY}"#)))
    )]
    #[case::value_of_wrong_type(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(&format!(r#"{{"auths":"{CANARY}"}}"#)))
    )]
    #[case::unclosed_object(
        "kubernetes.io/dockerconfigjson",
        data(".dockerconfigjson", b64(&format!(r#"{{"auths":{{"reg.example":{{"identitytoken":"{CANARY}"}}}}"#)))
    )]
    #[case::invalid_escape_after_secret(
        "kubernetes.io/dockercfg",
        data(".dockercfg", b64(&format!(r#"{{"reg.example":{{"password":"{CANARY}\q"}}}}"#)))
    )]
    #[case::not_base64(
        "kubernetes.io/dockercfg",
        data(".dockercfg", format!("{CANARY}!!"))
    )]
    #[case::base64_of_plain_text("kubernetes.io/dockercfg", data(".dockercfg", b64(CANARY)))]
    fn credential_values_never_leak(
        #[case] secret_type: &str,
        #[case] data: BTreeMap<String, String>,
    ) {
        match registry_keys(secret_type, &data) {
            Ok(keys) => assert_eq!(keys, ["reg.example"]),
            Err(error) => {
                assert!(!error.to_string().contains(CANARY), "{error}");
                assert!(!format!("{error:?}").contains(CANARY), "{error:?}");
            }
        }
    }

    #[rstest]
    // Host forms.
    #[case::bare_host("reg.example", "reg.example", "team/app", true)]
    #[case::https_scheme("https://reg.example", "reg.example", "team/app", true)]
    #[case::http_scheme("http://reg.example", "reg.example", "team/app", true)]
    #[case::scheme_any_case("HTTPS://reg.example", "reg.example", "team/app", true)]
    #[case::trailing_slash("reg.example/", "reg.example", "team/app", true)]
    #[case::v1_path("https://reg.example/v1/", "reg.example", "team/app", true)]
    #[case::v2_path("https://reg.example/v2/", "reg.example", "team/app", true)]
    #[case::v2_path_without_scheme("reg.example/v2/", "reg.example", "team/app", true)]
    #[case::v2_then_path("reg.example/v2/team", "reg.example", "team/app", true)]
    #[case::v2_then_other_path("reg.example/v2/other", "reg.example", "team/app", false)]
    #[case::v2_without_slash_is_a_path("reg.example/v2", "reg.example", "team/app", false)]
    #[case::case_insensitive_host("REG.Example", "reg.example", "team/app", true)]
    #[case::path_is_case_sensitive("reg.example/Team", "reg.example", "team/app", false)]
    #[case::other_host("ghcr.io", "reg.example", "team/app", false)]
    // Ports.
    #[case::port("https://reg.example:5000/v2/", "reg.example:5000", "team/app", true)]
    #[case::port_missing_in_key("reg.example", "reg.example:5000", "team/app", false)]
    #[case::port_missing_in_image("reg.example:5000", "reg.example", "team/app", false)]
    #[case::port_differs("reg.example:5000", "reg.example:5001", "team/app", false)]
    #[case::ip_and_port("10.0.0.1:5000", "10.0.0.1:5000", "app", true)]
    #[case::localhost_port("localhost:5000", "localhost:5000", "app", true)]
    // Paths, by whole segment.
    #[case::path_prefix("reg.example/team", "reg.example", "team/app", true)]
    #[case::path_prefix_deeper("reg.example/team", "reg.example", "team/sub/app", true)]
    #[case::path_exact("reg.example/team/app", "reg.example", "team/app", true)]
    #[case::path_longer_than_repository("reg.example/team/app/x", "reg.example", "team/app", false)]
    #[case::path_lookalike_teammate("reg.example/team", "reg.example", "teammate/app", false)]
    #[case::path_trailing_slash_covers_below("reg.example/team/", "reg.example", "team/app", true)]
    #[case::path_trailing_slash_not_itself("reg.example/team/", "reg.example", "team", false)]
    #[case::path_with_scheme_and_port(
        "https://reg.example:5000/team",
        "reg.example:5000",
        "team/app",
        true
    )]
    #[case::path_other_team("reg.example/other", "reg.example", "team/app", false)]
    // Wildcards, one label at a time.
    #[case::wildcard_label("*.corp.example", "a.corp.example", "team/app", true)]
    #[case::wildcard_not_spanning_labels("*.corp.example", "a.b.corp.example", "team/app", false)]
    #[case::wildcard_not_empty_label("*.corp.example", "corp.example", "team/app", false)]
    #[case::wildcard_inside_label("reg-*.example", "reg-1.example", "team/app", true)]
    #[case::wildcard_matches_empty("reg-*.example", "reg-.example", "team/app", true)]
    #[case::wildcard_inside_label_mismatch("reg-*.example", "cache-1.example", "team/app", false)]
    #[case::wildcard_with_port("*.corp.example:5000", "a.corp.example:5000", "app", true)]
    #[case::wildcard_port_still_exact("*.corp.example", "a.corp.example:5000", "app", false)]
    #[case::wildcard_backtracks("a*b*c.example", "axbxbyc.example", "app", true)]
    #[case::wildcard_mismatch_tail("a*bc.example", "axbcd.example", "app", false)]
    #[case::wildcard_with_path("*.corp.example/team", "a.corp.example", "team/app", true)]
    // Docker Hub.
    #[case::hub_docker_io("docker.io", "docker.io", "library/nginx", true)]
    #[case::hub_index("index.docker.io", "docker.io", "library/nginx", true)]
    #[case::hub_registry_1("registry-1.docker.io", "docker.io", "team/app", true)]
    #[case::hub_legacy_key("https://index.docker.io/v1/", "docker.io", "library/nginx", true)]
    #[case::hub_index_v2("https://index.docker.io/v2/", "docker.io", "library/nginx", true)]
    #[case::hub_registry_1_scheme("https://registry-1.docker.io", "docker.io", "team/app", true)]
    #[case::hub_docker_io_scheme_v1("http://docker.io/v1/", "docker.io", "team/app", true)]
    #[case::hub_index_with_path("index.docker.io/library", "docker.io", "library/nginx", true)]
    #[case::hub_index_with_other_path("index.docker.io/library", "docker.io", "team/app", false)]
    #[case::hub_alias_as_registry("docker.io", "index.docker.io", "library/nginx", true)]
    #[case::hub_with_port_is_not_hub("index.docker.io:443", "docker.io", "library/nginx", false)]
    #[case::hub_wildcard_not_hub("*.docker.io", "docker.io", "library/nginx", false)]
    #[case::non_hub_key("ghcr.io", "docker.io", "library/nginx", false)]
    #[case::hub_key_not_other_registry("https://index.docker.io/v1/", "ghcr.io", "team/app", false)]
    #[case::hub_lookalike("docker.io.evil.com", "docker.io", "library/nginx", false)]
    // Look-alike hosts.
    #[case::lookalike_suffix_label("reg.example.evil.com", "reg.example", "team/app", false)]
    #[case::lookalike_host_with_path("evil.com/reg.example", "reg.example", "team/app", false)]
    #[case::lookalike_path_as_host("evil.com/reg.example", "evil.com", "team/app", false)]
    #[case::lookalike_prefix_label("evil.reg.example", "reg.example", "team/app", false)]
    #[case::lookalike_string_prefix("evilreg.example", "reg.example", "team/app", false)]
    #[case::lookalike_string_suffix("reg.examplex", "reg.example", "team/app", false)]
    #[case::lookalike_short_key("reg.example", "reg.example.evil.com", "team/app", false)]
    // Garbage never covers.
    #[case::empty("", "reg.example", "team/app", false)]
    #[case::only_scheme("https://", "reg.example", "team/app", false)]
    #[case::whitespace("reg .example", "reg.example", "team/app", false)]
    #[case::trailing_newline("reg.example\n", "reg.example", "team/app", false)]
    #[case::user_info("user@reg.example", "reg.example", "team/app", false)]
    #[case::other_scheme("ftp://reg.example", "reg.example", "team/app", false)]
    #[case::empty_port("reg.example:", "reg.example", "team/app", false)]
    #[case::empty_label("reg..example", "reg..example", "team/app", false)]
    #[case::only_slashes("//", "reg.example", "team/app", false)]
    #[case::empty_path_segment("reg.example/team//app", "reg.example", "team/app", false)]
    #[case::ipv6_unsupported("[::1]:5000", "[::1]:5000", "app", false)]
    #[case::empty_registry("reg.example", "", "team/app", false)]
    fn key_covers_follows_kubelet_rules(
        #[case] key: &str,
        #[case] registry: &str,
        #[case] repository: &str,
        #[case] expected: bool,
    ) {
        assert_eq!(key_covers(key, registry, repository), expected);
    }

    #[rstest]
    #[case::none(&[], false)]
    #[case::one_of_many(&["ghcr.io", "reg.example/team", "quay.io"], true)]
    #[case::garbage_and_miss(&["", "https://", "reg.example/other"], false)]
    fn covers_any_is_key_covers_for_some_key(#[case] keys: &[&str], #[case] expected: bool) {
        assert_eq!(covers_any(keys, "reg.example", "team/app"), expected);
    }

    const HOST: &str =
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,3}";
    const REPOSITORY: &str = "[a-z0-9]{1,8}(/[a-z0-9._-]{1,8}){0,3}";

    proptest! {
        #[test]
        fn key_covers_never_panics(key in any::<String>(), registry in any::<String>(), repository in any::<String>()) {
            key_covers(&key, &registry, &repository);
        }

        #[test]
        fn key_covers_never_panics_on_key_like_input(
            key in "(https?://)?[a-zA-Z0-9*.:/_-]{0,24}",
            registry in "[a-z0-9*.:-]{0,16}",
            repository in "[a-z0-9/._-]{0,16}",
        ) {
            key_covers(&key, &registry, &repository);
        }

        #[test]
        fn key_equal_to_registry_covers_all_its_repositories(
            host in HOST,
            port in proptest::option::of(1u16..),
            scheme in prop::sample::select(vec!["", "http://", "https://"]),
            suffix in prop::sample::select(vec!["", "/", "/v1/", "/v2/"]),
            repository in REPOSITORY,
        ) {
            let registry = match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            let key = format!("{scheme}{registry}{suffix}");
            prop_assert!(key_covers(&key, &registry, &repository), "{key} should cover {registry}/{repository}");
        }

        #[test]
        fn key_with_other_host_never_covers(
            host in HOST,
            extra in "[a-z0-9-]{1,6}",
            how in 0..4usize,
            repository in REPOSITORY,
        ) {
            // `.test` keeps both hosts away from the Docker Hub aliases.
            let registry = format!("{host}.test");
            let key = match how {
                0 => format!("{extra}.{registry}"),
                1 => format!("{registry}.{extra}"),
                2 => format!("{extra}{registry}"),
                _ => format!("{registry}{extra}"),
            };
            prop_assert!(!key_covers(&key, &registry, &repository), "{key} must not cover {registry}");
        }

        #[test]
        fn key_path_covers_only_whole_segments(
            host in HOST,
            team in "[a-z0-9]{1,8}",
            tail in "[a-z0-9._-]{1,8}",
            app in "[a-z0-9]{1,8}",
        ) {
            let key = format!("{host}/{team}");
            let below = format!("{team}/{app}");
            let lookalike = format!("{team}{tail}/{app}");
            prop_assert!(key_covers(&key, &host, &below), "{} should cover {}", key, below);
            prop_assert!(!key_covers(&key, &host, &lookalike), "{} must not cover {}", key, lookalike);
        }
    }

    #[test]
    fn auth_key_parses_into_kubelet_parts() {
        assert_eq!(
            AuthKey::parse("https://Reg.Example:5000/v2/team/"),
            Some(AuthKey {
                host: "Reg.Example",
                port: Some("5000"),
                path: "team",
                below_only: true,
            })
        );
        assert_eq!(
            AuthKey::parse("https://index.docker.io/v1/"),
            Some(AuthKey {
                host: DOCKER_HUB,
                port: None,
                path: "",
                below_only: false,
            })
        );
    }
}
