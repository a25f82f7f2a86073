# make run   : install missing build packages, build Release, start `tams serve` (embedded default)
# make test  : install what the tests need, build, run unit + black-box tests, the black-box tests
#              again on PostgreSQL (test-pg), then unit + black-box under AddressSanitizer +
#              UndefinedBehaviorSanitizer. Non-zero exit on any failure.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PYTEST := /usr/bin/python3 -m pytest
ARGS ?=

.PHONY: all deps deps-test build build-asan run test unit api test-pg test-asan bench-segments clean

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAMS_BUILD_TESTS=$(if $(NO_TESTS),OFF,ON) >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: deps-test
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAMS_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

run:
	@$(MAKE) --no-print-directory build NO_TESTS=1
	./build/tams serve $(ARGS)

unit: deps-test build
	cd build && ctest --output-on-failure -j $(JOBS)

api: deps-test build
	TAMS_BINARY=$(CURDIR)/build/tams $(PYTEST) -q tests/api

# The PostgreSQL store: a throwaway primary + streaming replica (tests/pg/pg_cluster.sh), its unit
# tests, then the whole black-box suite with every server on PostgreSQL (a database per server).
# Release build only, to keep the run short.
test-pg: deps-test build
	@set -e; trap 'tests/pg/pg_cluster.sh stop' EXIT; \
	  cluster=$$(tests/pg/pg_cluster.sh start) || exit 1; eval "$$cluster"; \
	  test -n "$$TAMS_TEST_PG_URL"; \
	  TAMS_TEST_PG_URL=$$TAMS_TEST_PG_URL TAMS_TEST_PG_REPLICA_URL=$$TAMS_TEST_PG_REPLICA_URL \
	    build/unit_tests --gtest_filter='Postgres*'; \
	  TAMS_TEST_DB=$$TAMS_TEST_PG_URL TAMS_TEST_PG_REPLICA_URL=$$TAMS_TEST_PG_REPLICA_URL \
	    TAMS_TEST_PG_DIR=$$TAMS_TEST_PG_DIR TAMS_BINARY=$(CURDIR)/build/tams $(PYTEST) -q tests/api

test-asan: build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TAMS_BINARY=$(CURDIR)/build-asan/tams $(PYTEST) -q tests/api

test: deps-test
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory api
	@$(MAKE) --no-print-directory test-pg
	@$(MAKE) --no-print-directory test-asan

bench-segments: build
	/usr/bin/python3 bench/segment_query_scaling.py --binary $(CURDIR)/build/tams

clean:
	rm -rf build build-asan
