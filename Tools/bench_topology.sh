#!/usr/bin/env bash
# Times release `moduli topology` against ripser (PyPI) side by side, with peak memory from
# /usr/bin/time -v: 1,000 points of a noisy torus in R^4 to dimension 2, 2,000 points to dimension 1.
# Reference: BENCHMARKS.md, "Persistent homology".
#
# Set-up, once: python3 -m venv .venv-ripser && .venv-ripser/bin/pip install ripser numpy
#               swift build -c release    (and apt-get install time, if /usr/bin/time is missing)
# Run from the repository root: Tools/bench_topology.sh [REPEATS]   (default 1)
set -euo pipefail
PY=${PY:-.venv-ripser/bin/python}
MODULI=${MODULI:-.build/release/moduli}
REPEATS=${1:-1}
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 1; }
[ -x "$MODULI" ] || { echo "$MODULI is missing: swift build -c release" >&2; exit 1; }
"$PY" -c "import ripser" 2>/dev/null || { echo "ripser is missing: python3 -m venv .venv-ripser && .venv-ripser/bin/pip install ripser numpy" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

"$PY" - "$TMP" <<'PYEOF'
import sys, numpy as np
sys.path.insert(0, "Tools")
import topology_clouds as c
np.save(sys.argv[1] + "/torus1000.npy", c.torus(1000, seed=1, noise=0.1))
np.save(sys.argv[1] + "/torus2000.npy", c.torus(2000, seed=2, noise=0.1))
PYEOF

# One timed run: prints "seconds peak_MiB" (wall clock and maximum resident set size).
measure() {
    /usr/bin/time -v "$@" >"$TMP/out" 2>"$TMP/time" || { cat "$TMP/time" >&2; exit 1; }
    local wall rss
    wall=$(grep "Elapsed (wall clock)" "$TMP/time" | awk '{print $NF}' | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
    rss=$(grep "Maximum resident set size" "$TMP/time" | awk '{print $NF}')
    echo "$wall $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; ripser $("$PY" -c 'import ripser; print(ripser.__version__)')"
printf '%-28s %-8s %12s %12s %12s %12s %8s\n' case tool "wall s" "peak MiB" "in-call s" "bars H1/H2" ratio
for spec in "torus1000 2" "torus2000 1"; do
    set -- $spec
    name=$1; dim=$2
    for ((r = 1; r <= REPEATS; r++)); do
        m=$(measure "$MODULI" topology --points "$TMP/$name.npy" --max-dim "$dim" --json --out "$TMP/moduli.json")
        mbars=$("$PY" -c "import json,sys; d=json.load(open(sys.argv[1]))['diagrams']; print('/'.join(str(len(x['pairs'])) for x in d[1:]))" "$TMP/moduli.json")
        p=$(measure "$PY" -c "
import time, numpy as np
from ripser import ripser
x = np.load('$TMP/$name.npy')
t = time.perf_counter(); r = ripser(x, maxdim=$dim); t = time.perf_counter() - t
print(t, '/'.join(str(len(d)) for d in r['dgms'][1:]))")
        read -r pcall pbars <"$TMP/out"
        read -r mw mm <<<"$m"; read -r pw pm <<<"$p"
        ratio=$(awk -v a="$mw" -v b="$pw" 'BEGIN { printf "%.2f", a / b }')
        printf '%-28s %-8s %12s %12s %12s %12s %8s\n' "$name (R^4) dim<=$dim" moduli "$mw" "$mm" "-" "$mbars" "$ratio"
        printf '%-28s %-8s %12s %12s %12.2f %12s %8s\n' "" ripser "$pw" "$pm" "$pcall" "$pbars" ""
    done
done
echo "ratio: moduli wall time / ripser wall time (both whole processes: reading the points included;"
echo "ripser's includes starting Python and importing numpy, about 0.2 s and 30 MiB)"
