#!/usr/bin/env bash
# Regenerate docs/results.md and docs/results/<dataset>/ (runs.csv, summary.md, figures):
#
#     bash docs/regenerate_results.sh ../shared/data
#
# Argument: the folder holding adult.csv and german.txt (never committed to redp).
# Runs are appended to docs/results/<dataset>/runs.csv and skipped when already
# there: delete docs/results/ to recompute everything from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
for ds in simulated breast-cancer german adult; do
  redp experiment --dataset "$ds" --data "$DATA" --epsilon 1 10 100 --seeds 10 \
    --arms uniform reps random --out "docs/results/$ds" --quiet > /dev/null
done
{
  cat docs/results_discussion.md
  echo
  echo "## Tables"
  echo
  for ds in simulated breast-cancer german adult; do
    cat "docs/results/$ds/summary.md"
    echo "![attack AUC by outlierness decile, $ds](results/$ds/auc_by_decile_$ds.png)"
    echo
  done
} > docs/results.md
echo "wrote docs/results.md"
