#!/usr/bin/env bash
# Installs the built .deb on this machine, checks what it puts where, starts the installed app
# headless until its first screen is drawn (and again, to see its window where it was left),
# runs the installed CLI, and removes the package again, whatever happens. Needs root (or
# sudo), Xvfb and xwininfo.
set -euo pipefail

deb=${1:?usage: tests/package-deb.sh PATH.deb}
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
package=$(dpkg-deb --field "$deb" Package)
version=$(dpkg-deb --field "$deb" Version)
fail() { echo "package test: $*" >&2; exit 1; }

if dpkg -s "$package" >/dev/null 2>&1; then
	# This test removes what it installs: it leaves an Opsdeck installed by hand alone.
	[ -z "${CI:-}" ] || fail "$package is installed already: CI must start without it"
	echo "package test skipped: $package is installed on this machine (dpkg -r $package to run it)"
	exit 0
fi
home=$(mktemp -d)
cleanup() {
	$sudo dpkg -r "$package" >/dev/null 2>&1 || true
	rm -rf "$home"
}
trap cleanup EXIT

echo "package test: installing $package $version"
$sudo dpkg -i "$deb" >/dev/null

[ -x /usr/bin/opsdeck-desktop ] || fail "no /usr/bin/opsdeck-desktop"
[ -x /usr/bin/opsdeck ] || fail "the CLI is not installed beside the app (/usr/bin/opsdeck)"
# Both allocate through jemalloc, C libraries included (BENCHMARKS.md: the agent's memory).
for bin in /usr/bin/opsdeck-desktop /usr/bin/opsdeck; do
	symbols=$(nm -D --defined-only "$bin")   # not piped into grep -q: pipefail would see nm's SIGPIPE
	grep -qw malloc <<<"$symbols" || fail "$bin does not define malloc: jemalloc does not serve the C libraries"
done
entry=$(dpkg -L "$package" | grep '/usr/share/applications/.*\.desktop$') || fail "no desktop entry"
grep -q "^Exec=opsdeck-desktop %u$" "$entry" || fail "$entry does not start opsdeck-desktop with the link it opens: $(grep ^Exec "$entry")"
grep -q 'x-scheme-handler/opsdeck' "$entry" || fail "$entry does not claim opsdeck:// links"
dpkg -L "$package" | grep -q '/usr/share/icons/hicolor/128x128/apps/' || fail "no 128x128 icon"
homepage=$(dpkg-deb --field "$deb" Homepage)
[ -n "$homepage" ] || fail "no Homepage in the package metadata"
for dependency in libwebkit2gtk-4.1-0 libayatana-appindicator3-1; do
	dpkg-deb --field "$deb" Depends | grep -q "$dependency" || fail "does not depend on $dependency"
done

# The agent's units ship disabled, and systemd finds nothing wrong in the system one (the
# user one needs a user session to check).
unit=/usr/lib/systemd/system/opsdeck-agent.service
for shipped in "$unit" /usr/lib/systemd/user/opsdeck-agent.service; do
	dpkg -L "$package" | grep -qx "$shipped" || fail "no $shipped"
done
if command -v systemd-analyze >/dev/null; then
	problems=$(systemd-analyze verify --man=no "$unit" 2>&1) || fail "systemd-analyze verify $unit: $problems"
fi

cli=$(/usr/bin/opsdeck --version)
[ "$cli" = "opsdeck $version" ] || fail "installed CLI says '$cli', the package is $version"

# The installed app, demo mode, in a fresh HOME: it reports when its first team list is drawn
# and quits (the benchmark's hook).
out=$(HOME=$home XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config OPSDECK_EXIT_AFTER_READY=1 \
	timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" /usr/bin/opsdeck-desktop --demo 2>&1) ||
	fail "the installed app did not reach its first screen: $out"
echo "$out" | grep -q 'first team list drawn' || fail "the installed app did not draw its first screen: $out"

# It kept its window's size and position on the way out, and opens with them again.
state=$home/config/dev.opsdeck.desktop/.window-state.json
[ -f "$state" ] || fail "the installed app kept no window state ($state)"
sed -i -E 's/"width": [0-9]+/"width": 1000/; s/"height": [0-9]+/"height": 700/; s/"(prev_)?x": -?[0-9]+/"\1x": 60/; s/"(prev_)?y": -?[0-9]+/"\1y": 40/' "$state"
windows=$(HOME=$home XDG_DATA_HOME=$home/data XDG_CONFIG_HOME=$home/config \
	timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" sh -c \
	'/usr/bin/opsdeck-desktop --demo >/dev/null 2>&1 & app=$!; sleep 6; xwininfo -root -tree; kill $app')
echo "$windows" | grep '"Opsdeck"' | grep -q '1000x700+60+40' ||
	fail "the window did not open where it was left (1000x700+60+40): $(echo "$windows" | grep '"Opsdeck"')"

echo "package test: $package $version installs, starts to its first screen ($(echo "$out" | grep -o 'drawn [0-9]* ms after launch')), reopens its window where it was left, ships $cli, and is removed"
