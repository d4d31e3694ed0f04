#!/usr/bin/env bash
# Compares two builds side by side on this machine: builds tools/side-by-side against commit OLD and against NEW (a
# commit, or "." for the working tree as it is), runs them alternately ROUNDS times, and prints each figure's least
# time for both and the ratio new/old. Usage: tools/side-by-side/run.sh OLD [NEW] [ROUNDS]   (NEW ".", ROUNDS 5)
set -euo pipefail
old=${1:?usage: run.sh OLD [NEW] [ROUNDS]}
new=${2:-.}
rounds=${3:-5}
repo=$(git rev-parse --show-toplevel)
tool="$repo/tools/side-by-side"
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/old" >/dev/null 2>&1 || true; [ "$new" = . ] || git -C "$repo" worktree remove --force "$work/new" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

prepare() { # tree label
    mkdir -p "$1/SideBySide"
    cp "$tool/SideBySide.csproj" "$tool/Program.cs" "$1/SideBySide/"
    dotnet build "$1/SideBySide/SideBySide.csproj" -c Release -o "$work/$2-bin" -v quiet -nologo >/dev/null
}
git -C "$repo" worktree add --detach -f "$work/old" "$old" >/dev/null 2>&1
prepare "$work/old" old
if [ "$new" = . ]; then
    # The working tree as it is, copied so the build does not leave a SideBySide folder in it.
    mkdir -p "$work/new" && (cd "$repo" && git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$work/new")
else
    git -C "$repo" worktree add --detach -f "$work/new" "$new" >/dev/null 2>&1
fi
prepare "$work/new" new

for round in $(seq "$rounds"); do
    for build in old new; do
        (cd "$work/$build-bin" && ./SideBySide) | sed "s/^/$build /" >> "$work/figures"
    done
    echo "round $round of $rounds done" >&2
done
[ -n "${FIGURES:-}" ] && cp "$work/figures" "$FIGURES"
echo "figure (µs per step, least of $rounds runs) | old $old | new $new | new/old"
awk '{ key = $2 " " $3 " " $4; if (!(key in order)) order[key] = ++n; names[order[key]] = key
       if (!(($1, key) in best) || $5 + 0 < best[$1, key]) best[$1, key] = $5 + 0 }
     END { for (i = 1; i <= n; i++) { k = names[i]; printf "%-26s %8.1f %8.1f %6.3f\n", k, best["old", k], best["new", k], best["new", k] / best["old", k] } }' "$work/figures"
