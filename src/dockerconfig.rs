//! What the kubelet reads from a docker-config Secret, and whether that covers an image.
//!
//! Decodes a `kubernetes.io/dockerconfigjson` or `kubernetes.io/dockercfg` Secret as the kubelet
//! builds its keyring (`pkg/credentialprovider`: `DockerConfigEntry.UnmarshalJSON`,
//! `BasicDockerKeyring.Add`, `Lookup`, `URLsMatch`) and keeps, per registry key, only whether its
//! entry yields a username or password: no credential is kept, shown or logged. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use base64::alphabet::STANDARD as STANDARD_ALPHABET;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::registry_host::{distribution_domain, DOCKER_HUB, LEGACY_DOCKER_HUB};

/// The two Secret types that carry registry credentials. `kubernetes.io/dockerconfigjson` holds
/// `{"auths": {"<key>": {...}}}` under `.dockerconfigjson`; the legacy `kubernetes.io/dockercfg`
/// holds `{"<key>": {...}}` under `.dockercfg`.
const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

/// The key in the `data` of a Secret of type `secret_type` that holds its config, e.g.
/// `.dockercfg`; an error for a type that holds no registry credentials.
pub fn config_key(secret_type: &str) -> Result<&'static str, DockerConfigError> {
    match secret_type {
        DOCKER_CONFIG_JSON => Ok(".dockerconfigjson"),
        DOCKER_CFG => Ok(".dockercfg"),
        _ => Err(DockerConfigError::WrongType(secret_type.to_owned())),
    }
}

/// Why one registry entry makes the kubelet refuse the whole Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFailure {
    /// The entry is neither a JSON object nor `null`.
    NotAnObject,
    /// `username`, `password`, `email` or `auth` (named here) holds something other than a string.
    NotAString(&'static str),
    /// `auth` is neither padded nor unpadded standard base64.
    AuthNotBase64,
    /// `auth` decodes, but holds no `:` between user and password.
    AuthWithoutColon,
}

/// Why a Secret gives no usable registry credentials.
///
/// Messages name the Secret type, the data key and the registry key (its user info hidden), never
/// any of the data: neither the decoded bytes nor the base64/serde error text (which can quote it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerConfigError {
    /// The Secret's type (held here) is not a docker-config type.
    WrongType(String),
    /// The Secret's `data` has no entry under this key.
    MissingKey(&'static str),
    /// The entry under this key is not standard base64.
    NotBase64(&'static str),
    /// The entry under this key decodes to bytes that are not JSON of the expected shape.
    NotJson(&'static str),
    /// A `.dockerconfigjson` without an `auths` object.
    NoAuths,
    /// The entry for `registry` under data key `key` fails the kubelet's decoding, so the kubelet
    /// fails every pull of a pod that lists the Secret, whichever image it pulls.
    BadEntry {
        key: &'static str,
        registry: String,
        failure: EntryFailure,
    },
}

impl fmt::Display for DockerConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType(found) => write!(
                f,
                "secret type {found:?} holds no registry credentials; use {DOCKER_CONFIG_JSON:?} \
                 or {DOCKER_CFG:?}"
            ),
            Self::MissingKey(key) => write!(f, "secret data has no {key:?} entry"),
            Self::NotBase64(key) => write!(f, "secret data {key:?} is not valid base64"),
            Self::NotJson(key) => write!(f, "secret data {key:?} is not valid docker config JSON"),
            Self::NoAuths => {
                f.write_str("secret data \".dockerconfigjson\" has no \"auths\" object")
            }
            Self::BadEntry {
                key,
                registry,
                failure,
            } => {
                let set_auth = "set \"auth\" to the base64 of <user>:<password>";
                let (what, fix) = match failure {
                    EntryFailure::NotAnObject => {
                        ("is not a JSON object", "make it an object with \"auth\"")
                    }
                    EntryFailure::NotAString(field) => (
                        &*format!("has a {field:?} that is not a string"),
                        "make it a string",
                    ),
                    EntryFailure::AuthNotBase64 => ("has an \"auth\" that is not base64", set_auth),
                    EntryFailure::AuthWithoutColon => (
                        "has an \"auth\" that does not decode to <user>:<password>",
                        set_auth,
                    ),
                };
                write!(
                    f,
                    "secret data {key:?}: the entry for registry {:?} {what}, so the kubelet \
                     refuses the whole secret and every pull of the pod fails ({fix})",
                    shown_key(registry)
                )
            }
        }
    }
}

