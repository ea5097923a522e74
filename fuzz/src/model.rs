//! Small models of what the policy reads — settings, a Pod or pod-template request, the cluster's
//! answers, a docker-config Secret — that `arbitrary` fills from fuzz bytes. Strings come from pools
//! of realistic and hostile values or are free; where a string belongs, nulls, numbers and objects
//! turn up too. Each model renders to the JSON the policy receives.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use image_pull_secrets::testing::MemoryCluster;
use image_pull_secrets::{Denial, LookupError, Secret};
use serde_json::{json, Map, Value};

use crate::oracle::mentions_canary;

/// Images the test rules match, ones they must not, and strings that are no image at all.
pub const IMAGES: &[&str] = &[
    "reg.example/app:1",
    "registry.corp.example:5000/finance/billing:2.4.1",
    "eu.corp.example/api@sha256:0123456789012345678901234567890123456789012345678901234567890123",
    "acme/api:3",
    "acme/tools/cli",
    "nginx",
    "docker.io/library/nginx:latest",
    "index.docker.io/acme/app",
    "Registry-1.Docker.IO/busybox",
    "localhost:5000/app",
    "Corp/app",
    "REG.EXAMPLE/app",
    "reg.example.evil.com/app",
    "evil.com/reg.example/app",
    "reg.example:5000:5000/app",
    "reg.example/UPPER",
    "https://reg.example/app",
    "reg.example/app/",
    "reg.example/a//b",
    "nginx latest",
    "@sha256:abc",
    "nginx@sha256:abc",
    ":",
    "/",
    "",
    " ",
    "\u{0}",
    "🦀/app",
    "a/",
];

/// Registry rule patterns, valid and not.
pub const REGISTRY_PATTERNS: &[&str] = &[
    "reg.example",
    "*.corp.example",
    "registry.corp.example:5000",
    "docker.io",
    "index.docker.io",
    "localhost:5000",
    "localhost",
    "REG.EXAMPLE",
    "corp",
    "*",
    "https://reg.example",
    "reg.example/team",
    "reg-*.example",
    "reg.example:99999999",
    "reg.example:",
    "reg..example",
    "",
];

/// Image rule globs, valid and not.
pub const IMAGE_PATTERNS: &[&str] = &[
    "acme/**",
    "nginx",
    "reg.example/team/*",
    "docker.io/**",
    "**",
    "*",
    "**/cli",
    "*/**/*",
    "reg.example:5000/**",
    "*.corp.example/**",
    "nginx:1.27",
    "reg.example",
    "acme/",
    "Acme/app",
    "reg.example/app@sha256:abc",
    "",
];

/// Secret names: the ones rules use, and ones Kubernetes would refuse.
pub const SECRET_NAMES: &[&str] = &[
    "corp",
    "hub",
    "team",
    "corp-registry",
    "dockerhub",
    "sa-mirror",
    "Corp_Registry",
    "a..b",
    "-x",
    "",
];

/// Keys of a docker-config `auths` map, as people write them, and malformed ones.
pub const REGISTRY_KEYS: &[&str] = &[
    "reg.example",
    "https://index.docker.io/v1/",
    "*.corp.example",
    "registry.corp.example:5000",
    "reg.example:5000/team",
    "reg.example/team/",
    "docker.io",
    "localhost:5000",
    "http://reg.example/v2/",
    "REG.EXAMPLE",
    "*",
    "reg.example//",
    "user@reg.example",
    "%72eg.example",
    "reg.example?x",
    "reg.example:",
    "",
];

/// Normalised registries and repositories, for `key_covers`.
pub const REGISTRIES: &[&str] = &[
    "reg.example",
    "docker.io",
    "reg.example:5000",
    "registry.corp.example:5000",
    "eu.corp.example",
    "localhost:5000",
    "REG.EXAMPLE",
    "a..b",
    ":5000",
    "",
];
pub const REPOSITORIES: &[&str] = &[
    "library/nginx",
    "team/app",
    "teammate/app",
    "team",
    "a//b",
    "",
];

