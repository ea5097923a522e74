//! The Helm chart (`charts/image-pull-secrets/`), run through the real helm 4 (`HELM`): it lints,
//! renders each policy field from its value and the metadata, keeps every Rancher form answer's
//! settings, refuses values it cannot render, and names the released module where Rancher reads
//! it. `make copyable-manifests` also writes every policy manifest an operator can copy from us to
//! `target/copyable-manifests/`, where the cluster suite creates each with the real API server and
//! Kubewarden's CRDs (and installs the chart with helm).

mod support;

use serde_json::{json, Value};
use support::form::{cases, Form};
use support::{annotation, copyables, documents, program, read, yaml, Scratch};
use support::{yaml_block_after, METADATA};

const CHART: &str = "charts/image-pull-secrets";
const RELEASE: &str = "image-pull-secrets";

/// helm with its config, cache and data folders in a scratch folder.
struct Helm {
    bin: String,
    scratch: Scratch,
}

impl Helm {
    fn new(check: &str) -> Option<Self> {
        let bin = program("HELM", check)?;
        Some(Helm {
            bin,
            scratch: Scratch::new(),
        })
    }

    /// The values file, written as JSON: helm reads YAML 1.1, where an unquoted `yes` is a boolean.
    fn values_file(&self, values: &Value) -> String {
        let file = self.scratch.path("values.json");
        std::fs::write(&file, values.to_string()).unwrap();
        file
    }

