# Opsdeck: the two commands a fresh Debian 12 machine needs are `make demo` and `make test`.
# Both install what they need first (Debian packages, tauri-driver, the UI's npm packages).

SHELL := /bin/bash
CARGO ?= cargo
APP := target/debug/opsdeck-desktop
DEBIAN_PACKAGES := build-essential pkg-config libssl-dev libdbus-1-dev \
	libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev \
	libayatana-appindicator3-dev xvfb xauth x11-utils webkit2gtk-driver dbus-x11 gnome-keyring imagemagick \
	prometheus-alertmanager prometheus postgresql openssl
TAURI_DRIVER := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin/tauri-driver
# The desktop app as its packages have it: serving the UI embedded in it (custom-protocol).
DESKTOP_BUILD := $(CARGO) build -p opsdeck-desktop --features custom-protocol
# The package config with the debug CLI in place of the release one.
CLI_FROM_DEBUG := {"bundle":{"linux":{"deb":{"files":{"/usr/bin/opsdeck":"../target/debug/opsdeck"}},"rpm":{"files":{"/usr/bin/opsdeck":"../target/debug/opsdeck"}}}}}

.PHONY: demo test deps ui app bench screenshot clean package package-test icons

## Opens the desktop app in demo mode: the sandbox in process, a SQLite cache, no account.
demo: deps app
	@if [ -z "$$DISPLAY" ]; then \
		echo "no DISPLAY: running the app under Xvfb (see README: Running headless)"; \
		xvfb-run -a -s "-screen 0 1280x800x24" $(APP) --demo; \
	else \
		$(APP) --demo; \
	fi

## Runs every test: formatting and lints, Rust unit and integration tests (sandbox, CLI,
## contracts against ../shared/specs), the UI's type check and Vitest, the packages bundled
## and the .deb installed, started and removed, and the e2e test in the real window.
## Screenshots land in target/screenshots/.
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
	$(DESKTOP_BUILD)
	@# The CLI as a plain build makes it (test builds carry dev-dependencies' features).
	$(CARGO) build --quiet --bin opsdeck
	tests/smoke-cli.sh target/debug/opsdeck
	@# The packages, bundled as `make package` bundles them but of these builds (a release
	@# build of everything would double the run; `make package-test` installs the release
	@# ones), installed, started and removed.
	cd src-tauri && ../ui/node_modules/.bin/tauri bundle --ci --debug --bundles deb,rpm --config '$(CLI_FROM_DEBUG)'
	tests/package-deb.sh target/debug/bundle/deb/*.deb
	OPSDECK_E2E_APP=$(APP) $(CARGO) test --quiet --test e2e -- --ignored --test-threads=1

## Measures ingest and cache queries at 10,000 services, the desktop app's start-up time and
## idle memory beside a hello-world window, and input to answer inside the window at 10,000
## services (see BENCHMARKS.md).
bench: deps ui
	$(CARGO) bench --bench cache
	$(CARGO) bench --bench backends
	tests/bench-desktop.sh
	tests/bench-window.sh

## Builds the desktop app as a .deb and an .rpm (release builds, through Tauri's bundler from
## the npm @tauri-apps/cli), with the opsdeck CLI installed beside it in /usr/bin.
package: deps ui
	$(CARGO) build --release --bin opsdeck
	cd src-tauri && ../ui/node_modules/.bin/tauri build --ci --bundles deb,rpm
	@ls -1 target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm

## Installs the .deb on this machine, starts the installed app headless up to its first screen,
## runs the installed CLI, and removes the package again (root, or sudo).
package-test: package
	tests/package-deb.sh target/release/bundle/deb/*.deb

## Regenerates the icon set from its one source image, assets/icons/opsdeck.svg.
ICON_SIZES := 32x32.png 128x128.png 128x128@2x.png icon.png icon.icns icon.ico
icons: ui/node_modules/.package-lock.json
	ui/node_modules/.bin/tauri icon assets/icons/opsdeck.svg -o target/icons
	cd target/icons && cp $(ICON_SIZES) ../../src-tauri/icons/

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
	$(DESKTOP_BUILD)

clean:
	rm -rf .make ui/dist ui/node_modules
	$(CARGO) clean
