# Two entry points for a newcomer: `make demo` and `make test`.
# Both create .venv on their own (Python 3.11+, Java 17+ needed; see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qos-ml-installed

.PHONY: setup demo test test-quick test-fast lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	@command -v java >/dev/null || { echo "Java 17+ is needed: apt-get install openjdk-17-jre-headless"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(PY) -m qos_ml.cli._prefetch
	touch $(STAMP)

demo: setup
	$(VENV)/bin/qos-ml demo

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# CI runs this: the whole suite, notebooks and streaming tests included, in
# $(WORKERS) processes (one Spark session each). The notebook chain is one long
# sequence: it is collected first so that it starts at once on one worker while
# the other tests share the rest.
WORKERS ?= 2
test: lint
	$(VENV)/bin/qos-ml --lakehouse $(CURDIR)/lakehouse doctor
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --durations=30 tests/notebooks tests

# Everything but the tests marked `slow`, in one process.
test-quick: lint
	$(PY) -m pytest -m "not slow" --durations=25

test-fast: setup
	$(PY) -m pytest -m "not spark and not slow" -q

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) lakehouse .pytest_cache .mypy_cache .ruff_cache
