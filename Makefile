# Build, test and demo the image-pull-secrets Kubewarden policy.
# `make demo` is the main job; `make test` runs every test. Both set up what they need.

WASM_TARGET := wasm32-wasip1
WASM_PROFILE := wasm
BUILT_WASM := target/$(WASM_TARGET)/$(WASM_PROFILE)/image_pull_secrets.wasm
# The kwctl-compatible runner: its own workspace and lockfile under tools/ (no wasmtime here).
RUNNER_DIR := tools/policy-runner
RUNNER := $(RUNNER_DIR)/target/release/policy-runner
# The kwctl the e2e suite runs the policy with: by default this repository's runner.
KWCTL ?= $(abspath $(RUNNER))
# The real Kubewarden programs (1.36): `.ci/run` points these at ../shared/kubewarden/; otherwise
# they are looked up on PATH. A real kwctl annotates annotated-policy.wasm, as the release does
# (else the runner does), and runs the e2e suite a second time; policy-server runs the PolicyServer
# suite. Without them `make test` says which real-runtime suites it did not run.
KWCTL_REAL ?= $(shell command -v kwctl 2>/dev/null)
POLICY_SERVER ?= $(shell command -v policy-server 2>/dev/null)
export KWCTL_REAL POLICY_SERVER
# kwctl keeps its caches and the Sigstore trust root it cannot fetch here out of $HOME.
KWCTL_HOME := $(abspath target/kwctl-home)
KWCTL_ENV := XDG_CACHE_HOME=$(KWCTL_HOME)/cache XDG_CONFIG_HOME=$(KWCTL_HOME)/config XDG_DATA_HOME=$(KWCTL_HOME)/data
FOUND_KWCTL = $(or $(KWCTL_REAL),$(filter-out %policy-runner,$(KWCTL)),$(shell command -v kwctl 2>/dev/null))
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-reference-types --enable-multivalue --enable-mutable-globals
POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml $(wildcard Cargo.lock)
RUNNER_SOURCES := $(shell find $(RUNNER_DIR)/src -name '*.rs') $(RUNNER_DIR)/Cargo.toml $(RUNNER_DIR)/Cargo.lock
# Helm 4 for the chart's tests (tests/chart.rs): `.ci/run` unpacks ../shared/kubernetes into
# KUBEBUILDER_ASSETS; otherwise helm is looked up on PATH.
HELM ?= $(or $(wildcard $(KUBEBUILDER_ASSETS)/helm),$(shell command -v helm 2>/dev/null))
export HELM
FUZZ_SECONDS ?= 120
# Evaluations per workload in `make bench` (a fresh instance each).
BENCH_ITERATIONS ?= 1000

.PHONY: setup runner test unit-tests chart chart-check chart-tests copyable-manifests e2e-tests e2e-tests-kwctl real-runtime-tests lint fmt demo bench fuzz clean

# Tools a fresh machine lacks: the wasm target, rustfmt and clippy, and binaryen's wasm-opt.
setup:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	@command -v wasm-opt >/dev/null || apt-get install -y binaryen >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y binaryen >/dev/null) \
		|| { echo "wasm-opt (Debian package binaryen) is required" >&2; exit 1; }

# The policy module, optimised with wasm-opt.
policy.wasm: $(POLICY_SOURCES) | setup
	cargo build --profile $(WASM_PROFILE) --target $(WASM_TARGET) --lib
	wasm-opt $(WASM_OPT_FLAGS) $(BUILT_WASM) -o $@

$(RUNNER): $(RUNNER_SOURCES)
	cargo build --release --locked --manifest-path $(RUNNER_DIR)/Cargo.toml

runner: $(RUNNER)