/// Anything else: names, namespaces, field names, words.
pub const WORDS: &[&str] = &[
    "team-a",
    "builder",
    "default",
    "app",
    "name",
    "image",
    "imagePullSecrets",
    "containers",
    "x-unknown",
    "kubernetes.io/config.mirror",
    "kube-system",
    "",
];

pub const SECRET_TYPES: &[&str] = &[
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/dockercfg",
    "Opaque",
    "kubernetes.io/service-account-token",
    "",
];
pub const DATA_KEYS: &[&str] = &[".dockerconfigjson", ".dockercfg", "config.json", ""];

/// Picks an index by weight from one input byte. An exhausted input reads as 0: the first choice,
/// which is always the ordinary one, so short inputs stay realistic.
fn weighted(u: &mut Unstructured, weights: &[u8]) -> arbitrary::Result<usize> {
    let total: u32 = weights.iter().map(|w| u32::from(*w)).sum();
    let mut roll = u32::from(u8::arbitrary(u)?) * total / 256;
    for (index, weight) in weights.iter().enumerate() {
        match roll.checked_sub(u32::from(*weight)) {
            Some(rest) => roll = rest,
            None => return Ok(index),
        }
    }
    Ok(weights.len() - 1)
}

/// Usually absent: present for one input byte in eight.
#[derive(Debug, Clone)]
pub struct Rare<T>(pub Option<T>);

impl<'a, T: Arbitrary<'a>> Arbitrary<'a> for Rare<T> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Rare(match weighted(u, &[7, 1])? {
            0 => None,
            _ => Some(u.arbitrary()?),
        }))
    }
}

/// A string from a pool, a pool string repeated, or any string.
#[derive(Debug, Clone)]
pub enum Text {
    Pool(u8),
    Repeated(u8, u16),
    Any(String),
}

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[12, 3, 1])? {
            0 => Text::Pool(u.arbitrary()?),
            1 => Text::Any(u.arbitrary()?),
            _ => Text::Repeated(u.arbitrary()?, u.arbitrary()?),
        })
    }
}

impl Text {
    pub fn pick(&self, pool: &[&str]) -> String {
        match self {
            Text::Pool(index) => pool[usize::from(*index) % pool.len()].to_string(),
            Text::Repeated(index, times) => {
                pool[usize::from(*index) % pool.len()].repeat(usize::from(*times % 600))
            }
            Text::Any(text) => text.clone(),
        }
    }
}

/// Any JSON value; rendered at most a few levels deep.
#[derive(Arbitrary, Debug, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Text),
    List(Vec<Json>),
    Object(Vec<(Text, Json)>),
}

const MAX_DEPTH: usize = 5;

impl Json {
    pub fn render(&self) -> Value {
        self.render_at(0)
    }

    fn render_at(&self, depth: usize) -> Value {
        match self {
            _ if depth > MAX_DEPTH => Value::Null,
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Int(i) => Value::from(*i),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Json::Text(text) => Value::String(text.pick(WORDS)),
            Json::List(items) => {
                Value::Array(items.iter().map(|i| i.render_at(depth + 1)).collect())
            }
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.pick(WORDS), v.render_at(depth + 1)))
                    .collect(),
            ),
        }
    }
}

/// A field that should hold a string: absent, the string, or something else.
#[derive(Debug, Clone)]
pub enum Field {
    Absent,
    Text(Text),
    Null,
    Number(i64),
    Bool(bool),
    Other(Json),
}

impl<'a> Arbitrary<'a> for Field {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[10, 2, 1, 1, 1, 1])? {
            0 => Field::Text(u.arbitrary()?),
            1 => Field::Absent,
            2 => Field::Null,
            3 => Field::Number(u.arbitrary()?),
            4 => Field::Bool(u.arbitrary()?),
            _ => Field::Other(u.arbitrary()?),
        })
    }
}

impl Field {
    /// Sets `key` in `object` as this field says, drawing strings from `pool`.
    pub fn put(&self, object: &mut Map<String, Value>, key: &str, pool: &[&str]) {
        let value = match self {
            Field::Absent => return,
            Field::Text(text) => Value::String(text.pick(pool)),
            Field::Null => Value::Null,
            Field::Number(n) => Value::from(*n),
            Field::Bool(b) => Value::Bool(*b),
            Field::Other(json) => json.render(),
        };
        object.insert(key.to_string(), value);
    }
}

