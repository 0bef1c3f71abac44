#!/bin/sh
# Rebuilds cache/docs.idx: one line per word, with the files it appears in.
# volwarden runs this with cwd = the volume root and VOLWARDEN_* in the environment.
set -eu
mkdir -p cache
tmp="cache/.docs.idx.$$"
for f in docs/*.md; do
  [ -f "$f" ] || continue
  tr -cs 'A-Za-z0-9' '\n' < "$f" | tr 'A-Z' 'a-z' | sed '/^$/d' | sort -u | sed "s|$| $f|"
done | sort > "$tmp"
mv "$tmp" cache/docs.idx
echo "indexed $(wc -l < cache/docs.idx) word/file pairs for ${VOLWARDEN_VOLUME:-?} (stale: ${VOLWARDEN_STALE:-})"
