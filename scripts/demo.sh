#!/usr/bin/env bash
# The demo behind `make demo`: real renders, a fine-grained judgement and a model-free refine run,
# on the embedded defaults (no GPU, no downloaded weights). Output goes to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
ERM=${ERM:-.venv/bin/erm}
OUT=${OUT:-demo-out}
mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Render every example language (sandboxed, cached)"
for f in examples/chart.py examples/chart_plotly.py examples/icon.svg examples/table.html examples/table.md examples/table.tex; do
  name=$(basename "$f"); name=${name%.*}_$(echo "${f##*.}")
  if $ERM render "$f" -o "$OUT/$name.png"; then :; else echo "  (render of $f failed: see the message above)"; fi
done

step "2. Judge a wrong chart against its reference (errors, reward, diff picture)"
$ERM judge examples/refine/sales_bar.png examples/refine/sales_bar_init.py --diff-image "$OUT/judge-diff.png" || true
echo "  diff picture: $OUT/judge-diff.png"

step "3. Refine: judge-guided revision of the wrong chart, no model needed"
$ERM refine examples/refine/sales_bar.png --init examples/refine/sales_bar_init.py --rounds 3 --out-dir "$OUT/refine" --quiet || true
echo "  best code: $OUT/refine/best.py   report: $OUT/refine/report.html"

if [ -f examples/bench-mini/data.jsonl ]; then
  step "4. Benchmark the critic against coarse baselines on examples/bench-mini"
  $ERM bench judge examples/bench-mini/data.jsonl --judge critic --out-dir "$OUT/bench" || true
  echo "  report: $OUT/bench/"
fi
printf '\nDemo outputs are in %s/\n' "$OUT"