# The module as it is distributed: metadata embedded by kwctl annotate (KWCTL_REAL) or by the
# runner's annotate, which writes the same section. kwctl takes no --questions-path here: the
# Rancher form reaches users as the chart's questions.yaml (make chart).
annotated-policy.wasm: policy.wasm policy-metadata.yaml README.md $(if $(KWCTL_REAL),,$(RUNNER))
	$(or $(KWCTL_REAL),$(RUNNER)) annotate -m policy-metadata.yaml -u README.md -o $@ policy.wasm

# The Artifact Hub package, derived by the real kwctl from the metadata and the Rancher form
# (tests/metadata.rs checks it is up to date when a real kwctl is at hand). No --version: kwctl
# takes the version from io.kubewarden.policy.version and warns that the flag is deprecated.
artifacthub-pkg.yml: policy-metadata.yaml questions-ui.yml
	@test -n "$(FOUND_KWCTL)" || { echo "artifacthub-pkg.yml is written by kwctl: put kwctl on PATH or set KWCTL_REAL" >&2; exit 1; }
	$(KWCTL_ENV) $(FOUND_KWCTL) scaffold artifacthub -m policy-metadata.yaml --questions-path questions-ui.yml -o $@

# charts/image-pull-secrets/'s generated files (Chart.yaml, values.yaml, questions.yaml, README.md,
# LICENSE), from the files they mirror; chart-check fails when they are stale.
chart:
	python3 .github/scripts/chart.py

chart-check:
	python3 .github/scripts/chart.py --check

# The chart's helm lint, helm template and repository index run in unit-tests (tests/chart.rs);
# without helm they cannot, and say so here.
chart-tests: chart-check
	@test -n "$(HELM)" || echo "NOT RUN: helm lint, helm template and helm repo index of the chart (tests/chart.rs): set HELM to helm 4 or KUBEBUILDER_ASSETS to a folder holding it (../shared/kubernetes/unpack DIR)"

# Every policy manifest an operator can copy from us, one file each, and three the API server must
# refuse (invalid/), for `kubectl apply --dry-run=server` with Kubewarden's CRDs.
copyable-manifests: policy.wasm
	@test -n "$(HELM)" || { echo "copyable-manifests renders the chart: set HELM or KUBEBUILDER_ASSETS" >&2; exit 1; }
	@test -n "$(FOUND_KWCTL)" || { echo "copyable-manifests runs kwctl scaffold manifest: set KWCTL_REAL" >&2; exit 1; }
	KWCTL_REAL=$(FOUND_KWCTL) COPYABLE_MANIFESTS=$(abspath target/copyable-manifests) \
		cargo test -p image-pull-secrets --test chart copyable_manifests_parse_and_are_written_on_request -- --exact --nocapture

# With a real kwctl the packaging tests annotate policy.wasm and run it (tests/support/mod.rs).
unit-tests: $(if $(KWCTL_REAL),policy.wasm) | setup
	cargo test -p image-pull-secrets
	cargo test --release --locked --manifest-path $(RUNNER_DIR)/Cargo.toml

# The policy annotated with other metadata, for the runner-fidelity cases.
E2E_MODULES := target/e2e/policy-without-secret-access.wasm target/e2e/policy-not-mutating.wasm
target/e2e/policy-%.wasm: e2e-tests/fixtures/metadata-%.yaml policy.wasm $(RUNNER)
	@mkdir -p target/e2e
	$(RUNNER) annotate -m $< -o $@ policy.wasm

e2e-tests: annotated-policy.wasm $(RUNNER) $(E2E_MODULES)
	$(KWCTL_ENV) KWCTL=$(KWCTL) POLICY=$(abspath annotated-policy.wasm) cargo test --release -p e2e-tests --test e2e -- --nocapture

# The same cases, run by the real kwctl.
e2e-tests-kwctl: annotated-policy.wasm $(RUNNER) $(E2E_MODULES)
	@test -n "$(KWCTL_REAL)" || { echo "e2e-tests-kwctl needs a real kwctl: set KWCTL_REAL" >&2; exit 1; }
	$(KWCTL_ENV) KWCTL=$(KWCTL_REAL) POLICY=$(abspath annotated-policy.wasm) cargo test --release -p e2e-tests --test e2e -- --nocapture

