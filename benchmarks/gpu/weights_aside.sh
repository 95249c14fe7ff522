#!/usr/bin/env bash
# Keep the bundled paper-width cascade (≈ 105 MiB of fp16 shards) out of what a device call sends.
#
# A call of the device tool sends the repository's tracked files plus the carried paths, 64 MiB
# in all; the bundled `cascade` alone is over that. The GPU session does not need it (it trains
# from scratch), so before the calls:
#
#   bash benchmarks/gpu/weights_aside.sh out    # untrack + move wsinuc/weights/cascade* to .weights-aside/
#   ... the two run() calls of README.md ...
#   bash benchmarks/gpu/weights_aside.sh in     # move them back and re-track them (git status clean again)
#
# `out` removes the files from the index only (`git rm --cached`), never from history, and
# refuses to run when the files differ from HEAD; `in` restores both the files and the index.
# `status` prints what would travel now (MiB of tracked files).
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
ASIDE=.weights-aside
PATTERN='wsinuc/weights/cascade.json wsinuc/weights/cascade-[0-9]*-of-*.safetensors wsinuc/weights/cascade.safetensors'

tracked() { git ls-files -- $PATTERN; }

case "${1:-}" in
  out)
    files=$(tracked)
    if [ -z "$files" ]; then echo "weights_aside.sh: no tracked paper-width cascade; nothing to do"; exit 0; fi
    if ! git diff --quiet HEAD -- $files; then
      echo "weights_aside.sh: error: the cascade files differ from HEAD; commit or restore them first" >&2; exit 2
    fi
    grep -qxF "/$ASIDE/" .git/info/exclude 2>/dev/null || echo "/$ASIDE/" >> .git/info/exclude
    mkdir -p "$ASIDE"
    git rm -q --cached -- $files
    for f in $files; do mv "$f" "$ASIDE/"; done
    echo "moved aside: $(echo $files | wc -w) file(s) -> $ASIDE/ (run '$0 in' after the session)"
    ;;
  in)
    shopt -s nullglob
    moved=("$ASIDE"/cascade*)
    if [ ${#moved[@]} -eq 0 ]; then echo "weights_aside.sh: nothing in $ASIDE/"; exit 0; fi
    for f in "${moved[@]}"; do mv "$f" wsinuc/weights/; done
    git reset -q HEAD -- wsinuc/weights
    rmdir "$ASIDE" 2>/dev/null || true
    echo "restored: ${#moved[@]} file(s) to wsinuc/weights/"
    ;;
  status)
    git ls-files -z | du -ch --files0-from=- 2>/dev/null | tail -1
    ;;
  *)
    echo "usage: $0 out|in|status" >&2; exit 2
    ;;
esac
