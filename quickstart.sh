#!/usr/bin/env bash
# Sets up a fresh clone and runs one thing: `./quickstart.sh demo` or
# `./quickstart.sh test`. Needs only Node >= 18 with npm on PATH: pnpm comes
# from the npm registry at the version package.json pins, Node 22 for the
# scripts comes from the `node` devDependency, and nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-}"
case "$what" in
  demo|test|dev|bench|install) ;;
  *) echo "usage: ./quickstart.sh demo|test|dev|bench|install" >&2; exit 2 ;;
esac

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
  echo "quickstart: installing pnpm $want from the npm registry"
  if ! npm install -g "pnpm@$want" >/dev/null 2>&1; then
    # No write access to the global prefix: install for this user instead.
    prefix="${XDG_DATA_HOME:-$HOME/.local/share}/rendermesh/pnpm-$want"
    npm install -g --prefix "$prefix" "pnpm@$want" >/dev/null
    export PATH="$prefix/bin:$PATH"
  fi
fi

frozen=--frozen-lockfile
[ -f pnpm-lock.yaml ] || frozen=
pnpm install $frozen
[ "$what" = install ] && exit 0
exec pnpm "$what"
