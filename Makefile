# Two entry points for a new operator: `make run` (demo) and `make test` (everything CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_ADDRESS ?= 127.0.0.1:10198
DEMO_NODE := $(CURDIR)/demo/node.xml

RUN_APT := libvirt-dev pkg-config gcc python3-dev python3-venv
TEST_APT := $(RUN_APT) $(IMAGE_APT) libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients \
	qemu-system-x86 qemu-utils prometheus prometheus-libvirt-exporter $(TESTBED_APT)
# The testbed's servers (testbed/): databases, message broker, Alertmanager.
# libeatmydata1 turns MariaDB's DDL fsyncs into no-ops (Neutron's migrations: ~5,000).
TESTBED_APT := postgresql-15 postgresql-client-15 libpq5 mariadb-server rabbitmq-server \
	libeatmydata1 prometheus prometheus-alertmanager qemu-utils util-linux
# bench-bridge only: its load generator (bench/wrk_webhooks.lua).
BENCH_BRIDGE_APT := wrk
# make image: Podman (runc: crun refuses some hosts' hybrid cgroups) and the base image's builder.
IMAGE_APT := podman runc mmdebstrap

.PHONY: run test lint unit integration e2e reliability bench golden clean apt-run apt-test \
	testbed testbed-down testbed-status apt-testbed bench-testbed run-bridge bench-bridge \
	apt-bench-bridge bench-servers bench-openstack bench-gnocchi demo demo-down image \
	base-image apt-image wheels apt-kubectl apt-kubernetes-client

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages (run as root): $$missing"; exit 1; fi; \
		echo "installing Debian packages: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; \
			printf '#!/bin/sh\n# no service starts while packages install\nexit 101\n' \
				> /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; fi; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		status=$$?; if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$status; \
	fi
endef

apt-run:
	$(call apt_install,$(RUN_APT))

apt-test:
	$(call apt_install,$(TEST_APT))

apt-testbed:
	$(call apt_install,$(TESTBED_APT))

apt-bench-bridge:
	$(call apt_install,$(BENCH_BRIDGE_APT))

apt-image:
	$(call apt_install,$(IMAGE_APT))

# kubectl renders deploy/kubernetes in the tests (kubectl kustomize). Debian's kubernetes-client
# provides it where no other kubectl is installed (it would conflict with one).
apt-kubectl:
	@command -v kubectl >/dev/null || $(MAKE) --no-print-directory apt-kubernetes-client

apt-kubernetes-client:
	$(call apt_install,kubernetes-client)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.installed-run

run: apt-run $(VENV)/.installed-run
	@echo "demo hypervisor: $(DEMO_NODE) (libvirt test driver, 20 Nova-like domains)"
	@echo "metrics at http://$(RUN_ADDRESS)/metrics  (Ctrl-C to stop)"
	exec $(BIN)/openstack-telemetry-exporter --libvirt.uri "test://$(DEMO_NODE)" \
		--web.listen-address $(RUN_ADDRESS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# --durations: the log names the slowest tests, where a full run's time goes.
test: apt-test apt-kubectl $(VENV)/.installed-test lint
	$(BIN)/pytest --durations=15 tests

unit integration e2e reliability: apt-test $(VENV)/.installed-test
	$(BIN)/pytest tests/$@

golden: $(VENV)/.installed-test
	$(BIN)/python -m tests.e2e.golden --update

bench: apt-test $(VENV)/.installed-test
	$(BIN)/python -m bench.bench_libvirt

# The Aodh -> Alertmanager bridge on this machine (docs/bridge.md): give it your
# Alertmanager replicas, e.g. `make run-bridge ALERTMANAGER_URLS="http://am-1:9093 http://am-2:9093"`.
BRIDGE_ADDRESS ?= 127.0.0.1:10199
ALERTMANAGER_URLS ?= http://127.0.0.1:9093
run-bridge: apt-run $(VENV)/.installed-run
	@echo "webhook at http://$(BRIDGE_ADDRESS)/v1/aodh, state in .bridge/state.db  (Ctrl-C to stop)"
	exec $(BIN)/aodh-alertmanager-bridge --web.listen-address $(BRIDGE_ADDRESS) \
		--state.path .bridge/state.db $(foreach u,$(ALERTMANAGER_URLS),--alertmanager.url $(u))

# A small real OpenStack on this machine, in $(TESTBED_DIR): see docs/testbed.md.
# `make test` reuses a running testbed only when TESTBED_DIR is set in its environment.
TESTBED_DIR ?= $(CURDIR)/.testbed

testbed: apt-testbed $(VENV)/.installed-test
	TESTBED_DIR=$(TESTBED_DIR) $(BIN)/python -m testbed up

testbed-down:
	TESTBED_DIR=$(TESTBED_DIR) $(PYTHON) -m testbed down

testbed-status:
	TESTBED_DIR=$(TESTBED_DIR) $(PYTHON) -m testbed status

# The whole monitoring stack on the testbed (docs/testbed.md#demo): both exporters, the bridge
# with an Aodh alarm that fires, a Prometheus with the project's rules; its state in $(DEMO_DIR).
DEMO_DIR ?= $(TESTBED_DIR)/demo

demo: apt-testbed $(VENV)/.installed-test
	TESTBED_DIR=$(TESTBED_DIR) $(BIN)/python -m testbed up
	TESTBED_DIR=$(TESTBED_DIR) DEMO_DIR=$(DEMO_DIR) $(BIN)/python -m demo up

demo-down:
	-TESTBED_DIR=$(TESTBED_DIR) DEMO_DIR=$(DEMO_DIR) $(BIN)/python -m demo down
	TESTBED_DIR=$(TESTBED_DIR) $(PYTHON) -m testbed down

bench-testbed: apt-testbed $(VENV)/.installed-test
	$(BIN)/python -m bench.bench_testbed

# The openstack collector against its own testbed (.testbed-bench, never the tests' one) with
# 10, 100 and 1,000 servers: bench/README.md. About 40 minutes on 2 cores.
bench-openstack: apt-testbed $(VENV)/.installed-test
	$(BIN)/python -m bench.bench_openstack

bench-gnocchi: apt-testbed $(VENV)/.installed-test
	$(BIN)/python -m bench.bench_gnocchi

# The bridge (python -m alerts) against a private single-node Alertmanager: bench/README.md.
bench-bridge: apt-test apt-bench-bridge $(VENV)/.installed-test
	$(BIN)/python -m bench.bench_bridge

# The bridge's HTTP server, plain and TLS, under wrk (bench/bench_servers.py).
bench-servers: apt-test $(VENV)/.installed-test
	$(call apt_install,wrk)
	$(BIN)/python -m bench.bench_servers

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info

# The container image (Containerfile, docs/deployment.md#the-container-image):
# $(IMAGE):latest and $(IMAGE):<version>. No registry needed: the base is built from Debian's
# packages by mmdebstrap, the wheels here. PODMAN_OPTS suit hosts like this one (runc, ulimits
# no higher than the host's hard limits).
IMAGE ?= localhost/openstack-telemetry-bridge
BASE_IMAGE ?= localhost/openstack-telemetry-bridge-base:bookworm
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
PODMAN_OPTS ?= --runtime runc --ulimit nofile=20000:20000 --ulimit nproc=4096:4096
DEBIAN_MIRROR ?= http://deb.debian.org/debian

wheels: $(VENV)/.installed-run
	rm -rf build/wheels
	$(BIN)/pip wheel -q -c constraints.txt -w build/wheels '.[all]'

base-image: apt-image
	@if ! podman image exists $(BASE_IMAGE); then \
		mkdir -p build && rm -f build/base.tar && \
		mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,libvirt0,ca-certificates \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
			--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' --aptopt='Acquire::Languages "none"' \
			bookworm build/base.tar $(DEBIAN_MIRROR) && \
		podman import --quiet build/base.tar $(BASE_IMAGE) >/dev/null && rm -f build/base.tar && \
		echo "base image $(BASE_IMAGE) built"; fi

image: apt-image base-image wheels
	podman build $(PODMAN_OPTS) --network none --format docker --from $(BASE_IMAGE) \
		--build-arg VERSION=$(VERSION) -t $(IMAGE):latest -t $(IMAGE):$(VERSION) -f Containerfile .
	@podman image inspect --format '{{.Size}}' $(IMAGE):latest \
		| awk '{printf "image $(IMAGE):$(VERSION): %.1f MB\n", $$1 / 1e6}'
