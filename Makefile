# Two commands matter: `make demo` and `make test`. Everything else is plumbing.
#
# quickfix 1.16.0 ships as a source distribution compiled without TLS, and Kalshi
# refuses plain TCP. .ci/quickfix-wheel.sh compiles it once (TLS + a SWIG fix) and
# we keep the wheel in a cache directory outside the clone, keyed by Python version, so later runs on
# the same machine reuse it while a fresh machine simply builds it again.

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
QF_VERSION  := 1.16.0
PYVER       := $(shell $(PYTHON) -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
# The cache key names the recipe's content, so editing the build script rebuilds
# while a fresh clone (new mtimes, same content) reuses the wheel.
RECIPE      := $(shell sha256sum .ci/quickfix-wheel.sh | cut -c1-12)
WHEEL_CACHE ?= $(HOME)/.cache/fixgw/quickfix-$(QF_VERSION)-$(PYVER)-$(RECIPE)

.PHONY: venv demo test session bench spec clean

venv: $(VENV)/.installed

$(WHEEL_CACHE)/.built:
	@echo "building quickfix $(QF_VERSION) with TLS (about 5 minutes, once per machine)"
	PYTHON=$(PYTHON) .ci/quickfix-wheel.sh $(WHEEL_CACHE)
	@touch $@

# pip install -e . also compiles fixgw/fix/_scan.c (the decoder's C steps), hence its prerequisite.
$(VENV)/.installed: pyproject.toml fixgw/fix/_scan.c $(WHEEL_CACHE)/.built
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q --force-reinstall --no-deps $(WHEEL_CACHE)/quickfix-$(QF_VERSION)-*.whl
	$(VPY) -m pip install -q -e '.[test]'
	$(VPY) -c 'import quickfix, fixgw.adapter.tls, fixgw.fix._scan; fixgw.adapter.tls.require_ssl_build(); fixgw.adapter.tls.require_optimised_build()'
	@touch $@

demo: venv
	$(VPY) -m fixgw.cli.demo

# The recorder's tests start a real PostgreSQL server from Debian's binaries.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "PostgreSQL is needed by the tests: run 'sudo apt-get install postgresql' (or make test as root)" >&2; \
	    exit 1; \
	  fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

test: venv postgres
	$(VPY) -m pytest -q

# The randomized trading session (tests/test_session.py) at a larger size: make session SIZE=2000 SEED=7
SIZE ?= 1000
SEED ?= 20261121
session: venv
	FIXGW_SESSION_SIZE=$(SIZE) FIXGW_SESSION_SEED=$(SEED) $(VPY) -m pytest -q -s tests/test_session.py

bench: venv
	$(VPY) -m bench

spec: venv
	$(VPY) -m fixgw.fix.dictionary spec

clean:
	rm -rf $(VENV) .pytest_cache fixgw/fix/_scan.*.so build
