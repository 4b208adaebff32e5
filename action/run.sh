#!/usr/bin/env bash
# The GitHub Action's work (action.yml): install the release binary for
# this runner, verified against the release's SHA-256 checksums file, then
# run one blocklist command and write the step's outputs.
#
# Everything comes from the environment, so tests can point it at a local
# server (tests/cli/action.rs):
#   BLOCKLIST_VERSION       release tag (e.g. v0.2.0) or "latest"
#   BLOCKLIST_RELEASES_URL  e.g. https://github.com/OWNER/blocklist/releases
#   BLOCKLIST_CACHE_DIR     where verified binaries are kept, per version
#   BLOCKLIST_COMMAND       plan, apply, drift, validate… (empty: install only)
#   BLOCKLIST_PATHS         files or directories, one per line or space-separated
#   BLOCKLIST_ARGS          extra arguments, split on whitespace
#   BLOCKLIST_OUT_DIR       where the plan file and the markdown are written
#   RUNNER_OS, RUNNER_ARCH  set by GitHub (Linux|macOS|Windows, X64|ARM64)
#   GITHUB_OUTPUT, GITHUB_PATH  set by GitHub; optional here
#
# Nothing is run unless the binary's SHA-256 matches the checksums file:
# a wrong checksum, a missing asset or an unknown platform stop the step.
set -euo pipefail

fail() {
  echo "::error title=blocklist action::$*" >&2
  exit 1
}

version=${BLOCKLIST_VERSION:-latest}
releases=${BLOCKLIST_RELEASES_URL:?BLOCKLIST_RELEASES_URL is not set}
releases=${releases%/}

# The release asset for this runner (the names .github/workflows/release.yml publishes).
case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ;;
  macOS/X64) target=x86_64-apple-darwin ;;
  macOS/ARM64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  *) fail "no blocklist release binary for runner ${RUNNER_OS:-?} ${RUNNER_ARCH:-?} (there are Linux X64/ARM64, macOS X64/ARM64, Windows X64)" ;;
esac
exe=""
[[ ${RUNNER_OS} == Windows ]] && exe=.exe
asset=blocklist-$target$exe

if [[ $version == latest ]]; then
  base=$releases/latest/download
else
  [[ $version =~ ^[A-Za-z0-9._+-]+$ ]] || fail "version '$version' is not a release tag"
  base=$releases/download/$version
fi

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    fail "neither sha256sum nor shasum is installed"
  fi
}

fetch() { # URL FILE
  curl --fail --silent --show-error --location --retry 3 --proto '=http,https' \
    --output "$2" "$1" || fail "could not download $1"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The checksums file is fetched every run, even with a cached binary: it
# is small, and the binary is checked against it before each use.
fetch "$base/SHA256SUMS" "$work/SHA256SUMS"
want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1; exit }' "$work/SHA256SUMS")
[[ $want =~ ^[0-9a-f]{64}$ ]] || fail "SHA256SUMS of $version lists no checksum for $asset"

cache=${BLOCKLIST_CACHE_DIR:-${RUNNER_TOOL_CACHE:-$HOME/.cache}/blocklist}/$version/$target
bin=$cache/blocklist$exe
if [[ -f $bin && $(sha256 "$bin") == "$want" ]]; then
  echo "Using cached blocklist $version ($asset, sha256 $want)"
else
  fetch "$base/$asset" "$work/$asset"
  got=$(sha256 "$work/$asset")
  if [[ $got != "$want" ]]; then
    fail "checksum mismatch for $asset: SHA256SUMS says $want, the download is $got; nothing was run"
  fi
  mkdir -p "$cache"
  chmod +x "$work/$asset"
  mv -f "$work/$asset" "$bin"
  echo "Installed blocklist $version ($asset, sha256 $want)"
fi
if [[ -n ${GITHUB_PATH:-} ]]; then
  echo "$cache" >>"$GITHUB_PATH"
fi

output() { # NAME VALUE (one line)
  if [[ -n ${GITHUB_OUTPUT:-} ]]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}
output path "$bin"

command=${BLOCKLIST_COMMAND:-}
[[ -n $command ]] || exit 0
[[ $command =~ ^[a-z-]+$ ]] || fail "command '$command' is not a blocklist command"

read -r -d '' -a paths <<<"${BLOCKLIST_PATHS:-}" || true
read -r -d '' -a extra <<<"${BLOCKLIST_ARGS:-}" || true
has() { # FLAG: is it among the extra arguments?
  local a
  for a in ${extra[@]+"${extra[@]}"}; do [[ $a == "$1" || $a == "$1="* ]] && return 0; done
  return 1
}

out_dir=${BLOCKLIST_OUT_DIR:-${RUNNER_TEMP:-$work}/blocklist}
mkdir -p "$out_dir"
args=("$command")
markdown=""
case $command in
  plan | apply | drift)
    # Markdown on stdout unless asked otherwise, kept for the `markdown` output.
    if ! has --format; then
      args+=(--format markdown)
      markdown=$out_dir/blocklist.md
    fi
    # Exit 2 means "changes", so has-changes can be told from success.
    if [[ $command != drift ]] && ! has --detailed-exitcode; then
      args+=(--detailed-exitcode)
    fi
    ;;
esac
plan_file=""
if [[ $command == plan ]] && ! has --out; then
  plan_file=$out_dir/plan.json
  args+=(--out "$plan_file")
fi
# ${x[@]+…}: an empty array is "unbound" to macOS's bash 3.2 under set -u.
args+=(${extra[@]+"${extra[@]}"} ${paths[@]+"${paths[@]}"})

echo "+ blocklist ${args[*]}"
set +e
if [[ -n $markdown ]]; then
  "$bin" "${args[@]}" | tee "$markdown"
  code=${PIPESTATUS[0]}
else
  "$bin" "${args[@]}"
  code=$?
fi
set -e

output exit-code "$code"
changes=false
if [[ $code == 2 ]]; then changes=true; fi
output has-changes "$changes"
if [[ -n $plan_file && -f $plan_file ]]; then output plan-file "$plan_file"; fi
if [[ -n $markdown && -n ${GITHUB_OUTPUT:-} ]]; then
  output markdown-file "$markdown"
  delimiter=BLOCKLIST_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  { echo "markdown<<$delimiter"; cat "$markdown"; echo "$delimiter"; } >>"$GITHUB_OUTPUT"
fi

# 0 and 2 (changes, drift) are results the workflow reads from the outputs;
# 1 (error), 3 (refused) and interruptions fail the step.
if [[ $code == 0 || $code == 2 ]]; then exit 0; fi
exit "$code"
