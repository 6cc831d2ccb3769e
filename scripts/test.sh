#!/usr/bin/env bash
# The test command of the README: every crate, every feature, doc tests included.
# The PostgreSQL suite runs when ADMIT_TEST_POSTGRES_URL is set, e.g.
#   ADMIT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test ./scripts/test.sh
# and is skipped (saying so) otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ADMIT_TEST_POSTGRES_URL:-}" ]; then
  echo "note: ADMIT_TEST_POSTGRES_URL is not set: the PostgreSQL suite will be skipped."
fi
exec cargo test --workspace --all-features "$@"