# Every suite that needs the real Kubewarden programs; those that cannot run are named, not hidden.
real-runtime-tests:
	@if [ -n "$(KWCTL_REAL)" ]; then $(MAKE) --no-print-directory e2e-tests-kwctl; \
	else echo "NOT RUN: the e2e suite under the real kwctl (set KWCTL_REAL to a kwctl 1.36)"; fi
	@if [ -n "$(KWCTL_REAL)" ] && [ -n "$(POLICY_SERVER)" ] && [ -n "$(CLUSTER_ASSETS)" ]; then $(MAKE) --no-print-directory e2e-cluster; \
	else echo "NOT RUN: the cluster suite (needs KWCTL_REAL, POLICY_SERVER and KUBEBUILDER_ASSETS holding etcd, kube-apiserver, \
	kube-controller-manager and kubectl 1.36: ../shared/kubernetes/unpack DIR, or controller-runtime's setup-envtest)"; fi

lint: | setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo fmt --manifest-path $(RUNNER_DIR)/Cargo.toml --all -- --check
	cargo clippy --locked --manifest-path $(RUNNER_DIR)/Cargo.toml --all-targets -- -D warnings
	cargo clippy -p image-pull-secrets --target $(WASM_TARGET) -- -D warnings

test: lint chart-tests unit-tests e2e-tests real-runtime-tests

fmt: | setup
	cargo fmt --all
	cargo fmt --manifest-path $(RUNNER_DIR)/Cargo.toml --all

# With a real kwctl at hand the demo needs only the module; otherwise it builds the runner too.
demo: policy.wasm
	@if [ -n "$(FOUND_KWCTL)" ]; then \
		$(MAKE) --no-print-directory KWCTL_REAL="$(FOUND_KWCTL)" annotated-policy.wasm \
		&& KWCTL="$(FOUND_KWCTL)" sh examples/demo.sh; \
	else \
		$(MAKE) --no-print-directory annotated-policy.wasm $(RUNNER) \
		&& RUNNER=$(RUNNER) sh examples/demo.sh; \
	fi

bench: annotated-policy.wasm $(RUNNER)
	$(RUNNER) bench --iterations $(BENCH_ITERATIONS) annotated-policy.wasm

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh

clean:
	cargo clean
	cargo clean --manifest-path $(RUNNER_DIR)/Cargo.toml
	rm -f policy.wasm annotated-policy.wasm

.PHONY: record-host-answers e2e-cluster demo-cluster

# The control plane's programs, the envtest way: KUBEBUILDER_ASSETS names the folder holding etcd,
# kube-apiserver, kube-controller-manager and kubectl. Unset, and ../shared/kubernetes/ at hand,
# they are unpacked into target/kubernetes (as .ci/run does).
SHARED_KUBERNETES := $(abspath ../shared/kubernetes)
ifeq ($(KUBEBUILDER_ASSETS),)
ifneq ($(wildcard $(SHARED_KUBERNETES)/unpack),)
KUBEBUILDER_ASSETS := $(abspath target/kubernetes)
$(shell $(SHARED_KUBERNETES)/unpack $(KUBEBUILDER_ASSETS) >/dev/null)
endif
endif
export KUBEBUILDER_ASSETS
CLUSTER_PROGRAMS := etcd kube-apiserver kube-controller-manager kubectl
CLUSTER_ASSETS := $(if $(KUBEBUILDER_ASSETS),$(if $(strip $(foreach p,$(CLUSTER_PROGRAMS),$(if $(wildcard $(KUBEBUILDER_ASSETS)/$(p)),,$(p)))),,$(KUBEBUILDER_ASSETS)))

