#!/usr/bin/env bash
# Prints $PATH without the directories that hold cargo or rustc, as on a machine with no Rust toolchain.
set -euo pipefail
out=()
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [[ -x "$d/cargo" || -x "$d/rustc" ]] && continue
  out+=("$d")
done
(IFS=:; echo "${out[*]}")
