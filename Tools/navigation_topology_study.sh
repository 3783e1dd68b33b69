#!/usr/bin/env bash
# The shape of navigation networks' hidden activity: trains the small preset with the torus
# penalty, its permuted control and no penalty (3 seeds each, Tools/sweeps/navigation-topology.json),
# computes the persistent homology of each run's hidden states (500 max-min landmarks, to H2; raw
# and on the top 6 principal components) and of its neuron positions, saves the diagrams in the run
# directories (topology-*.json, which `moduli report` draws) and prints the longest bars.
#
#   Tools/navigation_topology_study.sh [MODULI_BINARY] [OUT_DIR]
#
# About 25 minutes on a 2-core machine (one run at a time), a minute more for the homology.
set -euo pipefail
B=$(realpath "${1:-.build/release/moduli}")
OUT=${2:-runs/navigation-topology}
SPEC=$(dirname "$0")/sweeps/navigation-topology.json
"$B" sweep "$SPEC" --jobs 1 --out "$OUT"
for r in "$OUT"/*-s[0-9]; do
    "$B" topology "$r" --source hidden --max-dim 2 --json --out "$r/topology-hidden.json"
    "$B" topology "$r" --source hidden --max-dim 2 --pca 6 --json --out "$r/topology-hidden-pca6.json"
    if [ -f "$r/positions.npy" ]; then
        "$B" topology "$r" --source positions --max-dim 2 --json --out "$r/topology-positions.json"
    fi
done
python3 - "$OUT" <<'EOF'
import glob, json, os, sys
print("| run | source | H1, three longest | H2, two longest | H1 2nd/3rd | H2 1st/2nd |")
print("|---|---|---|---|---|---|")
for r in sorted(glob.glob(os.path.join(sys.argv[1], '*-s[0-9]'))):
    for source in ('hidden', 'hidden-pca6', 'positions'):
        path = os.path.join(r, 'topology-%s.json' % source)
        if not os.path.exists(path): continue
        lengths = {d['dimension']: sorted(((p[1] if p[1] is not None else float('inf')) - p[0] for p in d['pairs']), reverse=True)
                   for d in json.load(open(path))['diagrams']}
        h1, h2 = lengths.get(1, []), lengths.get(2, [])
        ratio = lambda a, b: '%.2f' % (a / b) if b > 0 else '-'
        print('| %s | %s | %s | %s | %s | %s |' % (os.path.basename(r), source, ', '.join('%.3g' % x for x in h1[:3]),
              ', '.join('%.3g' % x for x in h2[:2]), ratio(h1[1], h1[2]) if len(h1) > 2 else '-', ratio(h2[0], h2[1]) if len(h2) > 1 else '-'))
EOF
