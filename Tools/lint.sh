#!/usr/bin/env bash
# The lint step of `make test` (also `make lint`): the Swift sources in the formatter's style
# (`swift format`, configuration .swift-format; `make format` rewrites them), no line over 140
# characters, and every target declaring what it imports (Tools/check_imports.py).
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
paths=(Sources Tests Benchmarks/Sources Package.swift)
status=0
if ! "$SWIFT" format lint --strict --parallel --recursive "${paths[@]}"; then
  echo "lint: the lines above differ from the formatter's style: run 'make format' (swift format format -i)." >&2
  status=1
fi
long=$(find "${paths[@]}" -name '*.swift' -print0 | xargs -0 awk 'length > 140 { printf "%s:%d: %d characters\n", FILENAME, FNR, length }')
if [ -n "$long" ]; then
  echo "$long" >&2
  echo "lint: lines over 140 characters (above): run 'make format', which also splits long string literals, and shorten comments by hand." >&2
  status=1
fi
python3 Tools/check_imports.py || status=1
exit $status
