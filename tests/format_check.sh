#!/usr/bin/env bash
# Every C++ source of the project is as clang-format (.clang-format) writes it: reviews then see changes,
# never re-wrapping. Exit 77 (skip) where clang-format 14 is not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
fmt=$(command -v clang-format-14 || command -v clang-format || true)
[[ -n "$fmt" ]] || { echo "format check: no clang-format-14 (apt-get install clang-format-14)"; exit 77; }
mapfile -t files < <(git ls-files 'core/*' 'pinners/*' 'verifiers/*' 'crash/*' 'report/*' 'workloads/*' 'cli/*' \
                                  'bench/*' 'tests/*' | grep -E '\.(cc|h|cu)$')
bad=0
for f in "${files[@]}"; do
  "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not clang-formatted: $f (clang-format-14 -i $f)"; bad=1; }
done
[[ $bad -eq 0 ]] && echo "format check: ${#files[@]} files clang-formatted"
exit $bad