fn put_extra(object: &mut Map<String, Value>, extra: &[(Text, Json)]) {
    for (key, value) in extra {
        object.insert(key.pick(WORDS), value.render());
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Container {
    name: Field,
    image: Field,
    extra: Vec<(Text, Json)>,
}

#[derive(Debug, Clone)]
pub enum ContainerEntry {
    Container(Container),
    Odd(Json),
}

impl<'a> Arbitrary<'a> for ContainerEntry {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[7, 1])? {
            0 => ContainerEntry::Container(u.arbitrary()?),
            _ => ContainerEntry::Odd(u.arbitrary()?),
        })
    }
}

/// `containers`, `initContainers` or `ephemeralContainers`.
#[derive(Debug, Clone)]
pub enum ContainerList {
    Absent,
    List(Vec<ContainerEntry>),
    Odd(Json),
}

impl<'a> Arbitrary<'a> for ContainerList {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[6, 3, 1])? {
            0 => ContainerList::List(u.arbitrary()?),
            1 => ContainerList::Absent,
            _ => ContainerList::Odd(u.arbitrary()?),
        })
    }
}

impl ContainerList {
    fn put(&self, spec: &mut Map<String, Value>, key: &str) {
        let value = match self {
            ContainerList::Absent => return,
            ContainerList::Odd(json) => json.render(),
            ContainerList::List(entries) => Value::Array(
                entries
                    .iter()
                    .map(|entry| match entry {
                        ContainerEntry::Odd(json) => json.render(),
                        ContainerEntry::Container(c) => {
                            let mut container = Map::new();
                            put_extra(&mut container, &c.extra);
                            c.name.put(&mut container, "name", WORDS);
                            c.image.put(&mut container, "image", IMAGES);
                            Value::Object(container)
                        }
                    })
                    .collect(),
            ),
        };
        spec.insert(key.to_string(), value);
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum PullSecretEntry {
    Named(Text),
    Name(Field),
    NamedWithExtra(Text, Json),
    Odd(Json),
}

#[derive(Debug, Clone)]
pub enum PullSecrets {
    Absent,
    List(Vec<PullSecretEntry>),
    Odd(Json),
}

impl<'a> Arbitrary<'a> for PullSecrets {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[4, 4, 1])? {
            0 => PullSecrets::Absent,
            1 => PullSecrets::List(u.arbitrary()?),
            _ => PullSecrets::Odd(u.arbitrary()?),
        })
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct PodSpec {
    containers: ContainerList,
    init_containers: ContainerList,
    ephemeral_containers: ContainerList,
    pull_secrets: PullSecrets,
    service_account_name: Field,
    service_account: Field,
    extra: Vec<(Text, Json)>,
}

impl PodSpec {
    pub fn render(&self) -> Value {
        let mut spec = Map::new();
        put_extra(&mut spec, &self.extra);
        self.containers.put(&mut spec, "containers");
        self.init_containers.put(&mut spec, "initContainers");
        self.ephemeral_containers
            .put(&mut spec, "ephemeralContainers");
        let pull_secrets = match &self.pull_secrets {
            PullSecrets::Absent => None,
            PullSecrets::Odd(json) => Some(json.render()),
            PullSecrets::List(entries) => Some(Value::Array(
                entries
                    .iter()
                    .map(|entry| match entry {
                        PullSecretEntry::Named(name) => json!({ "name": name.pick(SECRET_NAMES) }),
                        PullSecretEntry::Name(field) => {
                            let mut entry = Map::new();
                            field.put(&mut entry, "name", SECRET_NAMES);
                            Value::Object(entry)
                        }
                        PullSecretEntry::NamedWithExtra(name, extra) => {
                            json!({ "name": name.pick(SECRET_NAMES), "x-extra": extra.render() })
                        }
                        PullSecretEntry::Odd(json) => json.render(),
                    })
                    .collect(),
            )),
        };
        if let Some(pull_secrets) = pull_secrets {
            spec.insert("imagePullSecrets".into(), pull_secrets);
        }
        self.service_account_name
            .put(&mut spec, "serviceAccountName", WORDS);
        self.service_account.put(&mut spec, "serviceAccount", WORDS);
        Value::Object(spec)
    }
}

/// The request's kind: the built-ins that carry a pod spec, a configured custom resource, or other.
#[derive(Arbitrary, Debug, Clone)]
pub enum Kind {
    Pod,
    Deployment,
    StatefulSet,
    CronJob,
    Rollout,
    Other(Text, Text),
}

impl Kind {
    /// (group, version, kind, pod spec pointer).
    fn parts(&self) -> (String, String, String, &'static str) {
        let known = |group: &str, version: &str, kind: &str, pointer| {
            (
                group.to_string(),
                version.to_string(),
                kind.to_string(),
                pointer,
            )
        };
        match self {
            Kind::Pod => known("", "v1", "Pod", "/spec"),
            Kind::Deployment => known("apps", "v1", "Deployment", "/spec/template/spec"),
            Kind::StatefulSet => known("apps", "v1", "StatefulSet", "/spec/template/spec"),
            Kind::CronJob => known(
                "batch",
                "v1",
                "CronJob",
                "/spec/jobTemplate/spec/template/spec",
            ),
            Kind::Rollout => known("argoproj.io", "v1alpha1", "Rollout", "/spec/template/spec"),
            Kind::Other(group, kind) => (group.pick(WORDS), "v1".into(), kind.pick(WORDS), "/spec"),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    Other(Field),
}

impl<'a> Arbitrary<'a> for Operation {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[6, 6, 1, 1, 1])? {
            0 => Operation::Create,
            1 => Operation::Update,
            2 => Operation::Delete,
            3 => Operation::Connect,
            _ => Operation::Other(u.arbitrary()?),
        })
    }
}

