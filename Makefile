# Build, test and demo the image-pull-secrets Kubewarden policy.
# `make demo` is the main job; `make test` runs every test. Both set up what they need.

WASM_TARGET := wasm32-wasip1
WASM_PROFILE := wasm
BUILT_WASM := target/$(WASM_TARGET)/$(WASM_PROFILE)/image_pull_secrets.wasm
# The real Kubewarden programs (1.36) every runtime suite, the annotation, the demo and the
# benchmarks use: from the environment, else on PATH, else ../shared/kubewarden/ (`.ci/run`).
KUBEWARDEN_SHARED := $(abspath ../shared/kubewarden)
KWCTL ?= $(or $(shell command -v kwctl 2>/dev/null),$(wildcard $(KUBEWARDEN_SHARED)/kwctl))
POLICY_SERVER ?= $(or $(shell command -v policy-server 2>/dev/null),$(wildcard $(KUBEWARDEN_SHARED)/policy-server))
KWCTL := $(KWCTL)
POLICY_SERVER := $(POLICY_SERVER)
export KWCTL POLICY_SERVER
KUBEWARDEN_RELEASE := https://github.com/kubewarden/kubewarden-controller/releases/tag/v1.36.0
# The Kubernetes 1.36 control plane, kubectl and helm, the envtest way: KUBEBUILDER_ASSETS names the
# folder holding them. Unset, and ../shared/kubernetes/ at hand, they are unpacked into
# target/kubernetes (as .ci/run does).
SHARED_KUBERNETES := $(abspath ../shared/kubernetes)
ifeq ($(KUBEBUILDER_ASSETS),)
ifneq ($(wildcard $(SHARED_KUBERNETES)/unpack),)
KUBEBUILDER_ASSETS := $(abspath target/kubernetes)
$(shell $(SHARED_KUBERNETES)/unpack $(KUBEBUILDER_ASSETS) >/dev/null)
endif
endif
CLUSTER_PROGRAMS := etcd kube-apiserver kube-controller-manager kubectl helm
MISSING_CLUSTER_PROGRAMS := $(if $(KUBEBUILDER_ASSETS),$(foreach p,$(CLUSTER_PROGRAMS),$(if $(wildcard $(KUBEBUILDER_ASSETS)/$(p)),,$(p))),$(CLUSTER_PROGRAMS))
HELM ?= $(or $(wildcard $(KUBEBUILDER_ASSETS)/helm),$(shell command -v helm 2>/dev/null))
export KUBEBUILDER_ASSETS HELM
# kwctl keeps its caches and the Sigstore trust root it cannot fetch here out of $HOME.
KWCTL_HOME := $(abspath target/kwctl-home)
KWCTL_ENV := XDG_CACHE_HOME=$(KWCTL_HOME)/cache XDG_CONFIG_HOME=$(KWCTL_HOME)/config XDG_DATA_HOME=$(KWCTL_HOME)/data
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-reference-types --enable-multivalue --enable-mutable-globals
POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml $(wildcard Cargo.lock)
FUZZ_SECONDS ?= 120

.PHONY: setup need-kwctl need-policy-server need-cluster test unit-tests e2e-tests lint fmt demo bench fuzz clean
.PHONY: chart chart-check copyable-manifests

# Tools a fresh machine lacks: the wasm target, rustfmt and clippy, and binaryen's wasm-opt.
setup:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	@command -v wasm-opt >/dev/null || apt-get install -y binaryen >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y binaryen >/dev/null) \
		|| { echo "wasm-opt (Debian package binaryen) is required" >&2; exit 1; }

# A missing program fails the target that needs it, with where to get it: nothing runs without it.
need-kwctl:
	@test -n "$(KWCTL)" && command -v "$(KWCTL)" >/dev/null || { \
		echo "kwctl 1.36 is required and was not found (KWCTL, PATH, $(KUBEWARDEN_SHARED)/kwctl)." >&2; \
		echo "Install Kubewarden's release: kwctl-linux-x86_64.zip from $(KUBEWARDEN_RELEASE)," >&2; \
		echo "unzip it onto PATH as kwctl, or set KWCTL=/path/to/kwctl." >&2; exit 1; }

