# The two quick-start commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crimelink demo

test: $(STAMP)
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)  # style, and the layer contracts (also checked by tests/unit/test_layout.py in make test)
	$(VENV)/bin/ruff check .
	rm -rf build/layers && $(VENV)/bin/pip install --quiet --no-deps --target build/layers .
	cd build/layers && PYTHONPATH=. ../../$(VENV)/bin/lint-imports --no-cache ../../pyproject.toml

bench: $(STAMP)  # the benchmarks at their documented sizes (about 13 minutes here; bench.chaos and bench.standby are run on their own)
	$(VENV)/bin/python -m bench.throughput --count 10000 --json bench/results/throughput.json
	$(VENV)/bin/python -m bench.latency --rates 500,2000 --seconds 15 --json bench/results/latency.json
	$(VENV)/bin/python -m bench.correlation_growth --sizes 10000,100000,1000000 --probe 2000 --json bench/results/growth.json
	$(VENV)/bin/python -m bench.correlation_quality --background 10000 --json bench/results/quality.json
	$(VENV)/bin/python -m bench.gateway --count 10000 --clients 1,4 --json bench/results/gateway.json

clean:
	rm -rf $(VENV) .crimelink