    /// `helm template` of `chart` into `namespace`: the rendered text, or helm's error.
    fn template(&self, chart: &str, namespace: &str, values: &Value) -> Result<String, String> {
        let file = self.values_file(values);
        let args = [
            "template",
            RELEASE,
            chart,
            "--namespace",
            namespace,
            "--values",
            &file,
        ];
        let output = self.scratch.run(&self.bin, &args);
        match output.status.success() {
            true => Ok(String::from_utf8(output.stdout).unwrap()),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    /// The one policy the chart renders into `namespace` with `values`.
    fn policy(&self, namespace: &str, values: &Value) -> Value {
        let rendered = self.template(CHART, namespace, values);
        let rendered = rendered.unwrap_or_else(|e| panic!("helm template refuses {values}: {e}"));
        let documents = documents("helm template", &rendered);
        assert_eq!(documents.len(), 1, "one document expected: {rendered}");
        serde_json::to_value(&documents[0]).unwrap()
    }
}

fn from_yaml(what: &str, text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{what} is not YAML ({e}): {text}"))
}

/// The values file of the README's Helm path.
fn readme_values() -> Value {
    from_yaml(
        "README.md, helm values",
        &yaml_block_after("README.md", "<!-- helm-values:"),
    )
}

/// The README's values with the top-level fields of `edits` (YAML) replaced.
fn readme_values_with(edits: &str) -> Value {
    let mut values = readme_values();
    if let Value::Object(edits) = from_yaml("values", edits) {
        values.as_object_mut().unwrap().extend(edits);
    }
    values
}

/// The module a release publishes: `registry://<ociUrl>:v<version>`.
fn released_module() -> String {
    let url = annotation("io.kubewarden.policy.ociUrl");
    format!(
        "registry://{url}:v{}",
        annotation("io.kubewarden.policy.version")
    )
}

/// Where chart-releaser publishes the Helm repository: the GitHub Pages site of the source.
fn pages_url() -> String {
    let source = annotation("io.kubewarden.policy.url");
    let path = source
        .strip_prefix("https://github.com/")
        .and_then(|path| path.split_once('/'));
    let (owner, name) = path.unwrap_or_else(|| panic!("{METADATA}: {source} is not on GitHub"));
    format!("https://{owner}.github.io/{name}")
}

/// Panics unless `actual` holds every field `expected` gives (`null`: absent), naming the path.
fn assert_has(actual: &Value, expected: &Value, at: &str) {
    match expected.as_object() {
        Some(fields) => {
            for (key, value) in fields {
                assert_has(&actual[key], value, &format!("{at}.{key}"));
            }
        }
        None => assert_eq!(actual, expected, "{at}"),
    }
}

#[test]
fn chart_lints_strictly_with_the_readme_values() {
    let Some(helm) = Helm::new("helm lint") else {
        return;
    };
    let values = helm.values_file(&readme_values());
    helm.scratch
        .ok(&helm.bin, &["lint", "--strict", CHART, "--values", &values]);
}

/// `README.md, yaml block 3` as a file name: `readme-md-yaml-block-3`.
fn slug(name: &str) -> String {
    let words = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty());
    words.collect::<Vec<_>>().join("-").to_lowercase()
}

/// The chart as operators install it: each render's name, namespace, values and the fields the
/// policy must have (`null`: absent). The README's values file gives the metadata's rules and
/// resources, the released module and safe defaults; every policy field can be set; an
/// AdmissionPolicy lives in the release namespace; each Rancher form answer's settings come out
/// as the form built them.
fn renders() -> Vec<Value> {
    let (meta, readme, module) = (yaml(METADATA), readme_values(), released_module());
    let corp = "registry.corp.example:5000";
    let mut all = vec![
        json!({"name": "readme-values-file", "namespace": "kubewarden", "values": readme, "expected": {
            "kind": "ClusterAdmissionPolicy", "metadata": {"name": RELEASE},
            "spec": {"module": module, "mode": "protect", "policyServer": "default",
                     "failurePolicy": "Fail", "namespaceSelector": null, "rules": meta["rules"],
                     "contextAwareResources": meta["contextAwareResources"],
                     "mutating": meta["mutating"], "backgroundAudit": meta["backgroundAudit"],
                     "settings": readme["settings"]}}}),
        json!({"name": "every-policy-field", "namespace": "kubewarden", "values": {
            "settings": readme["settings"], "name": "pull-secrets", "mode": "monitor",
            "policyServer": "dedicated", "failurePolicy": "Ignore",
            "namespaceSelector": {"matchLabels": {"team": "a"}},
            "global": {"cattle": {"systemDefaultRegistry": corp}}}, "expected": {
            "metadata": {"name": "pull-secrets"},
            "spec": {"mode": "monitor", "policyServer": "dedicated", "failurePolicy": "Ignore",
                     "namespaceSelector": {"matchLabels": {"team": "a"}},
                     "module": module.replace("ghcr.io", corp)}}}),
        json!({"name": "admissionpolicy-in-namespace-default", "namespace": "default", "values": {
            "kind": "AdmissionPolicy",
            "settings": {"verifySecrets": false, "rules": [{"secret": "a", "images": ["a/*"]}]}}, "expected": {
            "kind": "AdmissionPolicy", "metadata": {"namespace": "default"},
            "spec": {"contextAwareResources": null, "namespaceSelector": null}}}),
    ];
    let form = Form::load();
    for (index, (name, answers)) in cases().into_iter().enumerate() {
        let (name, settings) = (
            format!("rancher-form-{}-{}", index + 1, slug(name)),
            form.settings(&answers),
        );
        all.push(
            json!({"name": name, "namespace": "kubewarden", "values": {"settings": settings},
                        "expected": {"spec": {"settings": settings}}}),
        );
    }
    all
}

/// A render's policy from the chart.
fn render(helm: &Helm, render: &Value) -> Value {
    helm.policy(render["namespace"].as_str().unwrap(), &render["values"])
}

#[test]
fn chart_renders_each_policy_field_from_its_value() {
    let Some(helm) = Helm::new("helm template") else {
        return;
    };
    for case in renders() {
        let name = case["name"].as_str().unwrap();
        assert_has(&render(&helm, &case), &case["expected"], name);
    }
}

#[test]
fn chart_refuses_values_it_cannot_render_naming_the_field() {
    let Some(helm) = Helm::new("helm template of values the chart refuses") else {
        return;
    };
    let cases = [
        ("{settings: null}", "settings.rules: the policy needs at least one rule"),
        ("{mode: enforce}", "mode: \"enforce\" is not a mode"),
        ("{failurePolicy: fail}", "failurePolicy: \"fail\" is not a failure policy"),
        ("{kind: Policy}", "kind: \"Policy\" is not a policy kind"),
        ("{kind: AdmissionPolicy}", "set settings.verifySecrets: false"),
        (
            "{kind: AdmissionPolicy, settings: {verifySecrets: false, rules: [{secret: a, images: [a/*]},
              {secret: b, registries: [b.example], namespaceSelector: {matchLabels: {a: b}}}]}}",
            "settings.rules[1].namespaceSelector reads Namespaces",
        ),
        ("{mutating: false}", "mutating: false needs settings.inject: false"),
        ("{module: {tag: ''}}", "none may be empty"),
    ];
    for (edits, expected) in cases {
        let error = helm.template(CHART, "kubewarden", &readme_values_with(edits));
        let error = error.expect_err(&format!("helm template renders {edits}"));
        assert!(
            error.contains(expected),
            "values {edits}: expected {expected:?} in {error}"
        );
    }
}

