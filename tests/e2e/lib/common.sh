# Shared helpers for the end-to-end tests (sourced, not run).
set -euo pipefail
: "${IMRET:?IMRET must point to the imret binary}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error EXIT_CODE PATTERN -- command...: the command must exit with
# EXIT_CODE and print exactly one error line ("imret: error: ..."), matching
# PATTERN (warnings and log lines before it are allowed).
expect_error() {
  local code=$1 pattern=$2
  shift 3
  local status=0
  "$@" >"$work/out" 2>"$work/err" || status=$?
  [[ $status -eq $code ]] || fail "'$*' exited $status, expected $code; stderr: $(cat "$work/err")"
  local lines
  lines=$(grep -c "^imret: error: " "$work/err" || true)
  [[ $lines -eq 1 ]] || fail "'$*' printed $lines error lines, expected one: $(cat "$work/err")"
  grep "^imret: error: " "$work/err" | grep -qE -- "$pattern" ||
    fail "'$*' error does not match '$pattern': $(cat "$work/err")"
}

# json_value FILE EXPRESSION: evaluates a Python expression on the parsed JSON `j`.
json_value() { /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