#[derive(Debug, Clone)]
pub enum SubResource {
    None,
    EphemeralContainers,
    Status,
    Other(Field),
}

impl<'a> Arbitrary<'a> for SubResource {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[8, 3, 1, 1])? {
            0 => SubResource::None,
            1 => SubResource::EphemeralContainers,
            2 => SubResource::Status,
            _ => SubResource::Other(u.arbitrary()?),
        })
    }
}

/// What sits where the pod spec belongs.
#[derive(Debug, Clone)]
pub enum SpecShape {
    Present(PodSpec),
    Missing,
    Odd(Json),
}

impl<'a> Arbitrary<'a> for SpecShape {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[14, 1, 1])? {
            0 => SpecShape::Present(u.arbitrary()?),
            1 => SpecShape::Missing,
            _ => SpecShape::Odd(u.arbitrary()?),
        })
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Request {
    kind: Kind,
    operation: Operation,
    sub_resource: SubResource,
    namespace: Field,
    object_namespace: Field,
    mirror_pod: Rare<()>,
    spec: SpecShape,
    old_spec: Option<PodSpec>,
    object_extra: Rare<Vec<(Text, Json)>>,
    request_extra: Rare<Vec<(Text, Json)>>,
    /// Replaces the whole request (a non-object request, or a wrong shape).
    replaced_by: Rare<Json>,
}

/// Builds nested objects along `pointer` and puts `value` at its end.
fn put_at(object: &mut Value, pointer: &str, value: Value) {
    let mut cursor = object;
    for key in pointer.trim_start_matches('/').split('/') {
        if !cursor.is_object() {
            *cursor = Value::Object(Map::new());
        }
        cursor = cursor
            .as_object_mut()
            .expect("made an object above")
            .entry(key)
            .or_insert(Value::Null);
    }
    *cursor = value;
}

impl Request {
    pub fn render(&self) -> Value {
        if let Rare(Some(replacement)) = &self.replaced_by {
            return replacement.render();
        }
        let (group, version, kind, pointer) = self.kind.parts();
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!("w"));
        self.object_namespace.put(&mut metadata, "namespace", WORDS);
        if self.mirror_pod.0.is_some() {
            metadata.insert(
                "annotations".into(),
                json!({"kubernetes.io/config.mirror": "0f9e"}),
            );
        }
        let api_version = if group.is_empty() {
            version.clone()
        } else {
            format!("{group}/{version}")
        };
        let mut object = Map::new();
        put_extra(
            &mut object,
            self.object_extra.0.as_deref().unwrap_or_default(),
        );
        object.insert("apiVersion".into(), Value::String(api_version));
        object.insert("kind".into(), Value::String(kind.clone()));
        object.insert("metadata".into(), Value::Object(metadata));
        let mut object = Value::Object(object);
        match &self.spec {
            SpecShape::Present(spec) => put_at(&mut object, pointer, spec.render()),
            SpecShape::Missing => {}
            SpecShape::Odd(json) => put_at(&mut object, pointer, json.render()),
        }
        let mut request = Map::new();
        put_extra(
            &mut request,
            self.request_extra.0.as_deref().unwrap_or_default(),
        );
        request.insert("uid".into(), json!("0b5e"));
        request.insert(
            "kind".into(),
            json!({"group": group, "version": version, "kind": kind}),
        );
        let operation = match &self.operation {
            Operation::Create => Field::Text(Text::Any("CREATE".into())),
            Operation::Update => Field::Text(Text::Any("UPDATE".into())),
            Operation::Delete => Field::Text(Text::Any("DELETE".into())),
            Operation::Connect => Field::Text(Text::Any("CONNECT".into())),
            Operation::Other(field) => field.clone(),
        };
        operation.put(&mut request, "operation", WORDS);
        let sub_resource = match &self.sub_resource {
            SubResource::None => Field::Absent,
            SubResource::EphemeralContainers => {
                Field::Text(Text::Any("ephemeralcontainers".into()))
            }
            SubResource::Status => Field::Text(Text::Any("status".into())),
            SubResource::Other(field) => field.clone(),
        };
        sub_resource.put(&mut request, "subResource", WORDS);
        self.namespace.put(&mut request, "namespace", WORDS);
        if let Some(old_spec) = &self.old_spec {
            request.insert(
                "oldObject".into(),
                json!({"metadata": {"name": "w"}, "spec": old_spec.render()}),
            );
        }
        request.insert("object".into(), object);
        Value::Object(request)
    }
}

/// A settings flag: the default, a boolean, or the wrong type.
#[derive(Arbitrary, Debug, Clone)]
pub enum Flag {
    Default,
    Set(bool),
    Odd(Json),
}

impl Flag {
    fn put(&self, settings: &mut Map<String, Value>, key: &str) {
        match self {
            Flag::Default => {}
            Flag::Set(b) => {
                settings.insert(key.into(), Value::Bool(*b));
            }
            Flag::Odd(json) => {
                settings.insert(key.into(), json.render());
            }
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub struct Rule {
    secret: Field,
    registries: Option<Vec<Text>>,
    images: Option<Vec<Text>>,
    on_missing_secret: Option<Text>,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct SettingsModel {
    rules: Option<Vec<Rule>>,
    inject: Flag,
    verify_secrets: Flag,
    check_credentials: Flag,
    /// Declare Argo Rollouts as a custom resource, with this pod spec path (or the usual one).
    rollout: Option<Option<Text>>,
    unknown: Rare<(Text, Json)>,
    /// Replaces the whole settings value.
    replaced_by: Rare<Json>,
}

impl SettingsModel {
    pub fn render(&self) -> Value {
        if let Rare(Some(replacement)) = &self.replaced_by {
            return replacement.render();
        }
        let mut settings = Map::new();
        if let Some(rules) = &self.rules {
            let rules = rules
                .iter()
                .map(|rule| {
                    let mut raw = Map::new();
                    rule.secret.put(&mut raw, "secret", SECRET_NAMES);
                    let list = |texts: &Vec<Text>, pool| {
                        Value::Array(texts.iter().map(|t| Value::String(t.pick(pool))).collect())
                    };
                    if let Some(registries) = &rule.registries {
                        raw.insert("registries".into(), list(registries, REGISTRY_PATTERNS));
                    }
                    if let Some(images) = &rule.images {
                        raw.insert("images".into(), list(images, IMAGE_PATTERNS));
                    }
                    if let Some(on_missing) = &rule.on_missing_secret {
                        let choice = on_missing.pick(&["reject", "warn", "skip", "deny", ""]);
                        raw.insert("onMissingSecret".into(), Value::String(choice));
                    }
                    Value::Object(raw)
                })
                .collect();
            settings.insert("rules".into(), Value::Array(rules));
        }
        self.inject.put(&mut settings, "inject");
        self.verify_secrets.put(&mut settings, "verifySecrets");
        self.check_credentials
            .put(&mut settings, "checkCredentials");
        if let Some(path) = &self.rollout {
            let path = path
                .as_ref()
                .map_or("$.spec.template.spec".to_string(), |p| {
                    p.pick(&[
                        "$.spec.template.spec",
                        "$.spec.template",
                        "$..spec",
                        "$",
                        "spec",
                    ])
                });
            settings.insert(
                "customResources".into(),
                json!([{"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "podSpecPath": path}]),
            );
        }
        if let Rare(Some((key, value))) = &self.unknown {
            settings.insert(key.pick(WORDS), value.render());
        }
        Value::Object(settings)
    }
}

/// Valid rule sets, as people write them.
const PRESETS: &[&str] = &[
    r#"[{"secret": "corp-registry", "registries": ["registry.corp.example:5000", "*.corp.example"], "images": ["docker.io/acme/**"]},
        {"secret": "dockerhub", "registries": ["docker.io"]}]"#,
    r#"[{"secret": "corp", "registries": ["reg.example", "*.corp.example"]}, {"secret": "hub", "images": ["acme/**"]}]"#,
    r#"[{"secret": "team", "registries": ["localhost:5000", "REG.EXAMPLE"], "images": ["**/cli", "nginx", "*/**/*"]}]"#,
    r#"[{"secret": "hub", "registries": ["index.docker.io"]}, {"secret": "corp", "images": ["reg.example/team/*", "reg.example/**"]}]"#,
];

/// One of [`PRESETS`], with every rule's `onMissingSecret` and the flags chosen.
#[derive(Debug, Clone)]
pub struct Preset {
    rules: u8,
    on_missing_secret: u8,
    inject: bool,
    verify_secrets: bool,
    check_credentials: bool,
    rollout: bool,
}

impl<'a> Arbitrary<'a> for Preset {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Preset {
            rules: u.arbitrary()?,
            on_missing_secret: u.arbitrary()?,
            // Read inverted, so that an exhausted input (zeros) keeps the defaults.
            inject: !bool::arbitrary(u)?,
            verify_secrets: !bool::arbitrary(u)?,
            check_credentials: !bool::arbitrary(u)?,
            rollout: u.arbitrary()?,
        })
    }
}

impl Preset {
    pub fn render(&self) -> Value {
        let mut rules: Value =
            serde_json::from_str(PRESETS[usize::from(self.rules) % PRESETS.len()])
                .expect("presets are JSON");
        let on_missing = ["reject", "warn", "skip"][usize::from(self.on_missing_secret) % 3];
        for rule in rules.as_array_mut().expect("presets are lists") {
            rule["onMissingSecret"] = json!(on_missing);
        }
        let mut settings = json!({"rules": rules, "inject": self.inject,
            "verifySecrets": self.verify_secrets, "checkCredentials": self.check_credentials});
        if self.rollout {
            settings["customResources"] = json!([{"apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout", "podSpecPath": "$.spec.template.spec"}]);
        }
        settings
    }
}

/// Settings: usually a valid preset, sometimes built field by field.
#[derive(Debug, Clone)]
pub enum SettingsInput {
    Preset(Preset),
    Built(Box<SettingsModel>),
}

impl<'a> Arbitrary<'a> for SettingsInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match weighted(u, &[3, 1])? {
            0 => SettingsInput::Preset(u.arbitrary()?),
            _ => SettingsInput::Built(u.arbitrary()?),
        })
    }
}

impl SettingsInput {
    pub fn render(&self) -> Value {
        match self {
            SettingsInput::Preset(preset) => preset.render(),
            SettingsInput::Built(model) => model.render(),
        }
    }
}

/// A value in a Secret's `data` map.
#[derive(Arbitrary, Debug, Clone)]
pub enum DataValue {
    Raw(Text),
    Base64Bytes(Vec<u8>),
    Base64Json(Json),
    /// `{"auths": {key: credentials}}`, base64-encoded, credentials holding the canary.
    DockerConfigJson(Vec<Text>),
    /// `{key: credentials}`, base64-encoded, credentials holding the canary.
    DockerCfg(Vec<Text>),
}

impl DataValue {
    /// Whether the fuzzer wrote the canary into this value itself (outside the planted credentials).
    pub fn holds_own_canary(&self) -> bool {
        match self {
            DataValue::Raw(text) => mentions_canary(text.pick(WORDS).as_bytes()),
            DataValue::Base64Bytes(bytes) => mentions_canary(bytes),
            DataValue::Base64Json(json) => mentions_canary(json.render().to_string().as_bytes()),
            DataValue::DockerConfigJson(keys) | DataValue::DockerCfg(keys) => keys
                .iter()
                .any(|k| mentions_canary(k.pick(REGISTRY_KEYS).as_bytes())),
        }
    }

