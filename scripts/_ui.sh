# Sourced by scripts/run and scripts/test: build the web UI (ui/) into src/modelyard/server/ui.
# Needs Node.js >= 20.19 and npm (the lockfile pins every package).
node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'
}

build_ui() {
  if ! node_ok; then
    echo "The web UI needs Node.js >= 20.19 with npm (found: $(node --version 2>/dev/null || echo none))." >&2
    return 1
  fi
  (
    cd ui
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi
    npm run --silent build >/dev/null
  )
}
