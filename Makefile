# deskdrill: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DESKDRILL_ENV ?= dev

.PHONY: run test lint format bench clean demo migrate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/deskdrill migrate

demo: migrate
	$(BIN)/deskdrill demo

run: demo
	@echo "deskdrill is at http://$${DESKDRILL_HOST:-127.0.0.1}:$${DESKDRILL_PORT:-8000}/ (API docs at /docs)"
	$(BIN)/deskdrill serve

test: $(STAMP)
	bash scripts/ensure-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache
