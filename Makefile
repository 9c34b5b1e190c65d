# The two quick-start commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test unit bench load clean-var

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## make run: set up and start the whole suite (demo data included) in the foreground
## make run SCALE="contributions=3 documents=2": N copies of some services
run: $(VENV)/.installed
	$(PY) deploy/run.py $(foreach s,$(SCALE),--scale $(s)) $(ARGS)

## make test: the whole test suite (needs RabbitMQ with its management plugin)
test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

## make unit: the tests that need no broker
unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

## make bench: the benchmark suite, one table (JSON in var/bench/); ARGS=--quick for minutes
bench: $(VENV)/.installed
	$(PY) tests/bench/run.py $(ARGS)

## make load: 50 concurrent members for two minutes (requests/s, p50/p95/p99, errors)
load: $(VENV)/.installed
	$(PY) tests/bench/load.py $(ARGS)

clean-var:
	rm -rf var
