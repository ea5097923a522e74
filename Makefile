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
# kwctl keeps its caches and the Sigstore trust root it cannot fetch here out of $HOME.
KWCTL_HOME := $(abspath target/kwctl-home)
KWCTL_ENV := XDG_CACHE_HOME=$(KWCTL_HOME)/cache XDG_CONFIG_HOME=$(KWCTL_HOME)/config XDG_DATA_HOME=$(KWCTL_HOME)/data
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-reference-types --enable-multivalue --enable-mutable-globals
POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml $(wildcard Cargo.lock)
FUZZ_SECONDS ?= 120

.PHONY: setup need-kwctl need-policy-server test unit-tests e2e-tests lint fmt demo bench fuzz clean

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

# The packaging tests annotate policy.wasm with kwctl and run it (tests/support/mod.rs).
unit-tests: policy.wasm | setup need-kwctl
	cargo test -p image-pull-secrets

# Every case of e2e-tests/cases/ through `kwctl run` (E2E_FILTER=substring: some of them).
e2e-tests: annotated-policy.wasm | need-kwctl
	$(KWCTL_ENV) POLICY=$(abspath annotated-policy.wasm) cargo test -p e2e-tests --test e2e -- --nocapture

lint: | setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p image-pull-secrets --target $(WASM_TARGET) -- -D warnings

test: need-kwctl need-policy-server lint unit-tests e2e-tests e2e-policy-server

fmt: | setup
	cargo fmt --all

demo: annotated-policy.wasm | need-kwctl
	sh examples/demo.sh

# Every benchmark: kwctl bench, then policy-server under load (benches/README.md).
bench: bench-kwctl bench-policy-server

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm

.PHONY: record-host-answers e2e-policy-server

# Debian's docker-registry, the loopback OCI registry the PolicyServer suite pulls the policy from.
setup-registry:
	@command -v docker-registry >/dev/null || apt-get install -y docker-registry >/dev/null 2>&1 \
		|| (apt-get update >/dev/null && apt-get install -y docker-registry >/dev/null) \
		|| { echo "docker-registry (Debian package docker-registry) is required" >&2; exit 1; }

# Real kwctl/policy-server host answers against the loopback API stub (e2e-tests/recorded/README.md).
record-host-answers: annotated-policy.wasm | setup-registry need-policy-server
	$(KWCTL_ENV) RECORD_DIR=$(abspath e2e-tests/recorded) cargo test -p e2e-tests --test record_host_answers

# The policy pushed to a loopback OCI registry and served by the real policy-server, with the
# loopback API stub as the cluster (e2e-tests/tests/policy_server.rs).
e2e-policy-server: annotated-policy.wasm | setup-registry need-policy-server
	$(KWCTL_ENV) cargo test -p e2e-tests --test policy_server -- --nocapture

.PHONY: setup-wrk floor-modules bench-kwctl bench-policy-server

# Issue 12's figures (BENCHMARKS.md): the real kwctl and policy-server, with the no-op module and
# Kubewarden's trusted-repos-policy beside this policy, on the requests committed in benches/.
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

# One policy-server holding the three policies, loaded by wrk for BENCH_SECONDS per run
# (e2e-tests/tests/bench_policy_server.rs).
bench-policy-server: annotated-policy.wasm floor-modules | setup-wrk need-policy-server
	BENCH_SECONDS=$(BENCH_SECONDS) cargo test --release -p e2e-tests --test bench_policy_server
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_RULES=3,30,100 cargo test --release -p e2e-tests --test bench_policy_server
