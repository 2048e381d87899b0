# firstcome: `make run` starts everything, `make test` runs the whole suite.
# Both bring up PostgreSQL and Redis first (scripts/services.sh explains how).
SHELL := /bin/bash
VENV_STAMP := .venv/.installed

.PHONY: run prod test bench services stop status lint schema tour venv clean

run: $(VENV_STAMP)  ## migrate, load demo data, start web + worker + beat
	@scripts/run.sh

prod: $(VENV_STAMP)  ## what production runs, here: nginx + TLS, web nodes, worker, ticker, beat (docs/deploy.md)
	@scripts/prod.sh

test: $(VENV_STAMP)  ## the whole pytest suite against real PostgreSQL and Redis
	@scripts/test.sh $(PYTEST_ARGS)

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt requirements-dev.txt requirements-charts.txt scripts/venv.sh
	@scripts/venv.sh
	@touch $@

BENCH_STAMP := .venv/.bench-installed

bench: $(BENCH_STAMP)  ## every benchmark (bench/run.py), then docs/benchmarks.md; BENCH="b1 report" for some
	@scripts/services.sh up
	@scripts/system-packages.sh nginx:nginx openssl:openssl  # the crowd and page-storm runs go through nginx
	@# one run at a time on this machine: every checkout's runs share the bench database and Redis db
	flock /tmp/firstcome-bench.lock .venv/bin/python bench/run.py $(BENCH)

$(BENCH_STAMP): $(VENV_STAMP) requirements-bench.txt requirements-charts.txt
	.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	@touch $@

services: $(VENV_STAMP)  ## only bring up PostgreSQL and Redis
	@scripts/services.sh up

stop:  ## stop the project-local PostgreSQL and Redis, if any
	@scripts/services.sh down

status:
	@scripts/services.sh status

schema: $(VENV_STAMP)  ## regenerate docs/openapi.yaml after an API change
	DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

tour: $(VENV_STAMP)  ## regenerate docs/tour.md and its pictures (docs/tour/) from the browser suite
	FIRSTCOME_TOUR=1 scripts/test.sh tests/browser/test_tour.py -p no:cacheprovider

lint: $(VENV_STAMP)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

clean: stop
	rm -rf .venv .run .pytest_cache .ruff_cache