    pub fn render(&self) -> String {
        use image_pull_secrets::testing::{CANARY, CANARY_B64};
        let credentials =
            || json!({"auth": CANARY_B64, "password": CANARY, "identitytoken": CANARY});
        let auths = |keys: &Vec<Text>| -> Map<String, Value> {
            keys.iter()
                .map(|k| (k.pick(REGISTRY_KEYS), credentials()))
                .collect()
        };
        match self {
            DataValue::Raw(text) => text.pick(WORDS),
            DataValue::Base64Bytes(bytes) => STANDARD.encode(bytes),
            DataValue::Base64Json(json) => STANDARD.encode(json.render().to_string()),
            DataValue::DockerConfigJson(keys) => {
                STANDARD.encode(json!({ "auths": auths(keys) }).to_string())
            }
            DataValue::DockerCfg(keys) => STANDARD.encode(Value::Object(auths(keys)).to_string()),
        }
    }
}

/// A Secret's `type` and `data` as the API returns them.
#[derive(Arbitrary, Debug, Clone)]
pub struct SecretModel {
    pub secret_type: Option<Text>,
    pub data: Option<Vec<(Text, DataValue)>>,
}

impl SecretModel {
    pub fn holds_own_canary(&self) -> bool {
        let type_has = self
            .secret_type
            .as_ref()
            .is_some_and(|t| mentions_canary(t.pick(SECRET_TYPES).as_bytes()));
        let data_has = self.data.iter().flatten().any(|(key, value)| {
            mentions_canary(key.pick(DATA_KEYS).as_bytes()) || value.holds_own_canary()
        });
        type_has || data_has
    }

