# Two entry points for a newcomer: `make demo` and `make test`.
# Both create .venv on their own (Python 3.11+, Java 17+ needed; see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qos-ml-installed

.PHONY: setup demo test test-quick test-fast lint bench clean kafka-jars

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
test: lint kafka-jars
	$(VENV)/bin/qos-ml --lakehouse $(CURDIR)/lakehouse doctor
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --durations=30 tests/notebooks tests

# Everything but the tests marked `slow`, in one process.
test-quick: lint
	$(PY) -m pytest -m "not slow" --durations=25

# A Kafka broker and Spark's Kafka connector, as jars, for the Kafka ingestion
# tests (they skip, saying so, when these are missing). Needs Maven.
KAFKA_JARS := $(VENV)/kafka/.fetched
kafka-jars: $(KAFKA_JARS)

$(KAFKA_JARS): tests/kafka_broker/broker.pom.xml tests/kafka_broker/connector.pom.xml $(STAMP)
	@if ! command -v mvn >/dev/null; then \
	  echo "Maven (mvn) is missing: the Kafka tests will skip (apt-get install maven)"; \
	else \
	  set -e; \
	  mvn -q -f tests/kafka_broker/broker.pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$(CURDIR)/$(VENV)/kafka/broker; \
	  mvn -q -f tests/kafka_broker/connector.pom.xml dependency:copy-dependencies \
	    -Dspark.version=$$($(PY) -c 'import pyspark; print(pyspark.__version__)') \
	    -DincludeArtifactIds=spark-sql-kafka-0-10_2.13,spark-token-provider-kafka-0-10_2.13,kafka-clients,commons-pool2 \
	    -DoutputDirectory=$(CURDIR)/$(VENV)/kafka/connector; \
	  touch $(KAFKA_JARS); \
	  echo "Kafka broker and Spark connector jars are in $(VENV)/kafka"; \
	fi

test-fast: setup
	$(PY) -m pytest -m "not spark and not slow" -q

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) lakehouse .pytest_cache .mypy_cache .ruff_cache