#[test]
fn the_readme_flux_release_installs_the_released_chart_with_the_readme_values() {
    let readme = copyables()
        .into_iter()
        .filter(|copyable| copyable.file == "README.md");
    let flux: Vec<_> = readme
        .filter(|copyable| copyable.text.contains("fluxcd.io/"))
        .flat_map(|copyable| documents("README.md", &copyable.text))
        .collect();
    let of_kind = |kind: &str| flux.iter().find(|document| document["kind"] == kind);
    let repository = of_kind("HelmRepository").expect("README.md: a Flux HelmRepository");
    let release = of_kind("HelmRelease").expect("README.md: a Flux HelmRelease");
    assert_eq!(repository["spec"]["url"].as_str(), Some(&*pages_url()));
    let (chart, chart_yaml) = (
        &release["spec"]["chart"]["spec"],
        yaml(&format!("{CHART}/Chart.yaml")),
    );
    assert_eq!(
        [&chart["chart"], &chart["version"]],
        [&chart_yaml["name"], &chart_yaml["version"]]
    );
    assert_eq!(chart["sourceRef"]["name"], repository["metadata"]["name"]);
    let values = serde_json::to_value(&release["spec"]["values"]).unwrap();
    assert_eq!(
        values,
        readme_values(),
        "README.md: the HelmRelease's values"
    );
    let add = format!("helm repo add {RELEASE} {}", pages_url());
    assert!(
        read("README.md").contains(&add),
        "README.md must show `{add}`"
    );
}

