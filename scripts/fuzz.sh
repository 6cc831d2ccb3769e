#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 30) on the stable
# toolchain (`--sanitizer none`), starting from the checked-in seed corpus, and prints the
# executions per target. Fails on the first crash, panic, timeout or out-of-memory; the
# input that caused it is saved under fuzz/artifacts/<target>/ (turn it into a regression
# test, see docs/security.md).
#
#   scripts/fuzz.sh            # CI: 30 s per target
#   scripts/fuzz.sh 3600       # a longer run: one hour per target
#   FUZZ_TARGETS="email_parse" scripts/fuzz.sh 600
#
# New inputs libFuzzer finds go to a scratch corpus (fuzz/target/corpus-work/<target>),
# never into the checked-in seeds; copy interesting ones to fuzz/corpus/<target>/ by hand.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${1:-30}"
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: installing it (cargo install cargo-fuzz --locked; about 1 min cold)"
  start=$(date +%s)
  cargo install cargo-fuzz --locked
  echo "cargo-fuzz installed in $(($(date +%s) - start)) s"
fi

cargo fuzz build --sanitizer none

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
summary=()
status=0
for target in $targets; do
  work="target/corpus-work/$target"
  mkdir -p "$work" "artifacts/$target"
  log="target/fuzz-$target.log"
  echo "== $target: ${SECONDS_PER_TARGET} s"
  set +e
  cargo fuzz run --sanitizer none "$target" "$work" "corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
  fi
  rate=$(sed -n 's/^#[0-9]*[[:space:]]*DONE.*exec\/s: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "!! $target FAILED (exit $rc); last lines of $log:"
    tail -n 40 "$log"
    summary+=("$(printf '%-18s FAILED  (see fuzz/%s, fuzz/artifacts/%s/)' "$target" "$log" "$target")")
  else
    summary+=("$(printf '%-18s %12s execs  %8s exec/s' "$target" "${execs:-?}" "${rate:-?}")")
  fi
done

echo
echo "== fuzzing summary (${SECONDS_PER_TARGET} s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
