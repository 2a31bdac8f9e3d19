#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# This is the README's test command; .ci/run calls it from a clean clone.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v soffice >/dev/null 2>&1 || need_apt+=(libreoffice-calc-nogui)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
fc-list 2>/dev/null | grep -qi laksaman || need_apt+=(fonts-thai-tlwg)
/usr/bin/python3 -c "import uno" 2>/dev/null || need_apt+=(python3-uno)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)  # the history test's real server
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # the web report's browser tests (Playwright drives it)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
# axe-core for the web report's accessibility test, from the npm registry into a gitignored folder
# (never `playwright install`: the tests drive Debian's chromium). Without npm that one test skips.
axe_dir=tests/.cache/axe
if [ ! -f "$axe_dir/package/axe.min.js" ] && command -v npm >/dev/null 2>&1; then
  mkdir -p "$axe_dir"
  (cd "$axe_dir" && npm pack --silent axe-core@4 >/dev/null && tar xzf axe-core-*.tgz && rm -f axe-core-*.tgz)
fi
export XLWINGS_LICENSE_KEY="${XLWINGS_LICENSE_KEY:-noncommercial}"
ruff check kpi_xl tests bench
# Both cores (pytest-xdist): tests of one module stay on one worker (--dist loadscope), so module
# fixtures (the demo, the web site, the hostile corpus) are made once; KPI_XL_TEST_WORKERS=0 runs serially.
python -m pytest -q -p no:cacheprovider -n "${KPI_XL_TEST_WORKERS:-auto}" --dist loadscope "$@"