need-policy-server:
	@test -n "$(POLICY_SERVER)" && command -v "$(POLICY_SERVER)" >/dev/null || { \
		echo "policy-server 1.36 is required and was not found (POLICY_SERVER, PATH, $(KUBEWARDEN_SHARED)/policy-server)." >&2; \
		echo "Kubewarden releases it in the image ghcr.io/kubewarden/policy-server:v1.36.0 (/policy-server);" >&2; \
		echo "copy it onto PATH, or build crates/policy-server of $(KUBEWARDEN_RELEASE), or set POLICY_SERVER." >&2; exit 1; }

need-cluster:
	@test -z "$(strip $(MISSING_CLUSTER_PROGRAMS))" || { \
		echo "The cluster suite needs the Kubernetes 1.36 programs $(CLUSTER_PROGRAMS) in KUBEBUILDER_ASSETS;" >&2; \
		echo "missing: $(strip $(MISSING_CLUSTER_PROGRAMS)). Get them with ../shared/kubernetes/unpack DIR, or from the" >&2; \
		echo "releases: https://dl.k8s.io/release/v1.36.2/bin/linux/amd64/{kube-apiserver,kube-controller-manager,kubectl}," >&2; \
		echo "etcd v3.6 (github.com/etcd-io/etcd/releases), helm v4 (get.helm.sh); envtest's assets lack kube-controller-manager." >&2; exit 1; }

# The policy module, optimised with wasm-opt.
policy.wasm: $(POLICY_SOURCES) | setup
	cargo build --profile $(WASM_PROFILE) --target $(WASM_TARGET) --lib
	wasm-opt $(WASM_OPT_FLAGS) $(BUILT_WASM) -o $@

# The module as it is distributed: metadata embedded by kwctl annotate. kwctl takes no
# --questions-path here: the Rancher form reaches users through artifacthub-pkg.yml.
annotated-policy.wasm: policy.wasm policy-metadata.yaml README.md | need-kwctl
	$(KWCTL_ENV) $(KWCTL) annotate -m policy-metadata.yaml -u README.md -o $@ policy.wasm

# The Artifact Hub package, derived by kwctl from the metadata and the Rancher form
# (tests/metadata.rs checks it is up to date). No --version: kwctl takes the version from
# io.kubewarden.policy.version and warns that the flag is deprecated.
artifacthub-pkg.yml: policy-metadata.yaml questions-ui.yml | need-kwctl
	$(KWCTL_ENV) $(KWCTL) scaffold artifacthub -m policy-metadata.yaml --questions-path questions-ui.yml -o $@

# charts/image-pull-secrets/'s generated files (Chart.yaml, values.yaml, questions.yaml, README.md,
# LICENSE), from the files they mirror; chart-check fails when they are stale.
chart:
	python3 .github/scripts/chart.py

chart-check:
	python3 .github/scripts/chart.py --check

# The packaging tests annotate policy.wasm with kwctl and run it (tests/support/mod.rs); the chart's
# helm lint and helm template run with HELM (tests/chart.rs).
unit-tests: policy.wasm chart-check | setup need-kwctl
	cargo test -p image-pull-secrets

# Every policy manifest an operator can copy from us, one file each, and three the API server must
# refuse (invalid/), for `kubectl apply --dry-run=server` with Kubewarden's CRDs.
copyable-manifests: policy.wasm | need-kwctl need-cluster
	COPYABLE_MANIFESTS=$(abspath target/copyable-manifests) \
		cargo test -p image-pull-secrets --test chart copyable_manifests_parse_and_are_written_on_request -- --exact --nocapture

