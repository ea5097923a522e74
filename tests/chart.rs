//! The Helm chart (`charts/image-pull-secrets/`), run through the real helm: it lints, renders the
//! policy that `policy-metadata.yaml` and the values describe, refuses values it cannot render,
//! renders every answer of the Rancher form and the README's values, and packages into a Helm
//! repository index whose entry names the released module. `make copyable-manifests` also writes
//! every policy manifest an operator can copy from us to `target/copyable-manifests/`, where the
//! cluster suite creates each with the real API server and Kubewarden's CRDs.

mod support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_yaml::{Mapping, Value};
use support::form::{cases, Form};
use support::{
    annotation, applied_yaml_blocks, assert_accepted, copyables, documents, helm, not_run,
    not_run_without_helm, read, real_kwctl, yaml, yaml_block_after, Scratch, METADATA,
};

const CHART: &str = "charts/image-pull-secrets";
const RELEASE: &str = "image-pull-secrets";
/// The README's marker before the values file of its Helm path.
const VALUES_MARKER: &str = "<!-- helm-values:";

/// helm with its config, cache and data folders in a scratch folder, run from the repository.
struct Helm {
    bin: PathBuf,
    scratch: Scratch,
}

impl Helm {
    fn new(test: &str) -> Option<Self> {
        let Some(bin) = helm() else {
            not_run_without_helm(test);
            return None;
        };
        Some(Helm {
            bin,
            scratch: Scratch::new(&format!("chart-{test}")),
        })
    }

    fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.scratch.run(&self.bin, args)
    }

    /// `helm template` of `chart` with `values`: the rendered text, or helm's error. The values
    /// file is written as JSON: helm reads YAML 1.1, where an unquoted `yes` is a boolean.
    fn template(&self, chart: &str, namespace: &str, values: &Value) -> Result<String, String> {
        let file = self.scratch.path("values.json");
        std::fs::write(&file, serde_json::to_string(values).unwrap()).unwrap();
        let output = self.run([
            OsStr::new("template"),
            OsStr::new(RELEASE),
            OsStr::new(chart),
            OsStr::new("--namespace"),
            OsStr::new(namespace),
            OsStr::new("--values"),
            file.as_os_str(),
        ]);
        if output.status.success() {
            Ok(String::from_utf8(output.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// The one policy the chart renders with `values`.
    fn policy(&self, values: &Value) -> Value {
        let rendered = self
            .template(CHART, "kubewarden", values)
            .unwrap_or_else(|e| panic!("helm template refuses {values:?}: {e}"));
        only_document(&rendered)
    }
}

fn only_document(text: &str) -> Value {
    let mut documents = documents("helm template", text);
    assert_eq!(documents.len(), 1, "one document expected: {text}");
    documents.remove(0)
}

fn parse(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}): {text}"))
}

/// The values file of the README's Helm path: the ```yaml block after its marker.
fn readme_values() -> Value {
    parse(&yaml_block_after("README.md", VALUES_MARKER))
}

/// The README's Flux objects: (HelmRepository, HelmRelease).
fn readme_flux() -> (Value, Value) {
    let readme = read("README.md");
    let documents: Vec<Value> = applied_yaml_blocks(&readme)
        .into_iter()
        .filter(|(_, block)| block.contains("fluxcd.io/"))
        .flat_map(|(_, block)| documents("README.md", block))
        .collect();
    let of_kind = |kind: &str| {
        documents
            .iter()
            .find(|document| document["kind"] == kind)
            .unwrap_or_else(|| panic!("README.md: no Flux {kind}"))
            .clone()
    };
    (of_kind("HelmRepository"), of_kind("HelmRelease"))
}

/// The module a release publishes: `registry://<ociUrl>:v<version>`.
fn released_module() -> String {
    format!(
        "registry://{}:v{}",
        annotation("io.kubewarden.policy.ociUrl"),
        annotation("io.kubewarden.policy.version")
    )
}

/// Where chart-releaser publishes the Helm repository: the GitHub Pages site of the source.
fn pages_url() -> String {
    let source = annotation("io.kubewarden.policy.url");
    let (owner, name) = source
        .strip_prefix("https://github.com/")
        .and_then(|path| path.split_once('/'))
        .unwrap_or_else(|| {
            panic!("{METADATA}: io.kubewarden.policy.url {source:?} is not a GitHub repository")
        });
    format!("https://{owner}.github.io/{name}")
}

/// `values` with `settings` replaced.
fn with_settings(settings: Value) -> Value {
    let mut values = Mapping::new();
    values.insert("settings".into(), settings);
    Value::Mapping(values)
}

#[test]
fn chart_lints_strictly_with_the_readme_values() {
    let Some(helm) = Helm::new("helm lint") else {
        return;
    };
    let values = helm.scratch.path("values.json");
    std::fs::write(&values, serde_json::to_string(&readme_values()).unwrap()).unwrap();
    let output = helm.run([
        OsStr::new("lint"),
        OsStr::new("--strict"),
        OsStr::new(CHART),
        OsStr::new("--values"),
        values.as_os_str(),
    ]);
    assert!(
        output.status.success(),
        "helm lint --strict {CHART}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn chart_renders_the_metadata_rules_and_the_readme_settings() {
    let Some(helm) = Helm::new("helm template") else {
        return;
    };
    let values = readme_values();
    let policy = helm.policy(&values);
    let meta = yaml(METADATA);
    let spec = &policy["spec"];
    assert_eq!(policy["apiVersion"], "policies.kubewarden.io/v1");
    assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
    assert_eq!(policy["metadata"]["name"], RELEASE);
    assert_eq!(spec["module"].as_str(), Some(released_module().as_str()));
    assert_eq!(spec["rules"], meta["rules"], "spec.rules vs {METADATA}");
    assert_eq!(
        spec["contextAwareResources"], meta["contextAwareResources"],
        "spec.contextAwareResources vs {METADATA}"
    );
    assert_eq!(spec["mutating"], meta["mutating"]);
    assert_eq!(spec["backgroundAudit"], meta["backgroundAudit"]);
    assert_eq!(
        (&spec["mode"], &spec["policyServer"], &spec["failurePolicy"]),
        (
            &Value::from("protect"),
            &Value::from("default"),
            &Value::from("Fail")
        )
    );
    assert!(
        spec.get("namespaceSelector").is_none(),
        "an empty namespaceSelector value renders no field"
    );
    assert_eq!(spec["settings"], values["settings"]);
    assert_accepted("README values", &spec["settings"]);
}

#[test]
fn chart_renders_each_policy_field_from_its_value() {
    let Some(helm) = Helm::new("helm template with every policy value") else {
        return;
    };
    let mut values = readme_values();
    let given = parse(
        "{name: pull-secrets, mode: monitor, policyServer: dedicated, failurePolicy: Ignore,
          namespaceSelector: {matchLabels: {team: a}},
          global: {cattle: {systemDefaultRegistry: registry.corp.example:5000}}}",
    );
    for (key, value) in given.as_mapping().unwrap() {
        values[key.as_str().unwrap()] = value.clone();
    }
    let policy = helm.policy(&values);
    let spec = &policy["spec"];
    assert_eq!(policy["metadata"]["name"], "pull-secrets");
    assert_eq!(spec["mode"], "monitor");
    assert_eq!(spec["policyServer"], "dedicated");
    assert_eq!(spec["failurePolicy"], "Ignore");
    assert_eq!(spec["namespaceSelector"], given["namespaceSelector"]);
    let module = released_module().replace("ghcr.io", "registry.corp.example:5000");
    assert_eq!(spec["module"].as_str(), Some(module.as_str()));
}

#[test]
fn chart_renders_an_admission_policy_in_the_release_namespace() {
    let Some(helm) = Helm::new("helm template of an AdmissionPolicy") else {
        return;
    };
    let mut values = readme_values();
    values["kind"] = "AdmissionPolicy".into();
    values["settings"]["verifySecrets"] = false.into();
    let rendered = helm.template(CHART, "team-a", &values).unwrap();
    let policy = only_document(&rendered);
    assert_eq!(policy["kind"], "AdmissionPolicy");
    assert_eq!(policy["metadata"]["namespace"], "team-a");
    assert!(
        policy["spec"].get("contextAwareResources").is_none()
            && policy["spec"].get("namespaceSelector").is_none(),
        "an AdmissionPolicy has neither field: {rendered}"
    );
    assert_accepted("AdmissionPolicy", &policy["spec"]["settings"]);
}

#[test]
fn chart_refuses_values_it_cannot_render_naming_the_field() {
    let Some(helm) = Helm::new("helm template of values the chart refuses") else {
        return;
    };
    let rule = "{secret: corp, registries: [registry.corp.example]}";
    let cases = [
        ("{}", "settings.rules: the policy needs at least one rule"),
        (
            &format!("{{mode: enforce, settings: {{rules: [{rule}]}}}}"),
            "mode: \"enforce\" is not a mode",
        ),
        (
            &format!("{{failurePolicy: fail, settings: {{rules: [{rule}]}}}}"),
            "failurePolicy: \"fail\" is not a failure policy",
        ),
        (
            &format!("{{kind: Policy, settings: {{rules: [{rule}]}}}}"),
            "kind: \"Policy\" is not a policy kind",
        ),
        (
            &format!("{{kind: AdmissionPolicy, settings: {{rules: [{rule}]}}}}"),
            "set settings.verifySecrets: false",
        ),
        (
            &format!(
                "{{kind: AdmissionPolicy, settings: {{verifySecrets: false, rules: [{rule}, \
                 {{secret: b, registries: [b.example], namespaceSelector: {{matchLabels: {{a: b}}}}}}]}}}}"
            ),
            "settings.rules[1].namespaceSelector reads Namespaces",
        ),
        (
            &format!("{{mutating: false, settings: {{rules: [{rule}]}}}}"),
            "mutating: false needs settings.inject: false",
        ),
        (
            &format!("{{module: {{tag: ''}}, settings: {{rules: [{rule}]}}}}"),
            "none may be empty",
        ),
    ];
    for (values, expected) in cases {
        let error = helm
            .template(CHART, "kubewarden", &parse(values))
            .expect_err(&format!("helm template renders {values}"));
        assert!(
            error.contains(expected),
            "values {values}: expected {expected:?} in {error}"
        );
    }
}

/// The README's three paths start from the same policy: the Rancher form's answers, the Helm
/// values file and the Flux HelmRelease all render through the chart.
#[test]
fn every_rancher_form_answer_renders_through_the_chart() {
    let Some(helm) = Helm::new("the Rancher form's answers rendered by the chart") else {
        return;
    };
    let form = Form::load();
    for (name, answers) in cases() {
        let settings: Value = serde_yaml::to_value(form.settings(&answers)).unwrap();
        let policy = helm.policy(&with_settings(settings.clone()));
        assert_eq!(
            policy["spec"]["settings"], settings,
            "case {name:?}: the chart changes the settings"
        );
    }
}

#[test]
fn the_readme_flux_release_installs_the_released_chart_with_the_readme_values() {
    let (repository, release) = readme_flux();
    assert_eq!(
        repository["spec"]["url"].as_str(),
        Some(pages_url().as_str())
    );
    let chart = &release["spec"]["chart"]["spec"];
    let chart_yaml = yaml(&format!("{CHART}/Chart.yaml"));
    assert_eq!(chart["chart"], chart_yaml["name"]);
    assert_eq!(chart["version"], chart_yaml["version"]);
    assert_eq!(chart["sourceRef"]["name"], repository["metadata"]["name"]);
    assert_eq!(
        release["spec"]["values"],
        readme_values(),
        "README.md: the HelmRelease's values are the Helm path's values file"
    );
    let readme = read("README.md");
    let add = format!("helm repo add {RELEASE} {}", pages_url());
    assert!(readme.contains(&add), "README.md must show `{add}`");
}

/// The release packages the chart and indexes it with chart-releaser (`.github/workflows/
/// release.yml`); `helm package` and `helm repo index` build the same entry here.
#[test]
fn helm_repository_index_names_the_released_module() {
    let Some(helm) = Helm::new("helm package and helm repo index") else {
        return;
    };
    let packages = helm.scratch.path("packages");
    let output = helm.run([
        OsStr::new("package"),
        OsStr::new(CHART),
        OsStr::new("--destination"),
        packages.as_os_str(),
    ]);
    assert!(output.status.success(), "helm package: {output:?}");
    let output = helm.run([
        OsStr::new("repo"),
        OsStr::new("index"),
        packages.as_os_str(),
        OsStr::new("--url"),
        OsStr::new(&pages_url()),
    ]);
    assert!(output.status.success(), "helm repo index: {output:?}");

    let index: Value = parse(&std::fs::read_to_string(packages.join("index.yaml")).unwrap());
    let entries = index["entries"][RELEASE]
        .as_sequence()
        .unwrap_or_else(|| panic!("index.yaml: no entry {RELEASE}: {index:?}"));
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    let version = annotation("io.kubewarden.policy.version");
    assert_eq!(entry["version"].as_str(), Some(version.as_str()));
    assert_eq!(entry["appVersion"].as_str(), Some(version.as_str()));
    let package = format!("{RELEASE}-{version}.tgz");
    assert_eq!(
        entry["urls"][0].as_str(),
        Some(format!("{}/{package}", pages_url()).as_str())
    );
    let module = released_module();
    assert_eq!(entry["sources"][0].as_str(), Some(module.as_str()));
    // Rancher's UI composes the module from these three annotations.
    let annotations = &entry["annotations"];
    let composed = format!(
        "registry://{}/{}:{}",
        annotations["kubewarden/registry"]
            .as_str()
            .unwrap_or_default(),
        annotations["kubewarden/repository"]
            .as_str()
            .unwrap_or_default(),
        annotations["kubewarden/tag"].as_str().unwrap_or_default()
    );
    assert_eq!(composed, module, "index entry annotations: {annotations:?}");
    assert_eq!(annotations["catalog.cattle.io/type"], "kubewarden-policy");

    // And `helm install` of the package installs that module.
    let packaged = packages.join(&package);
    let rendered = helm
        .template(packaged.to_str().unwrap(), "kubewarden", &readme_values())
        .unwrap();
    assert_eq!(
        only_document(&rendered)["spec"]["module"].as_str(),
        Some(module.as_str())
    );
}

/// One file of `target/copyable-manifests/`: its name and its text.
type Copyable = (String, String);

/// What an operator copies from us that Kubewarden's CRDs and Kubernetes serve (Flux's objects
/// and `policies.yml` are not created in the cluster suite), named after where it comes from.
fn served_copyables() -> Vec<Copyable> {
    copyables()
        .into_iter()
        .filter(|copyable| {
            copyable
                .text
                .lines()
                .any(|line| line.starts_with("apiVersion:"))
                && !copyable.text.contains("fluxcd.io/")
        })
        .map(|copyable| {
            let stem = copyable
                .file
                .trim_end_matches(".md")
                .trim_end_matches(".yaml");
            let stem = stem.replace('/', "-").to_lowercase();
            let name = match copyable.index {
                Some(index) => format!("{stem}-yaml-block-{index}.yaml"),
                None => format!("{stem}.yaml"),
            };
            (name, copyable.text)
        })
        .collect()
}

/// `kwctl scaffold manifest` of the module as distributed, for both policy kinds.
fn scaffolded() -> Vec<Copyable> {
    let Some(kwctl) = real_kwctl() else {
        not_run("kwctl scaffold manifest for the copyable manifests");
        return Vec::new();
    };
    let scratch = Scratch::new("copyable-scaffold");
    let module = scratch.annotated_module(&kwctl);
    ["ClusterAdmissionPolicy", "AdmissionPolicy"]
        .into_iter()
        .map(|kind| {
            let output = scratch.run(
                &kwctl,
                [
                    OsStr::new("scaffold"),
                    OsStr::new("manifest"),
                    OsStr::new("--type"),
                    OsStr::new(kind),
                    OsStr::new("--allow-context-aware"),
                    module.as_os_str(),
                ],
            );
            assert!(
                output.status.success(),
                "kwctl scaffold manifest --type {kind}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let name = format!("kwctl-scaffold-manifest-{}.yaml", kind.to_lowercase());
            // Scaffolded from the local module; from the README's registry:// URI kwctl writes
            // that URI, the released module, as spec.module.
            let local = format!("module: file://{}", module.display());
            let scaffold = String::from_utf8(output.stdout).unwrap();
            assert!(scaffold.contains(&local), "{name}: {scaffold}");
            assert_eq!(
                parse(&scaffold)["spec"]["rules"],
                yaml(METADATA)["rules"],
                "{name}: spec.rules vs {METADATA}"
            );
            let header =
                "# kwctl scaffold manifest, spec.module as for the README's registry:// URI.\n";
            let text = scaffold.replace(&local, &format!("module: {}", released_module()));
            (name, format!("{header}{text}"))
        })
        .collect()
}

/// The chart rendered as each README path and each Rancher form answer would install it (the
/// Flux HelmRelease's values are the README's values file, checked by
/// `the_readme_flux_release_installs_the_released_chart_with_the_readme_values`).
fn rendered_charts(helm: &Helm) -> Vec<Copyable> {
    let mut all = vec![(
        "chart-default-values-with-readme-values-file.yaml".to_string(),
        helm.template(CHART, "kubewarden", &readme_values())
            .unwrap(),
    )];
    let mut namespaced = readme_values();
    namespaced["kind"] = "AdmissionPolicy".into();
    namespaced["settings"]["verifySecrets"] = false.into();
    all.push((
        "chart-admissionpolicy-in-namespace-default.yaml".to_string(),
        helm.template(CHART, "default", &namespaced).unwrap(),
    ));
    let form = Form::load();
    for (index, (name, answers)) in cases().into_iter().enumerate() {
        let settings = serde_yaml::to_value(form.settings(&answers)).unwrap();
        let slug: String = name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join("-")
            .to_lowercase();
        all.push((
            format!("chart-rancher-form-{}-{slug}.yaml", index + 1),
            helm.template(CHART, "kubewarden", &with_settings(settings))
                .unwrap(),
        ));
    }
    all
}

/// Variants of a rendered policy that a real API server with Kubewarden's CRDs must refuse.
fn invalid_variants(policy: &Value) -> Vec<Copyable> {
    let variant = |what: &str, edit: &dyn Fn(&mut Mapping)| {
        let mut broken = policy.clone();
        edit(broken["spec"].as_mapping_mut().unwrap());
        let text = serde_yaml::to_string(&broken).unwrap();
        format!("# Must be refused: {what}.\n{text}")
    };
    vec![
        (
            "invalid/unknown-field-spec-contextaware.yaml".to_string(),
            variant(
                "spec.contextAware is no field of policies.kubewarden.io/v1 (strict field validation)",
                &|spec| {
                    spec.insert("contextAware".into(), true.into());
                },
            ),
        ),
        (
            "invalid/wrong-enum-spec-mode.yaml".to_string(),
            variant(
                "spec.mode \"enforce\" is not one of protect, monitor",
                &|spec| {
                    spec.insert("mode".into(), "enforce".into());
                },
            ),
        ),
        (
            "invalid/missing-required-spec-module.yaml".to_string(),
            variant("spec.module is required", &|spec| {
                spec.remove("module");
            }),
        ),
    ]
}

fn write_all(dir: &Path, files: &[Copyable]) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
}

/// Every policy manifest an operator can copy from us; with `COPYABLE_MANIFESTS=<dir>` (`make
/// copyable-manifests`) they are written there, one file each, for the cluster suite's `kubectl
/// apply --dry-run=server` against the CRDs (which is what checks each one).
#[test]
fn copyable_manifests_parse_and_are_written_on_request() {
    let mut files = served_copyables();
    files.extend(scaffolded());
    if let Some(helm) = Helm::new("the chart's renders for the copyable manifests") {
        let charts = rendered_charts(&helm);
        let base = only_document(&charts[0].1);
        files.extend(charts);
        files.extend(invalid_variants(&base));
    }

    let policies = files
        .iter()
        .filter(|(_, text)| {
            text.lines().any(|line| {
                line == "kind: ClusterAdmissionPolicy" || line == "kind: AdmissionPolicy"
            })
        })
        .count();
    assert!(
        policies >= 3,
        "{policies} of {} files hold a policy: {:?}",
        files.len(),
        files.iter().map(|(name, _)| name).collect::<Vec<_>>()
    );
    if let Some(dir) = std::env::var_os("COPYABLE_MANIFESTS").filter(|dir| !dir.is_empty()) {
        write_all(Path::new(&dir), &files);
        eprintln!(
            "wrote {} files to {}",
            files.len(),
            Path::new(&dir).display()
        );
    }
}

/// The release publishes the chart these tests check: its version is checked against the tag,
/// it is packaged from `charts/image-pull-secrets` and handed to chart-releaser, which indexes it.
#[test]
fn release_workflow_publishes_the_chart_with_chart_releaser() {
    let workflow = yaml(".github/workflows/release.yml");
    let steps = |job: &str| -> Vec<Value> {
        workflow["jobs"][job]["steps"]
            .as_sequence()
            .unwrap_or_else(|| panic!("release.yml: job {job} has no steps"))
            .clone()
    };
    let runs = |job: &str| -> String {
        steps(job)
            .iter()
            .filter_map(|step| step["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        runs("release").contains(&format!("{CHART}/Chart.yaml")),
        "release.yml: the tag check must compare the chart's version"
    );
    assert!(
        runs("chart").contains(&format!(
            "helm package {CHART} --destination .cr-release-packages"
        )),
        "release.yml: the chart job must package {CHART} where chart-releaser looks"
    );
    let releaser = steps("chart")
        .into_iter()
        .find(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("helm/chart-releaser-action@"))
        })
        .expect("release.yml: the chart job runs helm/chart-releaser-action");
    assert_eq!(releaser["with"]["skip_packaging"], true);
    assert_eq!(releaser["with"]["mark_as_latest"], false);
}
