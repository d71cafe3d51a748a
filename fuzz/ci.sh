#!/usr/bin/env bash
# CI entry point for fuzzing: build every cargo-fuzz target once, run each for a bounded time
# against the committed corpus, fail on the first crash (after running them all).
#
#   FUZZ_SECONDS      seconds per target (default 20)
#   FUZZ_SEED         libFuzzer's random seed (default 1, so a CI run repeats the last one's inputs as far
#                     as time allows, and a failure is a finding to fix, not luck of the draw; 0 = random)
#   FUZZ_SERVERS=1    also the targets inside the servers (kubelet text, custom-resource config and
#                     paths). Their dependencies (kube, k8s-openapi, tokio…) take 10+ min to build
#                     optimised on two cores, so they are built unoptimised (--dev, ~4-6 min cold) and
#                     run slower; CI sets this
#   FUZZ_BUILD_FLAGS  cargo-fuzz build options (default: no sanitizer, 16 codegen units; see below)
#   FUZZ_MERGE=1      afterwards, add the new inputs that widen coverage to fuzz/corpus (libFuzzer
#                     -merge=1, which keeps existing files); for maintainers growing the corpus
#
# New inputs a run discovers go to a scratch directory, so CI never dirties fuzz/corpus; crash
# reproducers land in fuzz/artifacts/<target>/ (keep them as fuzz/regressions/<target>/<name> once
# fixed, so crates/fuzzing/tests/corpus.rs replays them on stable).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
# The workspace forbids unsafe code, so AddressSanitizer has little left to find while doubling
# build and run time; panics (including overflow and debug assertions, on by default in cargo-fuzz
# release builds) are what these targets catch. One codegen unit (cargo-fuzz's default) makes the
# instrumented state-metrics/kube build several times slower on two cores.
read -r -a BUILD_FLAGS <<<"${FUZZ_BUILD_FLAGS:---sanitizer none --codegen-units 16}"


# cargo-fuzz passes -Z flags (sanitizer coverage); a stable toolchain accepts them only this way.
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cargo fuzz build "${BUILD_FLAGS[@]}"
if [[ "${FUZZ_SERVERS:-0}" == 1 ]]; then
    cargo fuzz build --dev --sanitizer none --features servers
fi
echo "fuzz: built the targets in $(($(date +%s) - start))s"

# Run the built binaries directly: `cargo fuzz run` would re-check (and maybe rebuild) each time.
host_dir="${CARGO_TARGET_DIR:-target}/$(rustc -vV | sed -n 's/^host: //p')"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
ran=0
for target in $(cargo fuzz list); do
    # The optimised build when there is one (the light targets), else the unoptimised one (the server
    # targets under FUZZ_SERVERS=1); targets built in neither are skipped.
    bin="$host_dir/release/$target"
    [[ -x "$bin" ]] || bin="$host_dir/debug/$target"
    [[ -x "$bin" && ( "${FUZZ_SERVERS:-0}" == 1 || "$bin" == */release/* ) ]] || continue
    ran=$((ran + 1))
    mkdir -p "$scratch/$target" "corpus/$target" "artifacts/$target"
    echo "fuzz: $target for ${FUZZ_SECONDS}s"
    if ! "$bin" -seed="${FUZZ_SEED:-1}" -artifact_prefix="artifacts/$target/" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$scratch/$target" "corpus/$target" 2>"$scratch/$target.log"; then
        failed+=("$target")
        grep -v '^#[0-9]' "$scratch/$target.log" | head -n 40
        ls -l "artifacts/$target"
    else
        grep -E '^stat::(number_of_executed_units|new_units_added)' "$scratch/$target.log" || true
        if [[ "${FUZZ_MERGE:-0}" == 1 ]]; then
            "$bin" -merge=1 "corpus/$target" "$scratch/$target" 2>/dev/null
        fi
    fi
done
echo "fuzz: $ran targets, total $(($(date +%s) - start))s"
if ((ran == 0)); then
    echo "fuzz: no target binaries under $host_dir" >&2
    exit 1
fi
if [[ "${FUZZ_SERVERS:-0}" == 1 ]] && ((ran != $(cargo fuzz list | wc -l))); then
    echo "fuzz: only $ran of $(cargo fuzz list | wc -l) targets were built" >&2
    exit 1
fi

if ((${#failed[@]})); then
    echo "fuzz: crashes in: ${failed[*]}" >&2
    exit 1
fi