# The cluster suite: a real control plane on loopback, the real PolicyServer as its webhook
# (e2e-tests/tests/cluster.rs). Needs openssl and Debian's docker-registry.
e2e-cluster: annotated-policy.wasm copyable-manifests | setup-registry
	@test -n "$(CLUSTER_ASSETS)" || { echo "e2e-cluster: set KUBEBUILDER_ASSETS to a folder holding $(CLUSTER_PROGRAMS)" >&2; exit 1; }
	$(KWCTL_ENV) KWCTL=$(KWCTL_REAL) POLICY=$(abspath annotated-policy.wasm) HELM=$(HELM) \
		COPYABLE_MANIFESTS=$(abspath target/copyable-manifests) cargo test --release -p e2e-tests --test cluster

# The main job on a real cluster: the same set-up, then `kubectl run` of a private image in a
# namespace with the secret, one without it under `warn`, and one under `reject`; then all stops.
demo-cluster: annotated-policy.wasm | setup-registry
	@test -n "$(CLUSTER_ASSETS)" || { echo "demo-cluster: set KUBEBUILDER_ASSETS to a folder holding $(CLUSTER_PROGRAMS)" >&2; exit 1; }
	@$(KWCTL_ENV) KWCTL=$(KWCTL_REAL) POLICY=$(abspath annotated-policy.wasm) CLUSTER_DEMO=1 \
		cargo test --release -q -p e2e-tests --test cluster

# Debian's docker-registry, the loopback OCI registry the cluster suite pulls the policy from.
setup-registry:
	@command -v docker-registry >/dev/null || apt-get install -y docker-registry >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y docker-registry >/dev/null) \
		|| { echo "docker-registry (Debian package docker-registry) is required" >&2; exit 1; }

# The real kwctl's host answers from a real API server (e2e-tests/recorded/README.md).
record-host-answers: annotated-policy.wasm
	$(KWCTL_ENV) KWCTL=$(KWCTL_REAL) RECORD_DIR=$(abspath e2e-tests/recorded) cargo test --release -p e2e-tests --test record_host_answers

.PHONY: setup-wrk floor-modules bench-kwctl bench-policy-server

# Issue 12's figures (BENCHMARKS.md): the real kwctl and policy-server, with the no-op module and
# Kubewarden's trusted-repos-policy beside this policy, on the requests committed in benches/.
KUBEWARDEN_SHARED := $(abspath ../shared/kubewarden)
BENCH_SECONDS ?= 8

# Debian's wrk, the load generator of bench-policy-server.
setup-wrk:
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y wrk >/dev/null) \
		|| { echo "wrk (Debian package wrk) is required" >&2; exit 1; }

# The floor modules both benches run beside this policy: its exact answers, given without reading
# the request (benches/floor/build.sh), so the host's own cost of each answer is measured.
floor-modules: $(RUNNER) | setup
	ANNOTATE=$(RUNNER) WASM_OPT_FLAGS="$(WASM_OPT_FLAGS)" sh benches/floor/build.sh

# kwctl bench on the four modules, interleaved per request (benches/kwctl-bench.py --help).
bench-kwctl: annotated-policy.wasm floor-modules
	KWCTL_REAL=$(or $(KWCTL_REAL),$(KUBEWARDEN_SHARED)/kwctl) python3 benches/kwctl-bench.py

# One policy-server holding the three policies, loaded by wrk for BENCH_SECONDS per run
# (e2e-tests/tests/bench_policy_server.rs).
bench-policy-server: annotated-policy.wasm floor-modules | setup-wrk
	POLICY_SERVER=$(or $(POLICY_SERVER),$(KUBEWARDEN_SHARED)/policy-server) BENCH_SECONDS=$(BENCH_SECONDS) \
		cargo test --release -p e2e-tests --test bench_policy_server
	POLICY_SERVER=$(or $(POLICY_SERVER),$(KUBEWARDEN_SHARED)/policy-server) BENCH_SECONDS=$(BENCH_SECONDS) \
		BENCH_RULES=3,30,100 cargo test --release -p e2e-tests --test bench_policy_server