impl std::error::Error for DockerConfigError {}

/// A registry key as a message may show it: user info (`user:password@`) hidden, length capped.
fn shown_key(key: &str) -> String {
    let (scheme, rest) = key
        .find("://")
        .map_or(("", key), |i| key.split_at(i + "://".len()));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let shown = match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}<user>{}", &rest[at..]),
        None => key.to_string(),
    };
    const MAX_CHARS: usize = 100;
    if shown.chars().count() > MAX_CHARS {
        shown.chars().take(MAX_CHARS).chain(['…']).collect()
    } else {
        shown
    }
}

/// The registry keys of a Secret, as the kubelet's keyring holds them: per key, whether its entry
/// yields a username or password. No credential is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    /// Registry key as written → the entry yields credentials (not an anonymous pull).
    entries: BTreeMap<String, bool>,
}

impl Keyring {
    /// Whether the kubelet would pull an image with credentials from this Secret.
    ///
    /// `registry` and `repository` are the image as the kubelet looks it up (distribution's
    /// `ParseNormalizedNamed(..).Name()`): the host as written, `docker.io` for Docker Hub names
    /// without one or with `docker.io`/`index.docker.io`, and `library/` only there. Every key that
    /// matches counts (`Lookup`); when none does, a key for bare `index.docker.io` serves Docker
    /// Hub images (`isDefaultRegistryMatch`). Matching entries without a username or password
    /// give an anonymous pull, so they do not count.
    pub fn covers(&self, registry: &str, repository: &str) -> bool {
        let image = format!("{registry}/{repository}");
        let Some(target) = Url::parse(&format!("https://{image}")) else {
            return false;
        };
        let indexed: Vec<(String, bool)> = self
            .entries
            .iter()
            .filter_map(|(key, credentials)| index_key(key).map(|index| (index, *credentials)))
            .collect();
        let mut matched = indexed
            .iter()
            .filter(|(index, _)| urls_match_str(index, &target))
            .peekable();
        if matched.peek().is_some() {
            return matched.any(|(_, credentials)| *credentials);
        }
        is_default_registry_match(&image)
            && indexed
                .iter()
                .any(|(index, credentials)| index == LEGACY_DOCKER_HUB && *credentials)
    }
}

/// The kubelet's keyring of a Secret of type `secret_type` with `data` (base64 values, as the API
/// returns them).
///
/// The config JSON is decoded as Go's `encoding/json` decodes it into the kubelet's types: field
/// names (`auths`, `auth`, `username`, `password`, `email`, `HttpHeaders`) match in any case, a
/// later duplicate wins, unknown fields are ignored and `null` leaves a field unset. The first
/// entry that fails `DockerConfigEntry.UnmarshalJSON` fails the whole Secret.
pub fn keyring(
    secret_type: &str,
    data: &BTreeMap<String, String>,
) -> Result<Keyring, DockerConfigError> {
    let key = config_key(secret_type)?;
    let encoded = data.get(key).ok_or(DockerConfigError::MissingKey(key))?;
    // The base64 and serde errors are dropped: they can quote the data.
    let json = STANDARD
        .decode(encoded)
        .map_err(|_| DockerConfigError::NotBase64(key))?;
    let (entries, first_failure) = match secret_type {
        DOCKER_CONFIG_JSON => read::<true>(&json).map(|c| (c.auths, c.first_failure)),
        // DOCKER_CFG, the only other type with a config key: the entries at the top level.
        _ => read::<false>(&json).map(|c| (Some(c.auths.unwrap_or_default()), c.first_failure)),
    }
    .map_err(|_| DockerConfigError::NotJson(key))?;
    if let Some((registry, failure)) = first_failure {
        return Err(DockerConfigError::BadEntry {
            key,
            registry,
            failure,
        });
    }
    let entries = entries.ok_or(DockerConfigError::NoAuths)?;
    Ok(Keyring { entries })
}

// ---- Decoding, as Go's encoding/json fills the kubelet's types ----

/// A config from its JSON; `null` leaves it empty.
fn read<const DOCUMENT: bool>(json: &[u8]) -> serde_json::Result<Config<DOCUMENT>> {
    serde_json::from_slice::<Option<_>>(json).map(Option::unwrap_or_default)
}

