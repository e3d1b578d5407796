# firmpass: two commands on a fresh Debian/Ubuntu machine
#   make demo   system packages + virtualenv, build a demo firmware from Debian binaries, scan it
#   make test   the same set-up, then the test suite (CI runs this through .ci/run)
SHELL := /bin/bash
PY    ?= python3
VENV  := .venv
BIN   := $(VENV)/bin
SUDO  := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := squashfs-tools mtd-utils u-boot-tools device-tree-compiler cpio openssl e2fsprogs \
	libarchive-tools libarchive13 fonts-wqy-microhei libharfbuzz-subset0 poppler-utils libmagic1 xz-utils lzop lz4 zstd \
	android-sdk-libsparse-utils openssh-client file libpango-1.0-0 libpangoft2-1.0-0 \
	binutils python3-venv python3-dev gcc zip postgresql \
	util-linux genromfs 7zip mkbootimg chromium

.PHONY: deps venv demo serve-demo test bench clean

.stamp-apt:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES) >/dev/null
	touch $@

$(BIN)/firmpass: pyproject.toml .stamp-apt
	[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

deps: .stamp-apt
venv: $(BIN)/firmpass

demo: $(BIN)/firmpass
	$(BIN)/python -m tests.corpus build
	rm -rf demo-out && mkdir -p demo-out
	# a local vulnerability store: the project's shared data set when it is beside the checkout, else the test fixtures
	$(BIN)/firmpass db import $$( [ -d ../shared/data/vuln ] && echo ../shared/data/vuln || echo tests/fixtures/vulns ) --db demo-out/vulns.db
	$(BIN)/firmpass scan tests/corpus/.cache/out/firmware.bin -o demo-out --profile tests/fixtures/profile-full.yaml --db demo-out/vulns.db
	@echo "results: demo-out/ (report.html, report.pdf, findings.json, assessment.json, sbom.*.json, evidence/)"

# the team server with the demo product already scanned: http://127.0.0.1:8000/ (demo@example.com / firmpass-demo)
serve-demo: $(BIN)/firmpass
	$(BIN)/python -m tests.corpus build
	rm -rf serve-demo && mkdir -p serve-demo
	$(BIN)/firmpass db import $$( [ -d ../shared/data/vuln ] && echo ../shared/data/vuln || echo tests/fixtures/vulns ) --db serve-demo/vulns.db
	$(BIN)/firmpass server demo tests/corpus/.cache/out/firmware.bin --profile tests/fixtures/profile-full.yaml --data serve-demo --vulns serve-demo/vulns.db
	$(BIN)/firmpass serve --data serve-demo --vulns serve-demo/vulns.db --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

test: $(BIN)/firmpass
	$(BIN)/python -m pytest -n 2 -q

bench: $(BIN)/firmpass
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .stamp-apt demo-out serve-demo bench/out
