# The two README commands: `make run` (demo) and `make test` (whole suite). Nothing else needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := wsgi

.PHONY: run test setup setup-dev serve migrate demo-data bench-quick clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed

setup-dev: $(BIN)/.installed-dev

migrate: setup
	$(BIN)/flask db upgrade

demo-data: migrate
	$(BIN)/flask demo-data --if-empty

## make run: set up, migrate the embedded SQLite database, load demo data once, serve with the sandbox on
## and the periodic schedule (reminders, escalations, sweeps) in-process (workers/embedded.py)
run: demo-data
	WECHAT_SANDBOX=1 $(BIN)/flask run --host $(HOST) --port $(PORT)

## make test: set up and run the whole suite on SQLite, then on MariaDB + Redis (mandatory under CI=true)
test: setup-dev
	bash tests/run_suite.sh

bench-quick: setup-dev
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache
