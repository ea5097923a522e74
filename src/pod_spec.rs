//! Reading a pod spec in raw JSON: its containers' images and the pull secrets it already names.
//! Built-in kinds arrive decoded by the API server; a custom resource's pod spec may have any
//! shape, and a wrong one becomes a message with the field path, never a panic.

use std::fmt;

use serde_json::Value;

use crate::object::Keep;

/// What of a pod spec the policy reads: containers' names, images and pull policies, the pull
/// secrets (entries whole, since a mutation copies them) and the ServiceAccount.
pub(crate) const POD_SPEC: Keep = Keep::Fields(&[
    ("containers", CONTAINERS),
    ("initContainers", CONTAINERS),
    ("ephemeralContainers", CONTAINERS),
    ("imagePullSecrets", Keep::Whole),
    ("serviceAccountName", Keep::Whole),
    ("serviceAccount", Keep::Whole),
]);
const CONTAINERS: Keep = Keep::Items(&Keep::Fields(&[
    ("name", Keep::Whole),
    ("image", Keep::Whole),
    ("imagePullPolicy", Keep::Whole),
]));

/// The three container lists whose images the kubelet pulls, by their field in the pod spec.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// One container's name, image and pull policy, borrowed from the request, and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Container<'a> {
    /// Its list's field in the pod spec, one of [`CONTAINER_LISTS`].
    pub list: &'static str,
    pub name: &'a str,
    pub image: &'a str,
    /// Its index in its list.
    pub index: usize,
    /// `imagePullPolicy` as written; empty when absent or not a string.
    pub pull_policy: &'a str,
}

impl Container<'_> {
    /// `imagePullPolicy` as the kubelet reads it (`Always`: it pulls the image, with credentials,
    /// every time the container starts). An absent policy is the API server's default
    /// (`SetDefaults_Container`, pkg/apis/core/v1): `Always` for a `latest` tag, or no tag and no
    /// digest (`parsers.ParseImageName` reads that as `latest`); `IfNotPresent` otherwise.
    pub fn effective_pull_policy(&self) -> &str {
        match self.pull_policy {
            "" => match crate::reference::parse(self.image) {
                Ok(reference) if reference.tag == Some("latest") => "Always",
                Ok(reference) if reference.tag.is_none() && reference.digest.is_none() => "Always",
                _ => "IfNotPresent",
            },
            policy => policy,
        }
    }
}

/// Longest container name and image shown in a message; the API server has not validated the
/// object yet when the webhook sees it, so either can be arbitrarily long.
const SHOWN_NAME: usize = 63;
const SHOWN_IMAGE: usize = 512;

impl fmt::Display for Container<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = shortened(self.name, SHOWN_NAME);
        let image = shortened(self.image, SHOWN_IMAGE);
        // The list's field in the singular.
        let list = self.list.trim_end_matches('s');
        write!(f, "{list} \"{name}\" (image \"{image}\")")
    }
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…` when cut.
fn shortened(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    format!("{}…", &text[..text.floor_char_boundary(max)]).into()
}

/// Every container with an image, in spec order (containers, initContainers, ephemeralContainers).
/// `at` is the spec's dotted path, used in messages. Containers without an image (allowed in
/// templates) are skipped.
pub fn containers<'a>(
    spec: &'a Value,
    at: impl Fn() -> String,
) -> Result<Vec<Container<'a>>, String> {
    let mut found = Vec::new();
    for list in CONTAINER_LISTS {
        let path = || format!("{}.{list}", at());
        let entries = match spec.get(list) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(format!("{} is not a list", path())),
        };
        for (index, entry) in entries.iter().enumerate() {
            let Value::Object(entry) = entry else {
                return Err(format!("{}[{index}] is not an object", path()));
            };
            let image = match entry.get("image") {
                None | Some(Value::Null) => continue,
                Some(Value::String(image)) => image.as_str(),
                Some(_) => return Err(format!("{}[{index}].image is not a string", path())),
            };
            let text = |field: &str| entry.get(field).and_then(Value::as_str).unwrap_or_default();
            found.push(Container {
                list,
                name: text("name"),
                image,
                index,
                pull_policy: text("imagePullPolicy"),
            });
        }
    }
    Ok(found)
}

/// The names in `imagePullSecrets`, in order. Entries without a string name are ignored here
/// (and left untouched by the merge).
pub fn pull_secret_names(spec: &Value, at: impl Fn() -> String) -> Result<Vec<&str>, String> {
    match spec.get("imagePullSecrets") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(entries)) => Ok(entries
            .iter()
            .filter_map(|entry| entry.get("name").and_then(Value::as_str))
            .collect()),
        Some(_) => Err(format!("{}.imagePullSecrets is not a list", at())),
    }
}

/// The ServiceAccount a pod of this spec runs as.
pub fn service_account_name(spec: &Value) -> &str {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .filter_map(|key| spec.get(*key).and_then(Value::as_str))
        .find(|name| !name.is_empty())
        .unwrap_or("default")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[test]
    fn lists_every_container_kind_in_order() {
        let spec = json!({
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
            "initContainers": [{"name": "init", "image": "reg.example/init"}],
            "containers": [{"name": "app", "image": "reg.example/app:1"}, {"name": "noimage"}]
        });
        let found = containers(&spec, || "spec".into()).unwrap();
        let summary: Vec<_> = found.iter().map(|c| (c.list, c.name, c.image)).collect();
        assert_eq!(
            summary,
            vec![
                ("containers", "app", "reg.example/app:1"),
                ("initContainers", "init", "reg.example/init"),
                ("ephemeralContainers", "debug", "busybox"),
            ]
        );
        assert_eq!(
            found[1].to_string(),
            "initContainer \"init\" (image \"reg.example/init\")"
        );
    }

    fn container<'a>(name: &'a str, image: &'a str, pull_policy: &'a str) -> Container<'a> {
        Container {
            list: "containers",
            name,
            image,
            index: 0,
            pull_policy,
        }
    }

    #[test]
    fn long_names_and_images_are_shortened_in_messages() {
        let (name, image) = ("é".repeat(100), format!("reg.example/{}", "a".repeat(1000)));
        let shown = container(&name, &image, "").to_string();
        assert!(
            shown.len() < SHOWN_NAME + SHOWN_IMAGE + 40,
            "{} bytes",
            shown.len()
        );
        assert!(
            shown.starts_with("container \"éé") && shown.contains("…\" (image \"reg.example/aaa"),
            "{shown}"
        );
        let short = container("app", "nginx", "").to_string();
        assert_eq!(short, "container \"app\" (image \"nginx\")");
    }

    // pkg/apis/core/v1/defaults.go, SetDefaults_Container: an absent imagePullPolicy is Always for
    // a `latest` tag (parsers.ParseImageName reads no tag and no digest as `latest`), else
    // IfNotPresent.
    #[rstest]
    #[case::set_always("reg.example/a:1", "Always", "Always")]
    #[case::set_never("reg.example/a:1", "Never", "Never")]
    #[case::set_if_not_present("reg.example/a:latest", "IfNotPresent", "IfNotPresent")]
    #[case::default_tagged("reg.example/a:1", "", "IfNotPresent")]
    #[case::default_latest("reg.example/a:latest", "", "Always")]
    #[case::default_untagged("reg.example/a", "", "Always")]
    #[case::default_digest_only(
        "reg.example/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "",
        "IfNotPresent"
    )]
    #[case::default_latest_and_digest("reg.example/a:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "", "Always")]
    fn effective_pull_policy_as_the_kubelet_reads_it(
        #[case] image: &str,
        #[case] pull_policy: &str,
        #[case] expected: &str,
    ) {
        let container = container("app", image, pull_policy);
        assert_eq!(container.effective_pull_policy(), expected);
    }

    #[rstest]
    #[case::containers_not_list(json!({"containers": {"name": "a"}}), "spec.containers is not a list")]
    #[case::entry_not_object(json!({"containers": ["nginx"]}), "spec.containers[0] is not an object")]
    #[case::image_not_string(json!({"initContainers": [{"name": "a", "image": 42}]}), "spec.initContainers[0].image is not a string")]
    fn malformed_containers(#[case] spec: Value, #[case] message: &str) {
        assert_eq!(containers(&spec, || "spec".into()).unwrap_err(), message);
    }

    #[rstest]
    #[case::absent(json!({}), Ok(vec![]))]
    #[case::null(json!({"imagePullSecrets": null}), Ok(vec![]))]
    #[case::names_in_order(json!({"imagePullSecrets": [{"name": "b"}, {"name": "a"}]}), Ok(vec!["b", "a"]))]
    #[case::odd_entries_ignored(json!({"imagePullSecrets": [{}, {"name": ""}, {"name": 3}, "x", {"name": "a"}]}), Ok(vec!["", "a"]))]
    #[case::not_a_list(json!({"imagePullSecrets": "corp"}), Err("spec.imagePullSecrets is not a list".to_string()))]
    fn names(#[case] spec: Value, #[case] expected: Result<Vec<&str>, String>) {
        assert_eq!(pull_secret_names(&spec, || "spec".into()), expected);
    }
}