# Every case of e2e-tests/cases/ through `kwctl run` (E2E_FILTER=substring: some of them).
e2e-tests: annotated-policy.wasm | need-kwctl
	$(KWCTL_ENV) POLICY=$(abspath annotated-policy.wasm) cargo test -p e2e-tests --test e2e -- --nocapture

lint: | setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p image-pull-secrets --target $(WASM_TARGET) -- -D warnings
	# The fuzz targets and the callgrind profile are crates of their own: linted so they keep
	# building against the policy (running them: make fuzz, benches/README.md).
	cargo clippy --manifest-path fuzz/Cargo.toml --bins -- -D warnings
	cargo clippy --manifest-path benches/profile/Cargo.toml -- -D warnings

test: need-kwctl need-policy-server need-cluster lint unit-tests e2e-tests e2e-cluster

fmt: | setup
	cargo fmt --all

demo: annotated-policy.wasm | need-kwctl
	sh examples/demo.sh

# The main job on a real cluster: the cluster suite's set-up, then `kubectl run` of a private image
# in a namespace with the secret, one without it under `warn`, one under `reject`, and a refused
# Deployment; then everything stops.
demo-cluster: annotated-policy.wasm | setup-registry need-policy-server need-cluster
	@$(KWCTL_ENV) POLICY=$(abspath annotated-policy.wasm) CLUSTER_DEMO=1 cargo test -q -p e2e-tests --test cluster

# Every benchmark: kwctl bench, then policy-server under load (benches/README.md).
bench: bench-kwctl bench-policy-server

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm

.PHONY: e2e-cluster demo-cluster

# Debian's docker-registry, the loopback OCI registry the cluster suite pulls the policy from.
setup-registry:
	@command -v docker-registry >/dev/null || apt-get install -y docker-registry >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y docker-registry >/dev/null) \
		|| { echo "docker-registry (Debian package docker-registry) is required" >&2; exit 1; }

# The cluster suite: a real control plane on loopback, the real PolicyServer as its webhook, and
# the real kwctl recording e2e-tests/recorded/'s host errors (e2e-tests/tests/cluster.rs;
# CASES=substring,... runs some). Needs openssl and docker-registry.
e2e-cluster: annotated-policy.wasm copyable-manifests | setup-registry need-policy-server need-cluster
	$(KWCTL_ENV) POLICY=$(abspath annotated-policy.wasm) COPYABLE_MANIFESTS=$(abspath target/copyable-manifests) \
		cargo test -p e2e-tests --test cluster

.PHONY: setup-wrk floor-modules bench-kwctl bench-policy-server

# BENCHMARKS.md's figures: the real kwctl and policy-server, with the no-op module and the floors
# beside this policy, on the requests committed in benches/ (benches/README.md).
BENCH_SECONDS ?= 8

# Debian's wrk, the load generator of bench-policy-server.
setup-wrk:
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y wrk >/dev/null) \
		|| { echo "wrk (Debian package wrk) is required" >&2; exit 1; }

# The floor modules both benches run beside this policy: its exact answers, given without reading
# the request (benches/floor/build.sh), so the host's own cost of each answer is measured.
floor-modules: | setup need-kwctl
	$(KWCTL_ENV) WASM_OPT_FLAGS="$(WASM_OPT_FLAGS)" sh benches/floor/build.sh

# kwctl bench on the four modules, interleaved per request (benches/kwctl-bench.py --help).
bench-kwctl: annotated-policy.wasm floor-modules
	python3 benches/kwctl-bench.py

# One policy-server holding the no-op, the floors, this policy and trusted-repos (or BASELINE_POLICY),
# its lookups answered by a real kube-apiserver and etcd, loaded by wrk for BENCH_SECONDS per run
# (e2e-tests/tests/bench_policy_server.rs).
bench-policy-server: annotated-policy.wasm floor-modules | setup-wrk need-policy-server need-cluster
	BENCH_SECONDS=$(BENCH_SECONDS) cargo test --release -p e2e-tests --test bench_policy_server
