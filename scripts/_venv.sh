# Sourced by scripts/run and scripts/test: make .venv with the given extras installed.
# Usage: ensure_venv EXTRAS
ensure_venv() {
  local extras="$1"
  local py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "modelyard needs Python >= 3.11 (found: $("$py" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
}
