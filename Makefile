# make demo: the cockpit on an embedded simulated rollout.  make test: everything CI runs.
# make check: the fast lane (lint, types, import contracts, the core and unit tests), under a minute; make test runs it first.
# make mutate: mutation score of cockpit/core against the fast core tests (minutes; not in make test).
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Real components the integration tests start on loopback (Debian packages).
DEBS   := prometheus haproxy tmux librsvg2-bin chromium prometheus-alertmanager victoria-metrics etcd-server etcd-client  # rsvg-convert, chromium: evidence PNGs, the HTML report

.PHONY: demo check test bench mutate system-deps clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(STAMP)
	$(VENV)/bin/cockpit demo $(ARGS)

system-deps:
	@missing=""; for bin in prometheus promtool haproxy tmux rsvg-convert chromium prometheus-alertmanager victoria-metrics etcd etcdctl; do \
	  command -v $$bin >/dev/null 2>&1 || missing="$$missing $$bin"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages for:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 $(DEBS); \
	fi

# Every test is independent (ports, tmux servers and temp dirs are picked per test). Most of the suite's
# time is spent waiting on real components and wall-clock soaks, not computing: three workers per core,
# and idle workers steal queued tests from busy ones (the minute-long guard tests do not queue up).
# The fast lane: what needs no Prometheus, HAProxy, tmux or Chromium, and no wall-clock wait.
CHECK_TESTS ?= tests/core $(FAST_UNIT)
# (the plan's hypothesis properties and check-config's subprocesses take ~40 s: make test runs them)
FAST_UNIT := tests/test_journal_golden.py tests/test_replay_property.py tests/test_status_faces.py \
	tests/test_redact.py tests/test_journal_validate.py tests/test_function_length.py tests/test_narrate_readmodel.py
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(shell nproc) -q -p no:cacheprovider $(CHECK_TESTS)

JOBS   ?= $(shell echo $$(( $$(nproc) * 3 )))
# make check has run the fast lane's tests: the rest of the suite runs here, each test once.
test: check system-deps
	$(PY) -m pytest -n $(JOBS) --dist worksteal $(addprefix --ignore=,$(CHECK_TESTS)) $(ARGS)

# Each worker and each `cockpit` a test starts compiles what it imports once, not every time
# (a shell that sets PYTHONDONTWRITEBYTECODE costs each worker ~3 s of collecting).
check test: export PYTHONDONTWRITEBYTECODE :=

bench: $(STAMP) system-deps
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# mutmut copies the project into mutants/ and mutates cockpit/core there ([tool.mutmut] in
# pyproject.toml); a fresh copy each time, so a changed test never meets a stale result.
MUTATE_JOBS ?= 2
mutate: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) >mutants.log 2>&1 || { tail -40 mutants.log; exit 1; }
	$(PY) tests/core/mutation_score.py

clean:
	rm -rf $(VENV) .pytest_cache mutants mutants.log
