#!/usr/bin/env bash
# Build (once) and install Horovod 0.28.1 into a virtualenv.
#
# Usage: scripts/build_horovod_wheel.sh [PYTHON]   (default: .venv/bin/python)
#
# Horovod 0.28.1 does not compile against current PyTorch as released, so this
# script patches the sdist (see docs: "Trap 1"):
#   * CMAKE_CXX_STANDARD 14 -> 20 in CMakeLists.txt and horovod/torch/CMakeLists.txt
#     (torch 2.13 headers need C++17, torch 2.14 headers need C++20);
#   * cmake/Modules/FindPytorch.cmake only treats torch as "CUDA" when
#     HOROVOD_GPU_OPERATIONS is set too, so a CPU build on a machine with the
#     CUDA build of torch (and a partial CUDA toolkit) stays a CPU build.
# The wheel links against torch, so it is cached per torch version:
#   ${SHOPREC_CACHE:-$HOME/.cache/shoprec}/wheels/horovod-0.28.1-torch<ver>[-nccl]/
# Set HOROVOD_GPU_OPERATIONS=NCCL (with a full CUDA toolkit) for the GPU build.
# A cold build takes ~6 minutes on 2 cores; a warm run takes seconds. Idempotent.
set -euo pipefail

HVD_VERSION=0.28.1
PY=${1:-.venv/bin/python}

die() { echo "build_horovod_wheel: $*" >&2; exit 1; }

[[ -x "$PY" ]] || die "no python interpreter at '$PY' (pass the target venv's python as \$1)"
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")

read -r TORCH_VER PY_TAG < <("$PY" - <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    v = version("torch")
except PackageNotFoundError:
    sys.exit("torch is not installed in this environment")
print(v, "cp%d%d" % sys.version_info[:2])
EOF
) || die "cannot read the torch version from $PY"

GPU_OPS=${HOROVOD_GPU_OPERATIONS:-}
SUFFIX=""
if [[ -n "$GPU_OPS" ]]; then
    SUFFIX="-${GPU_OPS,,}"
fi
CACHE_DIR="${SHOPREC_CACHE:-$HOME/.cache/shoprec}/wheels/horovod-${HVD_VERSION}-torch${TORCH_VER}${SUFFIX}"
mkdir -p "$CACHE_DIR"

# Serialise concurrent runs on the same cache dir: a second caller waits, then finds the wheel.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE_DIR/.lock"
    flock 9
fi

find_wheel() {
    local w
    for w in "$CACHE_DIR"/horovod-"$HVD_VERSION"-"$PY_TAG"-*.whl; do
        [[ -f "$w" ]] && { echo "$w"; return 0; }
    done
    return 1
}

# True when the venv already has a working horovod $HVD_VERSION of the wanted flavour.
horovod_ok() {
    WANT_NCCL=$([[ "${GPU_OPS^^}" == NCCL ]] && echo 1 || echo 0) "$PY" - "$HVD_VERSION" <<'EOF' >/dev/null 2>&1
import os, sys
from importlib.metadata import version
assert version("horovod") == sys.argv[1]
import horovod.torch as hvd
assert bool(hvd.nccl_built()) == (os.environ["WANT_NCCL"] == "1")
EOF
}

# Print the requirements (one per line) that are not satisfied in the venv.
# Input on stdin: requirement strings, one per line (markers allowed, extras are skipped).
missing_reqs() {
    "$PY" -c '
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in sys.stdin:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        if req.specifier.contains(version(req.name), prereleases=True):
            continue
    except PackageNotFoundError:
        pass
    print(line)
'
}

# Requires-Dist lines of a wheel's METADATA.
wheel_requires() {
    "$PY" - "$1" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    for line in z.read(name).decode().splitlines():
        if line.startswith("Requires-Dist:"):
            print(line.split(":", 1)[1].strip())
EOF
}

install_reqs() {  # install the given requirements (stdin) that are missing
    local missing
    missing=$(missing_reqs)
    if [[ -n "$missing" ]]; then
        # shellcheck disable=SC2086
        "$PY" -m pip install -q --disable-pip-version-check $missing >&2
    fi
    echo "$missing" | tr '\n' ' ' | sed 's/ *$//'
}

install_wheel() {  # install a cached wheel and its missing runtime deps
    local whl=$1 deps
    "$PY" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$whl" >&2
    deps=$(wheel_requires "$whl" | install_reqs)
    horovod_ok || die "installed $whl but 'import horovod.torch' fails in $PY"
    echo "$deps"
}

