#!/usr/bin/env bash
# Idempotent set-up: .venv with the pinned torch, the project (editable), Lucent, and libmypaint.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "strokeparam needs Python >= 3.10")'

# 1. Debian packages: libmypaint and its brushes (the real painting program), Chromium (gallery tests).
have_mypaint() { [ -e /usr/lib/x86_64-linux-gnu/libmypaint-1.5.so.1 ] || ldconfig -p 2>/dev/null | grep -q 'libmypaint-1.5.so.1'; }
have_brushes() { [ -d /usr/share/mypaint-data/1.0/brushes ] || [ -n "${STROKEPARAM_BRUSHES:-}" ]; }
missing=""
{ have_mypaint && have_brushes; } || missing=" libmypaint-1.5-1 mypaint-brushes"
command -v chromium >/dev/null || missing="$missing chromium fonts-dejavu-core"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing$missing with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    elif ! { have_mypaint && have_brushes; }; then
        echo "setup: libmypaint is missing. Install it as root:" >&2
        echo "  apt-get install libmypaint-1.5-1 mypaint-brushes" >&2
        exit 1
    else
        echo "setup: chromium is missing (only the gallery browser test needs it): apt-get install chromium" >&2
    fi
fi

# 2. The virtual environment with the torch that lies on this machine's disk.
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
if ! .venv/bin/python -c 'import torch, torchvision, sys; sys.exit(torch.__version__.split("+")[0] != "2.14.1")' 2>/dev/null; then
    $PIP install torch==2.14.1 torchvision==0.29.1
fi

# 3. The project with its extras; torch is pinned so nothing pulls another one.
echo "torch==2.14.1" > .venv/torch-pin.txt
echo "torchvision==0.29.1" >> .venv/torch-pin.txt
$PIP install -c .venv/torch-pin.txt -e ".[all]"

# 4. Lucent 0.1.8 declares kornia<=0.4.1 and test tools as runtime deps: take it without them.
$PIP install --no-deps torch-lucent==0.1.8
$PIP install -c .venv/torch-pin.txt decorator ipython
# 5. Three small C loops, each with a slower fallback that gives the same numbers: MyPaint's stroke loop
#    (strokeparam/mypaint/_strokes.c; 1.4x one thread, and render threads run side by side; without it the
#    same calls go through ctypes), "over" compositing in one pass (strokeparam/_over.c; without it torch)
#    and the skeleton painter's dabs painted where they reach (strokeparam/painters/_dabs.c; without it torch).
if command -v cc >/dev/null; then
    build() {             # build NAME FLAGS...: NAME.so from NAME.c
        local name=$1; shift
        cc -shared -fPIC "$name.c" "$@" -o "$name.so.tmp" && mv -f "$name.so.tmp" "$name.so"
    }
    failed() { echo "setup: $1.c did not compile; its slower fallback runs instead" >&2; }
    build strokeparam/mypaint/_strokes -O2 || failed strokeparam/mypaint/_strokes
    # The other two share torch's threads through OpenMP (torch's libgomp); without it they run on one.
    sums="-O3 -fno-math-errno -fno-trapping-math -fassociative-math -fno-signed-zeros"       # SIMD sums
    build strokeparam/_over $sums -fopenmp || build strokeparam/_over $sums || failed strokeparam/_over
    exact="-O3 -fno-math-errno -fno-trapping-math -lm"       # exact pixel centres: no reassociation
    build strokeparam/painters/_dabs $exact -fopenmp || build strokeparam/painters/_dabs $exact ||
        failed strokeparam/painters/_dabs
else
    echo "setup: no C compiler (cc): MyPaint through ctypes, compositing and dabs in torch (apt-get install gcc: faster)" >&2
fi
echo "setup: ready (.venv)"
