# Lambda artifacts for `sam build` (template.yaml: `Metadata: BuildMethod: makefile`).
#
# SAM runs `make build-<LogicalId>` with ARTIFACTS_DIR set to the function's
# empty output directory (.aws-sam/build/<LogicalId>). Each artifact holds:
#   - its pinned third-party packages, wheels for CPython 3.12 on Linux, x86_64 or
#     arm64 (OFFPATH_ARCHITECTURE, below)
#     (infra/requirements-*.txt, installed with --no-deps: boto3/botocore come
#     with the Lambda runtime, and only ApiFunction gets fastapi/mangum);
#   - the offpath package without its developer-only parts (local/, ops/, testing/,
#     cli.py, devstate.py), and without fastapi/ except in ApiFunction's;
#   - functions/__init__.py, functions/shared/ and its own functions/<name>/.
#
# Try one by hand: make build-WorkerFunction ARTIFACTS_DIR=/tmp/worker

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

# Any Python with pip works (the flags below pick the target's wheels); 3.12
# first since it matches the runtime.
PYTHON ?= $(shell for p in python3.12 python3; do $$p -c '' 2>/dev/null && { command -v $$p; break; }; done)
PIP_INSTALL ?= $(or $(PYTHON),$(error no python3.12 or python3 on PATH to run pip)) -m pip install
# The functions' instruction set, the template's Architecture parameter: scripts/sam
# reads it from --parameter-overrides and exports it (sam build itself does not
# tell make). Its wheels: manylinux2014 for x86_64 or aarch64.
OFFPATH_ARCHITECTURE ?= x86_64
WHEEL_PLATFORM_x86_64 := manylinux2014_x86_64
WHEEL_PLATFORM_arm64 := manylinux2014_aarch64
WHEEL_PLATFORM := $(or $(WHEEL_PLATFORM_$(OFFPATH_ARCHITECTURE)),$(error OFFPATH_ARCHITECTURE is x86_64 or arm64, not "$(OFFPATH_ARCHITECTURE)"))
PIP_FLAGS := --no-deps --platform $(WHEEL_PLATFORM) --implementation cp \
	--python-version 3.12 --only-binary=:all: --no-compile --quiet \
	--disable-pip-version-check --root-user-action=ignore

.PHONY: build-ApiFunction build-WorkerFunction build-HeavyWorkerFunction build-SchedulerFunction validate build

build-ApiFunction:
	$(call lambda_artifact,api,$(ROOT)/infra/requirements-api.txt,)

build-WorkerFunction:
	$(call lambda_artifact,worker,$(ROOT)/infra/requirements-lambda.txt,fastapi)

# The heavy pool's worker: the same code as WorkerFunction's; OFFPATH_POOL tells them apart.
build-HeavyWorkerFunction:
	$(call lambda_artifact,worker,$(ROOT)/infra/requirements-lambda.txt,fastapi)

build-SchedulerFunction:
	$(call lambda_artifact,scheduler,$(ROOT)/infra/requirements-lambda.txt,fastapi)

# offpath's parts that run on a laptop only, never in a function.
DEVELOPER_ONLY := local ops testing cli.py devstate.py

# $(1): the function's directory under functions/; $(2): its requirements file;
# $(3): more of offpath's parts it must not ship (the worker never gets fastapi/).
define lambda_artifact
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 2; }
	@test -f "$(ROOT)/functions/$(1)/__init__.py" || { echo "functions/$(1)/ is missing" >&2; exit 2; }
	mkdir -p "$(ARTIFACTS_DIR)/functions"
	$(PIP_INSTALL) $(PIP_FLAGS) --target "$(ARTIFACTS_DIR)" -r "$(2)"
	rm -rf "$(ARTIFACTS_DIR)/bin"
	cp -R "$(ROOT)/src/offpath" "$(ARTIFACTS_DIR)/offpath"
	rm -rf $(foreach part,$(DEVELOPER_ONLY) $(3),"$(ARTIFACTS_DIR)/offpath/$(part)")
	cp "$(ROOT)/functions/__init__.py" "$(ARTIFACTS_DIR)/functions/__init__.py"
	cp -R "$(ROOT)/functions/shared" "$(ARTIFACTS_DIR)/functions/shared"
	cp -R "$(ROOT)/functions/$(1)" "$(ARTIFACTS_DIR)/functions/$(1)"
	find "$(ARTIFACTS_DIR)/offpath" "$(ARTIFACTS_DIR)/functions" \
		\( -name __pycache__ -o -name '*.pyc' \) -prune -exec rm -rf {} +
	$(call precompile)
endef

# /var/task is read-only: without byte-code in the artifact, every cold start
# compiles each imported module again (~0.7 s for the API). Hash-based pycs stay
# valid when the zip resets file times; they must come from the runtime's Python.
define precompile
	@if $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then \
		$(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(ARTIFACTS_DIR)" >/dev/null; \
	else \
		echo "warning: $(PYTHON) is not 3.12: no byte-code in the artifact (slower cold starts)" >&2; \
	fi
endef

# Conveniences for people; SAM itself only calls the build-* targets.
validate:
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} bash "$(ROOT)/scripts/sam" validate --lint

build:
	bash "$(ROOT)/scripts/sam" build
