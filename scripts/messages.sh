#!/usr/bin/env bash
# Refresh the UI message catalogs after changing page text: extracts every message from the
# templates and page code into web/locale/messages.pot and merges it into each language's
# messages.po (new messages arrive untranslated; tests/test_i18n.py names them).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
"$BIN/pybabel" extract -F babel.cfg -k _ -k N_ --no-location --sort-output \
  --project deskdrill -o web/locale/messages.pot .
"$BIN/pybabel" update -i web/locale/messages.pot -d web/locale -D messages \
  --omit-header --no-fuzzy-matching