    pub fn render(&self) -> Secret {
        Secret {
            secret_type: self.secret_type.as_ref().map(|t| t.pick(SECRET_TYPES)),
            data: self.data.as_ref().map(|data| {
                data.iter()
                    .map(|(k, v)| (k.pick(DATA_KEYS), v.render()))
                    .collect::<BTreeMap<_, _>>()
            }),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum SecretAnswer {
    /// A dockerconfigjson Secret with these registry keys (`MemoryCluster::with_docker_secret`).
    Docker(Vec<Text>),
    Raw(SecretModel),
    NotFound,
    NotPermitted,
    Failed(Text),
}

#[derive(Arbitrary, Debug, Clone)]
pub enum AccountAnswer {
    Names(Vec<Text>),
    NotFound,
    NotPermitted,
    Failed(Text),
}

/// The cluster's scripted answers; names not scripted are not found.
#[derive(Arbitrary, Debug, Clone)]
pub struct ClusterModel {
    secrets: Vec<(Text, SecretAnswer)>,
    service_accounts: Vec<(Text, AccountAnswer)>,
}

impl ClusterModel {
    pub fn render(&self) -> MemoryCluster {
        // Host texts go through the classifier, as the host's answers do.
        let failed = |text: &Text| image_pull_secrets::classify_lookup_error(&text.pick(WORDS));
        let mut cluster = MemoryCluster::default();
        for (name, answer) in &self.secrets {
            let name = name.pick(SECRET_NAMES);
            cluster = match answer {
                SecretAnswer::Docker(keys) => {
                    let keys: Vec<String> = keys.iter().map(|k| k.pick(REGISTRY_KEYS)).collect();
                    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                    cluster.with_docker_secret(&name, &keys)
                }
                SecretAnswer::Raw(secret) => cluster.with_secret(&name, Ok(secret.render())),
                SecretAnswer::NotFound => cluster.with_secret(&name, Err(LookupError::NotFound)),
                SecretAnswer::NotPermitted => {
                    cluster.with_secret(&name, Err(LookupError::NotPermitted(Denial::Forbidden(None))))
                }
                SecretAnswer::Failed(text) => cluster.with_secret(&name, Err(failed(text))),
            };
        }
        for (name, answer) in &self.service_accounts {
            let answer = match answer {
                AccountAnswer::Names(names) => {
                    Ok(names.iter().map(|n| n.pick(SECRET_NAMES)).collect())
                }
                AccountAnswer::NotFound => Err(LookupError::NotFound),
                AccountAnswer::NotPermitted => Err(LookupError::NotPermitted(Denial::Forbidden(None))),
                AccountAnswer::Failed(text) => Err(failed(text)),
            };
            cluster = cluster.with_service_account(&name.pick(WORDS), answer);
        }
        cluster
    }

    /// Whether the fuzzer wrote the canary into an answer itself (it may then be echoed).
    pub fn holds_own_canary(&self) -> bool {
        let text = |t: &Text, pool| mentions_canary(t.pick(pool).as_bytes());
        let secrets = self.secrets.iter().any(|(name, answer)| {
            text(name, SECRET_NAMES)
                || match answer {
                    SecretAnswer::Docker(keys) => keys.iter().any(|k| text(k, REGISTRY_KEYS)),
                    SecretAnswer::Raw(secret) => secret.holds_own_canary(),
                    SecretAnswer::Failed(t) => text(t, WORDS),
                    SecretAnswer::NotFound | SecretAnswer::NotPermitted => false,
                }
        });
        let accounts = self.service_accounts.iter().any(|(name, answer)| {
            text(name, WORDS)
                || match answer {
                    AccountAnswer::Names(names) => names.iter().any(|n| text(n, SECRET_NAMES)),
                    AccountAnswer::Failed(t) => text(t, WORDS),
                    AccountAnswer::NotFound | AccountAnswer::NotPermitted => false,
                }
        });
        secrets || accounts
    }
}

/// One `validate` call: settings, request and the cluster behind them.
#[derive(Arbitrary, Debug, Clone)]
pub struct RequestInput {
    pub settings: SettingsInput,
    pub request: Request,
    pub cluster: ClusterModel,
}

impl RequestInput {
    /// Whether the fuzzer wrote the canary into the cluster's answers itself.
    pub fn holds_own_canary(&self) -> bool {
        self.cluster.holds_own_canary()
    }

    /// The `validate` payload.
    pub fn payload(&self) -> Value {
        json!({"settings": self.settings.render(), "request": self.request.render()})
    }
}

/// Arguments for `dockerconfig::registry_keys` and `key_covers`.
#[derive(Arbitrary, Debug, Clone)]
pub struct DockerConfigInput {
    secret_type: Text,
    data: Vec<(Text, DataValue)>,
    key: Text,
    registry: Text,
    repository: Text,
}

impl DockerConfigInput {
    pub fn secret_type(&self) -> String {
        self.secret_type.pick(SECRET_TYPES)
    }

    pub fn data(&self) -> BTreeMap<String, String> {
        self.data
            .iter()
            .map(|(k, v)| (k.pick(DATA_KEYS), v.render()))
            .collect()
    }

    /// (key, registry, repository) for `key_covers`.
    pub fn image(&self) -> (String, String, String) {
        (
            self.key.pick(REGISTRY_KEYS),
            self.registry.pick(REGISTRIES),
            self.repository.pick(REPOSITORIES),
        )
    }

    /// Whether the fuzzer wrote the canary into the input itself.
    pub fn holds_own_canary(&self) -> bool {
        let (key, registry, repository) = self.image();
        [self.secret_type(), key, registry, repository]
            .iter()
            .any(|t| mentions_canary(t.as_bytes()))
            || self
                .data
                .iter()
                .any(|(k, v)| mentions_canary(k.pick(DATA_KEYS).as_bytes()) || v.holds_own_canary())
    }
}
