# ParkGate: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench fuzz soak clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/parkgate demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Four workers on the 2-core CI machine: most tests wait on real devices' time (serial lines, barriers, browsers),
# not on the CPU, so four overlap those waits (measured: 7.0 min against 9.4 min with two). A test module stays on
# one worker, with its database; the whole-system modules run two at a time (tests/conftest.py, HEAVY_GROUPS).
PYTEST_WORKERS ?= 4

pytest: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

test: lint typecheck pytest

# Every benchmark, each in its own process, then one table of figures beside their floors or peers (measured in the
# same run), also written to benchmarks/results.json with the date, the machine and the command; each bench's own
# printout goes to benchmarks/results.log. Not part of `make test` (which checks `run.py --quick`'s table and JSON).
# BENCH_ARGS, e.g. "--only edge,fee" or "--quick".
bench: $(STAMP)
	PYTHONPATH=$(CURDIR) $(BIN)/python benchmarks/run.py $(BENCH_ARGS)

fuzz: $(STAMP)
	$(BIN)/python -m pytest -m fuzz -p no:cacheprovider

# The long fault runs and the long fuzz runs (>= 1,000,000 inputs per codec), ending with one summary table
# (tests/soak_summary.py; also written to test-output/soak/summary.json).
soak: $(STAMP)
	$(BIN)/python -m pytest -m "soak or fuzz" -p no:cacheprovider -n 3 --dist load

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache test-output
