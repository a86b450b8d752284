#!/bin/sh
# Installs what runtime/onnx's ONNX Runtime parity test needs, where it can:
#
#   - onnxruntime-node 1.31.1 from npm (it ships libonnxruntime) into
#     $CELLC_ORT_DIR, by default ~/.cache/cellc-ort, outside the work tree;
#     ONNXRUNTIME_NODE_INSTALL=skip stops its install script from fetching
#     GPU providers, which fails without internet;
#   - Debian's python3-onnx (onnx.checker), as root with apt-get.
#
# Anything it cannot install is reported and skipped: the tests then skip
# with a message naming it. Running it again does nothing once both are in.
set -u
ORT_VERSION=1.31.1
dir=${CELLC_ORT_DIR:-$HOME/.cache/cellc-ort}

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	have=$(node -p "try { require('$dir/node_modules/onnxruntime-node/package.json').version } catch (e) { '' }" 2>/dev/null)
	if [ "$have" != "$ORT_VERSION" ]; then
		echo "installing onnxruntime-node@$ORT_VERSION in $dir"
		mkdir -p "$dir" &&
			(cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --save-exact \
				"onnxruntime-node@$ORT_VERSION" >npm-install.log 2>&1) ||
			echo "note: could not install onnxruntime-node (see $dir/npm-install.log); the ONNX Runtime tests will skip"
	fi
else
	echo "note: node and npm are not installed; the ONNX Runtime tests will skip"
fi

# Debian's package installs for the system python3, which a pyenv python3
# earlier on PATH does not see; the tests look for /usr/bin/python3 first.
if ! /usr/bin/python3 -c 'import onnx.checker' >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing: python3-onnx"
		apt-get install -y -q --no-install-recommends python3-onnx >/dev/null 2>&1 ||
			{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends python3-onnx >/dev/null 2>&1; } ||
			echo "note: could not install python3-onnx; the onnx.checker test will skip"
	else
		echo "note: python3-onnx is not installed (apt-get install python3-onnx as root); the onnx.checker test will skip"
	fi
fi
exit 0