# ---------------------------------------------------------------- cache hit
if WHL=$(find_wheel); then
    if horovod_ok; then
        echo "horovod $HVD_VERSION already installed in $PY (wheel cached: $WHL)"
    else
        deps=$(install_wheel "$WHL")
        echo "horovod $HVD_VERSION installed from cached $WHL${deps:+ (+deps: $deps)}"
    fi
    exit 0
fi

# ---------------------------------------------------------------- cold build
START=$SECONDS
WORK=$(mktemp -d "${TMPDIR:-/tmp}/horovod-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
LOG="$CACHE_DIR/build.log"
: >"$LOG"

"$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    "horovod==$HVD_VERSION" -d "$WORK" >>"$LOG" 2>&1 || { tail -n 20 "$LOG" >&2; die "sdist download failed"; }
tar -xzf "$WORK/horovod-$HVD_VERSION.tar.gz" -C "$WORK"
SRC="$WORK/horovod-$HVD_VERSION"

# Patch; every target must match exactly once, so an upstream change fails loudly.
"$PY" - "$SRC" <<'EOF'
import pathlib, sys
src = pathlib.Path(sys.argv[1])
patches = [
    ("CMakeLists.txt", "set(CMAKE_CXX_STANDARD 14)", "set(CMAKE_CXX_STANDARD 20)"),
    ("horovod/torch/CMakeLists.txt", "set(CMAKE_CXX_STANDARD 14)", "set(CMAKE_CXX_STANDARD 20)"),
    ("cmake/Modules/FindPytorch.cmake",
     "import torch; from torch.utils.cpp_extension import CUDA_HOME; "
     "print(True if ((torch.version.cuda is not None) and (CUDA_HOME is not None)) else False)",
     "import os, torch; from torch.utils.cpp_extension import CUDA_HOME; "
     "print(True if (os.environ.get('HOROVOD_GPU_OPERATIONS') and (torch.version.cuda is not None) "
     "and (CUDA_HOME is not None)) else False)"),
]
for rel, old, new in patches:
    path = src / rel
    text = path.read_text()
    n = text.count(old)
    if n != 1:
        sys.exit(f"patch target found {n} times (expected 1) in {rel}: {old!r}")
    path.write_text(text.replace(old, new))
EOF

# Build prerequisites: setuptools (no build isolation) and setup.py's setup_requires
# (= horovod's runtime deps), so setuptools does not try to fetch eggs itself.
"$PY" -c 'import setuptools' 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check setuptools >&2
pre_deps=$(sed '/^\[/,$d' "$SRC/horovod.egg-info/requires.txt" | install_reqs)

# Horovod needs cmake >= 3.13 and gloo rejects cmake 4: prefer a 3.x cmake.
if [[ -z "${HOROVOD_CMAKE:-}" ]]; then
    for c in "$(command -v cmake || true)" /usr/bin/cmake /usr/local/bin/cmake; do
        if [[ -n "$c" && -x "$c" ]] && "$c" --version | head -n1 | grep -q 'version 3\.'; then
            export HOROVOD_CMAKE=$c
            break
        fi
    done
    [[ -n "${HOROVOD_CMAKE:-}" ]] || die "need cmake 3.x (cmake 4 rejects gloo's CMakeLists); set HOROVOD_CMAKE"
fi

echo "building horovod $HVD_VERSION for torch $TORCH_VER${GPU_OPS:+ with HOROVOD_GPU_OPERATIONS=$GPU_OPS} (log: $LOG) ..." >&2
# HOROVOD_GPU_OPERATIONS (if set by the caller) passes through in the environment.
if ! HOROVOD_WITH_PYTORCH=1 HOROVOD_WITHOUT_TENSORFLOW=1 HOROVOD_WITHOUT_MXNET=1 \
     HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 MAKEFLAGS="${MAKEFLAGS:--j$(nproc)}" \
     "$PY" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps \
        -w "$WORK/dist" "$SRC" >>"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    die "wheel build failed; full log: $LOG"
fi

BUILT=$(ls "$WORK"/dist/horovod-"$HVD_VERSION"-*.whl)
NAME=$(basename "$BUILT")
cp "$BUILT" "$CACHE_DIR/.$NAME.tmp.$$"
mv -f "$CACHE_DIR/.$NAME.tmp.$$" "$CACHE_DIR/$NAME"

deps=$(install_wheel "$CACHE_DIR/$NAME")
deps="${pre_deps}${pre_deps:+${deps:+ }}${deps}"
echo "horovod $HVD_VERSION built in $((SECONDS - START))s for torch $TORCH_VER, cached at $CACHE_DIR/$NAME, installed into $PY${deps:+ (+deps: $deps)}"
