# Opsdeck: the two commands a fresh Debian 12 machine needs are `make demo` and `make test`.
# Both install what they need first (Debian packages, tauri-driver, the UI's npm packages).

SHELL := /bin/bash
CARGO ?= cargo
APP := target/debug/opsdeck-desktop
DEBIAN_PACKAGES := build-essential pkg-config libssl-dev libdbus-1-dev \
	libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev \
	libayatana-appindicator3-dev xvfb xauth webkit2gtk-driver dbus-x11 gnome-keyring imagemagick \
	prometheus-alertmanager openssl
TAURI_DRIVER := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin/tauri-driver

.PHONY: demo test deps ui app bench screenshot clean

## Opens the desktop app in demo mode: the sandbox in process, a SQLite cache, no account.
demo: deps app
	@if [ -z "$$DISPLAY" ]; then \
		echo "no DISPLAY: running the app under Xvfb (see README: Running headless)"; \
		xvfb-run -a -s "-screen 0 1280x800x24" $(APP) --demo; \
	else \
		$(APP) --demo; \
	fi

## Runs every test: formatting and lints, Rust unit and integration tests (sandbox, CLI,
## contracts against ../shared/specs), the UI's type check and Vitest, and the e2e test in the
## real window. Screenshots land in target/screenshots/.
test: deps ui
	@specs=$${OPSDECK_SPECS_DIR:-../shared/specs}; [ -d "$$specs/backstage" ] || \
		echo "contract tests skipped: the platforms' API contracts are not at $$specs (set OPSDECK_SPECS_DIR; CI requires them)"
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(CARGO) test --quiet
	@# cargo test regenerates the IPC bindings: they must match what is committed.
	@git diff --exit-code --stat -- ui/src/ipc/bindings || \
		(echo "ui/src/ipc/bindings is stale: run 'cargo test' and commit it"; exit 1)
	cd ui && npm test --silent
	$(CARGO) build -p opsdeck-desktop
	@# The CLI as a plain build makes it (test builds carry dev-dependencies' features).
	$(CARGO) build --quiet --bin opsdeck
	tests/smoke-cli.sh target/debug/opsdeck
	OPSDECK_E2E_APP=$(APP) $(CARGO) test --quiet --test e2e -- --ignored --test-threads=1

## Measures ingest and cache queries at 10,000 services, then the desktop app's start-up time
## and idle memory beside a hello-world window (see BENCHMARKS.md).
bench: deps ui
	$(CARGO) bench --bench cache
	tests/bench-desktop.sh

deps: .make/debian .make/tauri-driver ui/node_modules/.package-lock.json

.make/debian:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p .make && touch $@

.make/tauri-driver:
	@[ -x "$(TAURI_DRIVER)" ] || $(CARGO) install tauri-driver --version '^2' --locked --quiet
	@mkdir -p .make && touch $@

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

ui: deps
	cd ui && npm run --silent build

app: ui
	$(CARGO) build -p opsdeck-desktop

clean:
	rm -rf .make ui/dist ui/node_modules
	$(CARGO) clean
