# Two commands matter: `make demo` and `make test`. Everything else is plumbing.
#
# quickfix 1.16.0 ships as a source distribution compiled without TLS, and Kalshi
# refuses plain TCP. We compile it once with HAVE_SSL and keep the wheel in a
# cache directory outside the clone, keyed by Python version, so later runs on
# the same machine reuse it while a fresh machine simply builds it again.

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
QF_VERSION  := 1.16.0
PYVER       := $(shell $(PYTHON) -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
WHEEL_CACHE ?= $(HOME)/.cache/fixgw/quickfix-ssl-$(QF_VERSION)-$(PYVER)
SSL_FLAGS   := CFLAGS=-DHAVE_SSL=1 CXXFLAGS=-DHAVE_SSL=1 LDFLAGS='-Wl,--no-as-needed -lssl -lcrypto'

.PHONY: venv demo test bench spec clean

venv: $(VENV)/.installed

$(WHEEL_CACHE)/.built:
	@mkdir -p $(WHEEL_CACHE)
	@echo "building quickfix $(QF_VERSION) with TLS (about 5 minutes, once per machine)"
	$(SSL_FLAGS) $(PYTHON) -m pip wheel --no-cache-dir --no-deps --no-binary quickfix -w $(WHEEL_CACHE) quickfix==$(QF_VERSION)
	@touch $@

$(VENV)/.installed: pyproject.toml $(WHEEL_CACHE)/.built
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q $(WHEEL_CACHE)/quickfix-$(QF_VERSION)-*.whl
	$(VPY) -m pip install -q -e '.[test]'
	$(VPY) -c 'import quickfix, fixgw.tls; fixgw.tls.require_ssl_build()'
	@touch $@

demo: venv
	$(VPY) -m fixgw.demo

test: venv
	$(VPY) -m pytest -q

bench: venv
	$(VPY) -m bench

spec: venv
	$(VPY) -m fixgw.dictionary spec

clean:
	rm -rf $(VENV) .pytest_cache
