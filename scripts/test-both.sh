#!/usr/bin/env bash
# npm test: the whole suite on SQLite, then again on PostgreSQL (TEST_STORE=postgres: every server and
# unit database is a fresh database on a throwaway PostgreSQL server per test process, see
# test/support/postgres.ts). Files listed in test/postgres-pending.txt, each with its reason, run on
# SQLite only until they pass on PostgreSQL. Arguments (test files or filters) go to both runs.
set -uo pipefail
cd "$(dirname "$0")/.."

bun test --timeout 30000 "$@"
sqlite=$?

if [ "$#" -gt 0 ]; then
  TEST_STORE=postgres bun test --timeout 30000 "$@"
else
  pending=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' test/postgres-pending.txt | grep -v '^$' || true)
  mapfile -t files < <(find test -name '*.test.ts' | sort | grep -vxF -e "${pending:-/none/}" | sed 's|^|./|')
  echo "PostgreSQL pass: ${#files[@]} test files ($(grep -c . <<<"$pending") on SQLite only, see test/postgres-pending.txt)"
  TEST_STORE=postgres bun test --timeout 30000 "${files[@]}"
fi
postgres=$?
exit $((sqlite || postgres))