/// Go's `encoding/json` matches a key to a field name folding case rune by rune
/// (`ToUpper(ToLower(r))`), so a few non-ASCII letters also stand for ASCII ones.
fn json_name_is(key: &str, field: &str) -> bool {
    let fold = |c: char| match c {
        'ſ' => 'S',
        '\u{212A}' => 'K',
        'ı' | 'İ' => 'I',
        c => c.to_ascii_uppercase(),
    };
    key.chars().map(fold).eq(field.chars().map(fold))
}

/// A docker config as Go's `encoding/json` fills the kubelet's types: with `DOCUMENT`,
/// `credentialprovider.DockerConfigJSON` (`auths`, and `HttpHeaders` whose type Go still
/// checks); without, `credentialprovider.DockerConfig`, the registry entries themselves (all of
/// a `.dockercfg`, and `auths`).
#[derive(Default)]
struct Config<const DOCUMENT: bool> {
    /// Per registry key, whether its entry yields credentials. In a document, `None` while no
    /// `auths` object was seen, or after a later `null` reset it (as Go does).
    auths: Option<BTreeMap<String, bool>>,
    /// The first entry, in document order, that fails to decode: there Go stops.
    first_failure: Option<(String, EntryFailure)>,
}

impl<'de, const DOCUMENT: bool> Deserialize<'de> for Config<DOCUMENT> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConfigVisitor<const DOCUMENT: bool>;
        impl<'de, const DOCUMENT: bool> Visitor<'de> for ConfigVisitor<DOCUMENT> {
            type Value = Config<DOCUMENT>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a docker config object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut config = Config::default();
                while let Some(name) = map.next_key::<String>()? {
                    if !DOCUMENT {
                        let credentials = match map.next_value()? {
                            Some(RawEntry::Object(Entry(credentials))) => credentials,
                            // `null` reaches `UnmarshalJSON`, which leaves the entry empty.
                            None => Ok(false),
                            Some(RawEntry::Other(_)) => Err(EntryFailure::NotAnObject),
                        };
                        if let Err(failure) = credentials {
                            config
                                .first_failure
                                .get_or_insert_with(|| (name.clone(), failure));
                        }
                        let auths = config.auths.get_or_insert_default();
                        auths.insert(name, credentials.unwrap_or(false));
                    } else if json_name_is(&name, "auths") {
                        // Go decodes a second `auths` object into the same map; `null` resets it.
                        match map.next_value::<Option<Config<false>>>()? {
                            Some(more) => {
                                config.first_failure =
                                    config.first_failure.take().or(more.first_failure);
                                let auths = config.auths.get_or_insert_default();
                                auths.extend(more.auths.unwrap_or_default());
                            }
                            None => config.auths = None,
                        }
                    } else if json_name_is(&name, "httpheaders") {
                        // Go's `map[string]string` takes only an object of strings (or `null`):
                        // any other shape makes `json.Unmarshal` fail, and the whole Secret.
                        map.next_value::<Option<BTreeMap<String, Option<String>>>>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(config)
            }
        }
        deserializer.deserialize_map(ConfigVisitor)
    }
}

/// A registry entry's JSON: an object, or any other value (read past, a list's content
/// unchecked); `null` is read as `None` around it.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Object(Entry),
    Other(IgnoredAny),
}

/// One registry entry object, as `DockerConfigEntry.UnmarshalJSON` decodes it: whether it
/// yields a username or password, or why the kubelet cannot decode it. No value is kept.
struct Entry(Result<bool, EntryFailure>);

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = Entry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a registry entry")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // `DockerConfigEntry`'s string fields; `values` holds them in this order.
                const FIELDS: [&str; 4] = ["username", "password", "email", "auth"];
                let mut values: [String; 4] = Default::default();
                let mut failure = None;
                while let Some(name) = map.next_key::<String>()? {
                    let Some(field) = FIELDS.iter().position(|field| json_name_is(&name, field))
                    else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    // As a Go `string` field: `null` leaves it unchanged, other types fail.
                    match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(text) => values[field] = text,
                        serde_json::Value::Null => {}
                        _ => _ = failure.get_or_insert(EntryFailure::NotAString(FIELDS[field])),
                    }
                }
                let [username, password, _email, auth] = values;
                let credentials = credentials(&username, &password, &auth);
                Ok(Entry(failure.map_or(credentials, Err)))
            }
        }
        deserializer.deserialize_map(EntryVisitor)
    }
}

