# shoprec: the two commands README starts with are `make demo` and `make test`.
# Both set up what is missing first (scripts/setup.sh is idempotent).

VENV := .venv
PY   := $(VENV)/bin/python
export PYSPARK_PYTHON := $(abspath $(PY))

.PHONY: setup demo test test-faults lint typecheck unit bench bench-growth lock clean wheel

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/bin/shoprec demo

lint: setup
	$(VENV)/bin/ruff check lib tests jobs airflow_dags
	$(VENV)/bin/ruff format --check lib tests jobs airflow_dags

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest

test: setup
	$(VENV)/bin/ruff check lib tests jobs airflow_dags
	$(VENV)/bin/ruff format --check lib tests jobs airflow_dags
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

# Every kill-anywhere case (tests/stages/test_kill_anywhere.py): a stage SIGKILLed at
# each fault point, rerun, compared with a run never killed (~23 min; not in make test).
test-faults: setup
	$(VENV)/bin/pytest -m faults -n 0 tests/stages/test_kill_anywhere.py

# The project's code as spark-submit ships it to executors: --py-files dist/shoprec.zip.
# The zip is the wheel under another name: Spark puts .zip/.egg/.jar py-files on the
# executors' Python path but only copies a .whl, and a pure-Python wheel is a zip.
wheel: setup
	rm -rf dist
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	cp dist/shoprec-*.whl dist/shoprec.zip

bench: setup
	$(PY) -m shoprec.bench.ingest $(BENCH_ARGS)

# Ingest + validate at 1M/3M/10M events and scoring at 20k/50k/100k items, with a plot.
bench-growth: setup
	$(PY) -m shoprec.bench.growth --out bench-growth $(BENCH_ARGS)

# Re-pin constraints.txt from the current environment after changing pyproject.toml.
lock:
	( echo "# Exact versions the test suite ran with (pip install -c constraints.txt)."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  $(VENV)/bin/pip freeze --exclude-editable | grep -v -i -E '^(horovod|shoprec)( @|=)' ) > constraints.txt

clean:
	rm -rf lake data dist bench-growth spark-warehouse metastore_db derby.log .pytest_cache .mypy_cache .ruff_cache
