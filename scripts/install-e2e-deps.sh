#!/bin/sh
# What the browser test of `cellc serve` (TestServeE2E in cli/) needs:
# Debian's chromium and node, installed with apt-get when run as root, and
# playwright-core from npm in $CELLC_E2E_DIR (default
# $HOME/.cache/cellc-e2e), outside the work tree. playwright-core drives
# the system's /usr/bin/chromium: it downloads no browser (downloading one
# fails on these machines). It installs only what is missing, so it is
# cheap to run again; without these the test skips and names them.
#
#   sh scripts/install-e2e-deps.sh          (make deps runs it)
set -u
DIR=${CELLC_E2E_DIR:-$HOME/.cache/cellc-e2e}
# Pinned so that every machine drives the browser with the same client.
PLAYWRIGHT_CORE=1.65.2

need=""
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v node >/dev/null 2>&1 || need="$need nodejs"
command -v npm >/dev/null 2>&1 || need="$need npm"
if [ -n "$need" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing:$need"
		apt-get install -y -q $need >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $need >/dev/null 2>&1; } ||
			echo "note: could not install$need; the browser test of cellc serve will skip"
	else
		echo "note: the browser test of cellc serve needs$need (apt-get install$need, as root); it will skip"
	fi
fi

have=""
if command -v node >/dev/null 2>&1 && [ -f "$DIR/node_modules/playwright-core/package.json" ]; then
	have=$(node -p "require('$DIR/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
fi
if [ "$have" != "$PLAYWRIGHT_CORE" ]; then
	if command -v npm >/dev/null 2>&1; then
		echo "installing: playwright-core@$PLAYWRIGHT_CORE in $DIR"
		mkdir -p "$DIR"
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error \
			"playwright-core@$PLAYWRIGHT_CORE" >/dev/null 2>&1 ||
			echo "note: could not install playwright-core; the browser test of cellc serve will skip"
	fi
fi
exit 0