/// Whether an entry's fields yield a username or password, or why the kubelet cannot decode them.
fn credentials(username: &str, password: &str, auth: &str) -> Result<bool, EntryFailure> {
    if auth.is_empty() {
        return Ok(!username.is_empty() || !password.is_empty());
    }
    let decoded = decode_auth_field(auth)?;
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or(EntryFailure::AuthWithoutColon)?;
    // Username before the first `:`, password after it.
    Ok(colon > 0 || colon + 1 < decoded.len())
}

/// `decodeDockerConfigFieldAuth`'s base64: padded (standard) when the trimmed field ends in `=`,
/// otherwise unpadded (raw); like Go, line breaks are skipped and unused trailing bits allowed.
fn decode_auth_field(field: &str) -> Result<Vec<u8>, EntryFailure> {
    let mode = match field.trim().ends_with('=') {
        true => DecodePaddingMode::RequireCanonical,
        false => DecodePaddingMode::RequireNone,
    };
    let engine = GeneralPurpose::new(
        &STANDARD_ALPHABET,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(mode)
            .with_decode_allow_trailing_bits(true),
    );
    engine
        .decode(field.replace(['\r', '\n'], ""))
        .map_err(|_| EntryFailure::AuthNotBase64)
}

// ---- Matching, as BasicDockerKeyring.Add and Lookup do ----

/// The host and path Go's `url.Parse` gives for an `http(s)://` URL; `None` where it fails.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    /// `host[:port]`, user info dropped, case kept.
    host: String,
    /// Percent-decoded; query and fragment dropped.
    path: String,
}

impl Url {
    fn parse(raw: &str) -> Option<Url> {
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return None;
        }
        let raw = raw.split('#').next().unwrap_or_default();
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| raw.strip_prefix("http://"))?;
        let rest = rest.split('?').next().unwrap_or_default();
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        // Characters Go accepts in user info (`validUserinfo`).
        let user_info = |c: char| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c);
        let host = match authority.rfind('@') {
            Some(at) if !authority[..at].chars().all(user_info) => return None,
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        let path = percent_decode(path)?;
        is_url_host(host).then(|| Url {
            host: host.to_string(),
            path,
        })
    }
}

/// Go's `parseHost` for hosts that can ever match an image: no IPv6 literal, an optional `:port`
/// of digits, only the ASCII characters a host may hold unescaped. Hosts it would refuse, and
/// those with `%` or non-ASCII characters (never equal to an image's host), give `false`.
fn is_url_host(host: &str) -> bool {
    let port = host.rsplit_once(':').map_or("", |(_, port)| port);
    !host.starts_with('[')
        && port.bytes().all(|b| b.is_ascii_digit())
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~!$&'()*+,;=:[]<>\"".contains(c))
}

