# Build, test and demo the image-pull-secrets Kubewarden policy.
# `make demo` is the main job; `make test` runs every test. Both set up what they need.

WASM_TARGET := wasm32-wasip1
WASM_PROFILE := wasm
BUILT_WASM := target/$(WASM_TARGET)/$(WASM_PROFILE)/image_pull_secrets.wasm
RUNNER := target/release/policy-runner
# The kwctl the e2e suite runs the policy with: by default this repository's runner.
KWCTL ?= $(abspath $(RUNNER))
# A real kwctl (a path, or a name on PATH). When set, it annotates annotated-policy.wasm, as the
# release does; otherwise the runner does. `make artifacthub-pkg.yml` and `make demo` look for
# one on their own (KWCTL_REAL, then a KWCTL that is not the runner, then kwctl on PATH).
KWCTL_REAL ?=
FOUND_KWCTL = $(or $(KWCTL_REAL),$(filter-out %policy-runner,$(KWCTL)),$(shell command -v kwctl 2>/dev/null))
WASM_OPT_FLAGS := -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-reference-types --enable-multivalue --enable-mutable-globals
POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml $(wildcard Cargo.lock)
RUNNER_SOURCES := $(shell find e2e-tests/src -name '*.rs') e2e-tests/Cargo.toml $(wildcard Cargo.lock)
FUZZ_SECONDS ?= 120

.PHONY: setup runner test unit-tests e2e-tests lint fmt demo bench fuzz clean

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
	cargo build --release -p policy-runner

runner: $(RUNNER)

# The module as it is distributed: metadata embedded by kwctl annotate (KWCTL_REAL) or by the
# runner's annotate, which writes the same section. kwctl takes no --questions-path here: the
# Rancher form reaches users through artifacthub-pkg.yml.
annotated-policy.wasm: policy.wasm policy-metadata.yaml README.md $(if $(KWCTL_REAL),,$(RUNNER))
	$(or $(KWCTL_REAL),$(RUNNER)) annotate -m policy-metadata.yaml -u README.md -o $@ policy.wasm

# The Artifact Hub package, derived by the real kwctl from the metadata and the Rancher form
# (tests/metadata.rs checks it is up to date when a real kwctl is at hand). No --version: kwctl
# takes the version from io.kubewarden.policy.version and warns that the flag is deprecated.
artifacthub-pkg.yml: policy-metadata.yaml questions-ui.yml
	@test -n "$(FOUND_KWCTL)" || { echo "artifacthub-pkg.yml is written by kwctl: put kwctl on PATH or set KWCTL_REAL" >&2; exit 1; }
	$(FOUND_KWCTL) scaffold artifacthub -m policy-metadata.yaml --questions-path questions-ui.yml -o $@

unit-tests: | setup
	cargo test -p image-pull-secrets
	cargo test --release -p policy-runner --lib --bins --test runner

# The policy annotated with other metadata, for the runner-fidelity cases.
E2E_MODULES := target/e2e/policy-without-secret-access.wasm target/e2e/policy-not-mutating.wasm
target/e2e/policy-%.wasm: e2e-tests/fixtures/metadata-%.yaml policy.wasm $(RUNNER)
	@mkdir -p target/e2e
	$(RUNNER) annotate -m $< -o $@ policy.wasm

e2e-tests: annotated-policy.wasm $(RUNNER) $(E2E_MODULES)
	KWCTL=$(KWCTL) POLICY=$(abspath annotated-policy.wasm) cargo test --release -p policy-runner --test e2e -- --nocapture

lint: | setup
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p image-pull-secrets --target $(WASM_TARGET) -- -D warnings

test: lint unit-tests e2e-tests

fmt: | setup
	cargo fmt --all

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
	$(RUNNER) bench annotated-policy.wasm

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh fuzz/run.sh

clean:
	cargo clean
	rm -f policy.wasm annotated-policy.wasm

# The real Kubewarden binaries for the targets below: KWCTL if given, else ../shared/kubewarden's.
.PHONY: record-host-answers e2e-policy-server
REAL_KWCTL = $(if $(filter environment command,$(firstword $(origin KWCTL))),$(KWCTL),$(abspath ../shared/kubewarden/kwctl))
POLICY_SERVER ?= $(abspath ../shared/kubewarden/policy-server)

# Real kwctl/policy-server host answers against the loopback API stub (e2e-tests/recorded/README.md).
record-host-answers: annotated-policy.wasm
	KWCTL=$(REAL_KWCTL) POLICY_SERVER=$(POLICY_SERVER) RECORD_DIR=$(abspath e2e-tests/recorded) cargo test --release -p policy-runner --test record_host_answers -- --ignored --nocapture --test-threads 1

# The policy pushed to a loopback OCI registry and served by the real policy-server, with the
# loopback API stub as the cluster (e2e-tests/tests/policy_server.rs).
e2e-policy-server: annotated-policy.wasm
	KWCTL=$(REAL_KWCTL) POLICY_SERVER=$(POLICY_SERVER) cargo test --release -p policy-runner --test policy_server -- --nocapture