/// Rancher's UI lists the chart from its Helm repository entry, which `helm package` and
/// chart-releaser copy from Chart.yaml: the policy's version, the released module as the source,
/// and the three annotations Rancher composes the module from.
#[test]
fn chart_names_the_released_module_where_rancher_reads_it() {
    let chart = serde_json::to_value(yaml(&format!("{CHART}/Chart.yaml"))).unwrap();
    let (version, module) = (
        annotation("io.kubewarden.policy.version"),
        released_module(),
    );
    let text = |path: &str| {
        chart
            .pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let fields = ["/name", "/version", "/appVersion", "/sources/0"].map(text);
    assert_eq!(
        fields,
        [RELEASE, &version, &version, &module],
        "{CHART}/Chart.yaml"
    );
    let [registry, repository, tag] = ["registry", "repository", "tag"]
        .map(|key| text(&format!("/annotations/kubewarden~1{key}")));
    assert_eq!(
        format!("registry://{registry}/{repository}:{tag}"),
        module,
        "{CHART}/Chart.yaml"
    );
    assert_eq!(
        text("/annotations/catalog.cattle.io~1type"),
        "kubewarden-policy"
    );
}

/// `kwctl scaffold manifest` of the module as distributed, for both policy kinds, with
/// spec.module as kwctl writes it for the README's registry:// URI: the released module.
fn scaffolded(files: &mut Vec<(String, String)>) {
    let Some(kwctl) = program(
        "KWCTL",
        "kwctl scaffold manifest for the copyable manifests",
    ) else {
        return;
    };
    let scratch = Scratch::new();
    let module = scratch.annotated_module(&kwctl);
    for kind in ["ClusterAdmissionPolicy", "AdmissionPolicy"] {
        let args = [
            "scaffold",
            "manifest",
            "--type",
            kind,
            "--allow-context-aware",
            &module,
        ];
        let scaffold = scratch.ok(&kwctl, &args);
        let local = format!("module: file://{module}");
        assert!(scaffold.contains(&local), "{kind}: {scaffold}");
        let text = scaffold.replace(&local, &format!("module: {}", released_module()));
        files.push((
            format!("kwctl-scaffold-manifest-{}.yaml", kind.to_lowercase()),
            text,
        ));
    }
}

/// The chart's renders, then variants of the first that a real API server with Kubewarden's
/// CRDs must refuse, in `invalid/`.
fn rendered_charts(helm: &Helm, files: &mut Vec<(String, String)>) {
    for case in renders() {
        let policy = serde_yaml::to_string(&render(helm, &case)).unwrap();
        files.push((
            format!("chart-{}.yaml", case["name"].as_str().unwrap()),
            policy,
        ));
    }
    // What each must be refused for, and the edit: a field set, or removed (`null`).
    let invalid = [
        (
            "unknown-field-spec-contextaware",
            "contextAware",
            json!(true),
        ),
        ("wrong-enum-spec-mode", "mode", json!("enforce")),
        ("missing-required-spec-module", "module", Value::Null),
    ];
    for (name, field, value) in invalid {
        let mut broken = helm.policy("kubewarden", &readme_values());
        let spec = broken["spec"].as_object_mut().unwrap();
        match value.is_null() {
            true => spec.remove(field),
            false => spec.insert(field.to_string(), value),
        };
        let text = serde_yaml::to_string(&broken).unwrap();
        files.push((
            format!("invalid/{name}.yaml"),
            format!("# Must be refused: {name}.\n{text}"),
        ));
    }
}

/// Every policy manifest an operator can copy from us; with `COPYABLE_MANIFESTS=<dir>` (`make
/// copyable-manifests`) they are written there, one file each, for the cluster suite's `kubectl
/// apply --dry-run=server` against the CRDs (which is what checks each one). Flux's objects and
/// `policies.yml` are not served there.
#[test]
fn copyable_manifests_parse_and_are_written_on_request() {
    let served = copyables().into_iter().filter(|copyable| {
        let text = &copyable.text;
        text.lines().any(|line| line.starts_with("apiVersion:")) && !text.contains("fluxcd.io/")
    });
    let mut files: Vec<_> = served
        .map(|copyable| (format!("{}.yaml", slug(&copyable.source)), copyable.text))
        .collect();
    scaffolded(&mut files);
    if let Some(helm) = Helm::new("the chart's renders for the copyable manifests") {
        rendered_charts(&helm, &mut files);
    }
    let kinds = ["ClusterAdmissionPolicy", "AdmissionPolicy"];
    let documents = files.iter().flat_map(|(name, text)| documents(name, text));
    let policies = documents.filter(|document| kinds.iter().any(|kind| document["kind"] == *kind));
    assert!(
        policies.count() >= 3,
        "too few policies among {} files",
        files.len()
    );
    if let Some(dir) = std::env::var_os("COPYABLE_MANIFESTS").filter(|dir| !dir.is_empty()) {
        let dir = std::path::Path::new(&dir);
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("invalid")).unwrap();
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        eprintln!("wrote {} files to {}", files.len(), dir.display());
    }
}

/// The release publishes the chart these tests check: its version is checked against the tag,
/// it is packaged from `charts/image-pull-secrets` and handed to chart-releaser, which indexes it.
#[test]
fn release_workflow_publishes_the_chart_with_chart_releaser() {
    let workflow = yaml(".github/workflows/release.yml");
    let steps = |job: &str| {
        workflow["jobs"][job]["steps"]
            .as_sequence()
            .cloned()
            .unwrap_or_default()
    };
    let runs = |job: &str| {
        let runs = steps(job)
            .into_iter()
            .filter_map(|step| step["run"].as_str().map(str::to_string));
        runs.collect::<String>()
    };
    let tag_check = runs("release").contains(&format!("{CHART}/Chart.yaml"));
    assert!(
        tag_check,
        "release.yml: the tag check must read the chart's version"
    );
    let package = format!("helm package {CHART} --destination .cr-release-packages");
    assert!(
        runs("chart").contains(&package),
        "release.yml: the chart job must run `{package}`"
    );
    let releaser = steps("chart").into_iter().find(|step| {
        let uses = step["uses"].as_str().unwrap_or_default();
        uses.starts_with("helm/chart-releaser-action@")
    });
    let with = &releaser.expect("release.yml: the chart job runs chart-releaser")["with"];
    let flags = ["skip_packaging", "mark_as_latest"].map(|key| with[key].as_bool());
    assert_eq!(
        flags,
        [Some(true), Some(false)],
        "release.yml: chart-releaser's {with:?}"
    );
}