/// Go's `unescape` for paths: `%XX` decoded, a bad escape fails.
fn percent_decode(path: &str) -> Option<String> {
    let is_hex = |hex: &&str| hex.bytes().all(|b| b.is_ascii_hexdigit());
    let mut parts = path.split('%');
    let mut out = parts.next().unwrap_or_default().as_bytes().to_vec();
    for part in parts {
        // `get` found two bytes in `part`: slicing past them cannot panic.
        out.push(u8::from_str_radix(part.get(..2).filter(is_hex)?, 16).ok()?);
        out.extend_from_slice(&part.as_bytes()[2..]);
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `BasicDockerKeyring.Add`: the index key of a registry key (host, plus a path unless it is
/// empty, `/`, or only `/v1/` or `/v2/`); `None` for keys the kubelet ignores.
fn index_key(key: &str) -> Option<String> {
    let Url { host, path } = match key.starts_with("https://") || key.starts_with("http://") {
        true => Url::parse(key)?,
        false => Url::parse(&format!("https://{key}"))?,
    };
    let path = match path.get(..4) {
        Some("/v1/" | "/v2/") => &path[3..],
        _ => &path,
    };
    match path {
        "" | "/" => Some(host),
        path => Some(host + path),
    }
}

/// `URLsMatchStr`: the index key, parsed again as a schemeless URL, matches the image.
fn urls_match_str(index: &str, target: &Url) -> bool {
    let Some(glob) = Url::parse(&format!("https://{index}")) else {
        return false;
    };
    let (glob_labels, glob_port) = split_url(&glob.host);
    let (labels, port) = split_url(&target.host);
    glob_port == port
        && glob_labels.len() == labels.len()
        && target.path.starts_with(&glob.path)
        && glob_labels
            .iter()
            .zip(&labels)
            .all(|(pattern, label)| label_matches(pattern, label))
}

/// `SplitURL`: host labels and port, by `net.SplitHostPort`; where that fails, the whole host
/// and no port.
fn split_url(host: &str) -> (Vec<&str>, &str) {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.contains([':', '[', ']']) && !port.contains(['[', ']']) => {
            (name, port)
        }
        _ => (host, ""),
    };
    (name.split('.').collect(), port)
}

/// `isDefaultRegistryMatch`: the image's first component is Docker Hub's or not a host.
fn is_default_registry_match(image: &str) -> bool {
    match image.split_once('/') {
        _ if image.is_empty() || image.starts_with('/') => false,
        None => true,
        Some((first, _)) => distribution_domain(first) == DOCKER_HUB || !first.contains(['.', ':']),
    }
}

/// One piece of a `filepath.Match` pattern, as a URL host can hold it (`?`, `^` and `\` cannot
/// appear in one). A literal character is a class of one.
#[derive(Debug)]
enum GlobToken {
    Star,
    Class(Vec<(char, char)>),
}

/// `filepath.Match` on one host label: case-sensitive, `*` for any run of characters, `[a-z]`
/// classes; a malformed pattern matches nothing.
fn label_matches(pattern: &str, label: &str) -> bool {
    let Some(tokens) = glob_tokens(pattern) else {
        return false;
    };
    let label: Vec<char> = label.chars().collect();
    // Which prefixes of the label (by length) the tokens read so far match.
    let mut matched: Vec<bool> = (0..=label.len()).map(|len| len == 0).collect();
    for token in &tokens {
        let mut any_shorter = false;
        matched = (0..=label.len())
            .map(|len| match token {
                GlobToken::Star => {
                    any_shorter |= matched[len];
                    any_shorter
                }
                GlobToken::Class(ranges) => {
                    len > 0
                        && matched[len - 1]
                        && ranges
                            .iter()
                            .any(|(lo, hi)| (*lo..=*hi).contains(&label[len - 1]))
                }
            })
            .collect();
    }
    matched[label.len()]
}

fn glob_tokens(pattern: &str) -> Option<Vec<GlobToken>> {
    let mut chars = pattern.chars().peekable();
    let mut tokens = Vec::new();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '*' => GlobToken::Star,
            '[' => {
                let mut ranges = Vec::new();
                loop {
                    match chars.next()? {
                        ']' if !ranges.is_empty() => break,
                        '-' | ']' => return None,
                        lo => {
                            let hi = match chars.next_if_eq(&'-') {
                                Some(_) => chars.next().filter(|hi| !matches!(hi, '-' | ']'))?,
                                None => lo,
                            };
                            ranges.push((lo, hi));
                        }
                    }
                }
                GlobToken::Class(ranges)
            }
            c => GlobToken::Class(vec![(c, c)]),
        });
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::DockerConfigError::{MissingKey, NoAuths, NotBase64, NotJson, WrongType};
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    const CANARY: &str = "CANARY-s3cr3t";
    const JSON: &str = "kubernetes.io/dockerconfigjson";
    const CFG: &str = "kubernetes.io/dockercfg";

    fn data(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value.to_owned())])
    }

    /// The registry keys `keyring` reads, sorted and once each.
    fn registry_keys(
        secret_type: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, DockerConfigError> {
        Ok(keyring(secret_type, data)?.entries.into_keys().collect())
    }

    /// Whether a keyring holding credentials under `key` alone covers the image.
    fn key_covers(key: &str, registry: &str, repository: &str) -> bool {
        let entries = BTreeMap::from([(key.to_string(), true)]);
        Keyring { entries }.covers(registry, repository)
    }

    /// `.dockerconfigjson` holding `text` in base64.
    fn json_key(text: &str) -> BTreeMap<String, String> {
        data(".dockerconfigjson", &STANDARD.encode(text))
    }

    /// `.dockercfg` holding `text` in base64.
    fn cfg_key(text: &str) -> BTreeMap<String, String> {
        data(".dockercfg", &STANDARD.encode(text))
    }

    /// Only the registry keys are read, sorted and once each; an error names the data key and
    /// never holds secret data (the `CANARY` cases).
    #[rstest]
    #[case::dockerconfigjson(JSON, json_key(r#"{"auths":{"reg.example":{"auth":"dTpw"},"ghcr.io":{}}}"#), Ok(vec!["ghcr.io", "reg.example"]))]
    #[case::other_fields_ignored(JSON, json_key(r#"{"credsStore":"x","auths":{"reg.example":{}},"HttpHeaders":{}}"#), Ok(vec!["reg.example"]))]
    #[case::empty_auths(JSON, json_key(r#"{"auths":{}}"#), Ok(vec![]))]
    #[case::dockercfg(CFG, cfg_key(r#"{"reg.example":{},"https://index.docker.io/v1/":{"auth":"dTpw"}}"#), Ok(vec!["https://index.docker.io/v1/", "reg.example"]))]
    #[case::duplicate_keys_collapse(CFG, cfg_key(r#"{"reg.example":{},"reg.example":{}}"#), Ok(vec!["reg.example"]))]
    #[case::wrong_type("Opaque", json_key(r#"{"auths":{}}"#), Err(WrongType("Opaque".into())))]
    #[case::type_is_case_sensitive("Kubernetes.io/DockerConfigJson", json_key("{}"), Err(WrongType("Kubernetes.io/DockerConfigJson".into())))]
    #[case::missing_dockerconfigjson_key(
        JSON,
        cfg_key(r#"{"reg.example":{}}"#),
        Err(MissingKey(".dockerconfigjson"))
    )]
    #[case::missing_dockercfg_key(CFG, BTreeMap::new(), Err(MissingKey(".dockercfg")))]
    #[case::bad_base64(
        JSON,
        data(".dockerconfigjson", "not base64!"),
        Err(NotBase64(".dockerconfigjson"))
    )]
    #[case::canary_not_base64(CFG, data(".dockercfg", &format!("{CANARY}!!")), Err(NotBase64(".dockercfg")))]
    #[case::bad_json(
        JSON,
        json_key(r#"{"auths":{"reg.example":"#),
        Err(NotJson(".dockerconfigjson"))
    )]
    #[case::bad_json_dockercfg(CFG, cfg_key("[1, 2]"), Err(NotJson(".dockercfg")))]
    #[case::empty_data(CFG, data(".dockercfg", ""), Err(NotJson(".dockercfg")))]
    #[case::auths_not_an_object(
        JSON,
        json_key(r#"{"auths":["reg.example"]}"#),
        Err(NotJson(".dockerconfigjson"))
    )]
    #[case::canary_truncated(JSON, json_key(&format!(r#"{{"auths":{{"reg.example":{{"password":"{CANARY}"#)), Err(NotJson(".dockerconfigjson")))]
    #[case::canary_value_of_wrong_type(JSON, json_key(&format!(r#"{{"auths":"{CANARY}"}}"#)), Err(NotJson(".dockerconfigjson")))]
    #[case::canary_unclosed(JSON, json_key(&format!(r#"{{"auths":{{"reg.example":{{"identitytoken":"{CANARY}"}}}}"#)), Err(NotJson(".dockerconfigjson")))]
    #[case::canary_invalid_escape(CFG, cfg_key(&format!(r#"{{"reg.example":{{"password":"{CANARY}\q"}}}}"#)), Err(NotJson(".dockercfg")))]
    #[case::canary_plain_text(CFG, cfg_key(CANARY), Err(NotJson(".dockercfg")))]
    #[case::no_auths(JSON, json_key(r#"{"reg.example":{}}"#), Err(NoAuths))]
    #[case::null_auths(JSON, json_key(r#"{"auths":null}"#), Err(NoAuths))]
    fn registry_keys_reads_only_keys(
        #[case] secret_type: &str,
        #[case] data: BTreeMap<String, String>,
        #[case] expected: Result<Vec<&str>, DockerConfigError>,
    ) {
        let expected = expected.map(|keys| keys.into_iter().map(String::from).collect());
        assert_eq!(registry_keys(secret_type, &data), expected);
    }

    #[rstest]
    // Host forms. kubelet: credentialprovider.BasicDockerKeyring.Add strips a lower-case scheme.
    #[case::upper_case_scheme_is_not_stripped(
        "HTTPS://reg.example",
        "reg.example",
        "team/app",
        false
    )]
    #[case::other_scheme("ftp://reg.example", "reg.example", "team/app", false)]
    // kubelet: credentialprovider.BasicDockerKeyring.Add drops a leading /v1/ or /v2/.
    #[case::v2_then_path("reg.example/v2/team", "reg.example", "team/app", true)]
    #[case::v2_then_other_path("reg.example/v2/other", "reg.example", "team/app", false)]
    #[case::v2_without_slash_is_a_path("reg.example/v2", "reg.example", "team/app", false)]
    // kubelet: url.Parse in BasicDockerKeyring.Add drops user info, query and fragment.
    #[case::user_info_dropped("user@reg.example", "reg.example", "team/app", true)]
    #[case::user_and_password_dropped("robot:pw@reg.example/team", "reg.example", "team/app", true)]
    #[case::query_dropped("reg.example/team?x=1", "reg.example", "team/app", true)]
    #[case::escaped_path("reg.example/t%65am", "reg.example", "team/app", true)]
    #[case::bad_escape_ignored("reg.example/t%zzam", "reg.example", "team/app", false)]
    // kubelet: credentialprovider.URLsMatch compares hosts case-sensitively.
    #[case::host_case_differs("REG.Example", "reg.example", "team/app", false)]
    #[case::host_case_same("Reg.Example", "Reg.Example", "team/app", true)]
    #[case::path_is_case_sensitive("reg.example/Team", "reg.example", "team/app", false)]
    #[case::other_host("ghcr.io", "reg.example", "team/app", false)]
    // kubelet: credentialprovider.URLsMatch compares ports (credentialprovider.SplitURL).
    #[case::port("https://reg.example:5000/v2/", "reg.example:5000", "team/app", true)]
    #[case::port_missing_in_key("reg.example", "reg.example:5000", "team/app", false)]
    #[case::port_missing_in_image("reg.example:5000", "reg.example", "team/app", false)]
    #[case::port_differs("reg.example:5000", "reg.example:5001", "team/app", false)]
    #[case::empty_port_is_no_port("reg.example:", "reg.example", "team/app", true)]
    #[case::ip_and_port("10.0.0.1:5000", "10.0.0.1:5000", "app", true)]
    #[case::localhost_port("localhost:5000", "localhost:5000", "app", true)]
    // kubelet: credentialprovider.URLsMatch takes the key's path as a plain string prefix.
    #[case::path_prefix_deeper("reg.example/team", "reg.example", "team/sub/app", true)]
    #[case::path_exact("reg.example/team/app", "reg.example", "team/app", true)]
    #[case::path_longer_than_repository("reg.example/team/app/x", "reg.example", "team/app", false)]
    #[case::path_trailing_slash_covers_below("reg.example/team/", "reg.example", "team/app", true)]
    #[case::path_trailing_slash_not_itself("reg.example/team/", "reg.example", "team", false)]
    #[case::path_with_scheme_and_port(
        "https://reg.example:5000/team",
        "reg.example:5000",
        "team/app",
        true
    )]
    #[case::path_other_team("reg.example/other", "reg.example", "team/app", false)]
    #[case::empty_path_segment("reg.example/team//app", "reg.example", "team/app", false)]
    // kubelet: credentialprovider.URLsMatch globs each label (filepath.Match), same label count.
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
    #[case::wildcard_is_case_sensitive("*.Corp.example", "a.corp.example", "app", false)]
    #[case::class("reg[0-9].example", "reg7.example", "app", true)]
    #[case::class_mismatch("reg[0-9].example", "rega.example", "app", false)]
    #[case::bad_class_matches_nothing("reg[.example", "reg[.example", "app", false)]
    // Docker Hub: the image is looked up under its literal host. kubelet:
    // credentialprovider.BasicDockerKeyring.Lookup and isDefaultRegistryMatch.
    #[case::hub_docker_io("docker.io", "docker.io", "library/nginx", true)]
    #[case::hub_docker_io_scheme_v1("http://docker.io/v1/", "docker.io", "team/app", true)]
    #[case::hub_legacy_key("https://index.docker.io/v1/", "docker.io", "library/nginx", true)]
    #[case::hub_index_bare("index.docker.io", "docker.io", "library/nginx", true)]
    #[case::hub_index_v2("https://index.docker.io/v2/", "docker.io", "library/nginx", true)]
    #[case::hub_index_with_path("index.docker.io/library", "docker.io", "library/nginx", false)]
    #[case::hub_registry_1_key("registry-1.docker.io", "docker.io", "team/app", false)]
    #[case::hub_registry_1_scheme("https://registry-1.docker.io", "docker.io", "team/app", false)]
    #[case::hub_docker_io_not_registry_1("docker.io", "registry-1.docker.io", "acme/app", false)]
    #[case::hub_registry_1_for_registry_1(
        "registry-1.docker.io",
        "registry-1.docker.io",
        "acme/app",
        true
    )]
    #[case::hub_legacy_not_registry_1(
        "https://index.docker.io/v1/",
        "registry-1.docker.io",
        "acme/app",
        false
    )]
    #[case::hub_legacy_for_upper_case_dotless_host("index.docker.io", "Corp", "app", true)]
    #[case::hub_with_port_is_not_hub("index.docker.io:443", "docker.io", "library/nginx", false)]
    #[case::hub_wildcard_not_hub("*.docker.io", "docker.io", "library/nginx", false)]
    #[case::hub_upper_case_index_not_hub("Index.Docker.io", "docker.io", "library/nginx", false)]
    #[case::non_hub_key("ghcr.io", "docker.io", "library/nginx", false)]
    #[case::hub_key_not_other_registry("https://index.docker.io/v1/", "ghcr.io", "team/app", false)]
    #[case::hub_lookalike("docker.io.evil.com", "docker.io", "library/nginx", false)]
    // Look-alike hosts.
    #[case::lookalike_host_with_path("evil.com/reg.example", "reg.example", "team/app", false)]
    #[case::lookalike_path_as_host("evil.com/reg.example", "evil.com", "team/app", false)]
    #[case::lookalike_short_key("reg.example", "reg.example.evil.com", "team/app", false)]
    // Keys url.Parse refuses are ignored.
    #[case::empty("", "reg.example", "team/app", false)]
    #[case::only_scheme("https://", "reg.example", "team/app", false)]
    #[case::whitespace("reg .example", "reg.example", "team/app", false)]
    #[case::trailing_newline("reg.example\n", "reg.example", "team/app", false)]
    #[case::letters_in_port("reg.example:http", "reg.example", "team/app", false)]
    #[case::empty_label("reg..example", "reg.example", "team/app", false)]
    #[case::only_slashes("//", "reg.example", "team/app", false)]
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

    const HOST: &str =
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,3}";
    const REPOSITORY: &str = "[a-z0-9]{1,8}(/[a-z0-9._-]{1,8}){0,3}";

    proptest! {
        #[test]
        fn key_covers_never_panics(
            key in prop_oneof![any::<String>(), "(https?://)?[a-zA-Z0-9*.:/_-]{0,24}"],
            registry in prop_oneof![any::<String>(), "[a-z0-9*.:-]{0,16}"],
            repository in prop_oneof![any::<String>(), "[a-z0-9/._-]{0,16}"],
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

        // kubelet: credentialprovider.URLsMatch (strings.HasPrefix on the path).
        #[test]
        fn key_path_is_a_string_prefix(
            host in HOST,
            team in "[a-z0-9]{1,8}",
            tail in "[a-z0-9._-]{1,8}",
            app in "[a-z0-9]{1,8}",
        ) {
            let key = format!("{host}/{team}");
            let below = format!("{team}/{app}");
            let lookalike = format!("{team}{tail}/{app}");
            prop_assert!(key_covers(&key, &host, &below), "{} should cover {}", key, below);
            prop_assert!(key_covers(&key, &host, &lookalike), "{} should cover {}", key, lookalike);
        }
    }

    // kubelet: DockerConfigEntry.UnmarshalJSON fails on any entry but an object or null.
    #[rstest]
    fn an_entry_not_an_object_fails(#[values("7", "true", "[{\"auth\":7}]")] entry: &str) {
        let data = cfg_key(&format!(r#"{{"reg.example":{entry}}}"#));
        let failure = EntryFailure::NotAnObject;
        let registry = "reg.example".to_string();
        let expected = DockerConfigError::BadEntry {
            key: ".dockercfg",
            registry,
            failure,
        };
        assert_eq!(keyring(CFG, &data), Err(expected));
    }

    // Go's encoding/json matches field names in any case: "AUTHS" is "auths", "Auth" is "auth".
    #[test]
    fn field_names_match_in_any_case() {
        let json = br#"{"AUTHS": {"reg.example": {"Auth": "dTpw"}}}"#;
        let data = data(".dockerconfigjson", &STANDARD.encode(json));
        let keyring = keyring("kubernetes.io/dockerconfigjson", &data).unwrap();
        assert!(keyring.covers("reg.example", "team/app"));
    }
}
