# make run   : install missing build packages, build Release, start `tams serve` (embedded default)
# make test  : install what the tests need, build, run unit + black-box tests, the storage tests
#              against a real S3 server (Ceph RGW, started and stopped here), the black-box tests
#              again on PostgreSQL and the multi-instance tests (test-pg), the benchmark smoke run,
#              then unit + black-box under AddressSanitizer + UndefinedBehaviorSanitizer. Non-zero
#              exit on any failure.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PYTEST := /usr/bin/python3 -m pytest
ARGS ?=

.PHONY: all deps deps-test deps-bench build build-asan run test unit api api-s3 test-pg test-asan \
        bench bench-smoke bench-pg bench-pg-smoke bench-segments bench-presign clean

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

deps-bench:
	@scripts/deps.sh bench

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
# tests, then the whole black-box suite with every server on PostgreSQL (a database per server),
# then tests/cluster (the haproxy self-test, and three instances on one PostgreSQL database behind
# haproxy with replica, primary and instance faults; ~40 s).
# Release build only, to keep the run short.
test-pg: deps-test build
	@set -e; trap 'tests/pg/pg_cluster.sh stop' EXIT; \
	  cluster=$$(tests/pg/pg_cluster.sh start) || exit 1; eval "$$cluster"; \
	  test -n "$$TAMS_TEST_PG_URL"; \
	  TAMS_TEST_PG_URL=$$TAMS_TEST_PG_URL TAMS_TEST_PG_REPLICA_URL=$$TAMS_TEST_PG_REPLICA_URL \
	    build/unit_tests --gtest_filter='Postgres*'; \
	  TAMS_TEST_DB=$$TAMS_TEST_PG_URL TAMS_TEST_PG_REPLICA_URL=$$TAMS_TEST_PG_REPLICA_URL \
	    TAMS_TEST_PG_DIR=$$TAMS_TEST_PG_DIR TAMS_BINARY=$(CURDIR)/build/tams $(PYTEST) -q tests/api; \
	  TAMS_TEST_PG_URL=$$TAMS_TEST_PG_URL TAMS_TEST_PG_REPLICA_URL=$$TAMS_TEST_PG_REPLICA_URL \
	    TAMS_TEST_PG_DIR=$$TAMS_TEST_PG_DIR TAMS_BINARY=$(CURDIR)/build/tams $(PYTEST) -q tests/cluster

# The storage tests against a throw-away Ceph RADOS Gateway on 127.0.0.1 (tests/s3/rgw.sh installs
# ceph-mon, ceph-osd and radosgw when missing); the gateway is stopped whatever the outcome.
RGW_PORT ?= 7480
api-s3: deps-test build
	@tests/s3/rgw.sh start
	@status=0; TAMS_BINARY=$(CURDIR)/build/tams TAMS_TEST_S3_ENDPOINT=http://127.0.0.1:$(RGW_PORT) \
	  TAMS_TEST_S3_ACCESS_KEY=tamsaccesskey TAMS_TEST_S3_SECRET_KEY=tamssecretkey \
	  $(PYTEST) -q tests/api/test_s3_storage.py || status=$$?; tests/s3/rgw.sh stop; exit $$status

test-asan: build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  TAMS_BINARY=$(CURDIR)/build-asan/tams $(PYTEST) -q tests/api

test: deps-test
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory api
	@$(MAKE) --no-print-directory api-s3
	@$(MAKE) --no-print-directory test-pg
	@$(MAKE) --no-print-directory bench-smoke
	@$(MAKE) --no-print-directory bench-pg-smoke
	@$(MAKE) --no-print-directory test-asan

# make bench       : the standard benchmark (10,000 flows, 10 million segments, cached in bench/.data;
#                    report in bench/results/); BENCH_ARGS adds bench/run.py options
# make bench-smoke : the same scenarios on a tiny data set, 1 s each; fails on errors, never on speed
bench: deps-bench build
	/usr/bin/python3 bench/run.py --binary $(CURDIR)/build/tams $(BENCH_ARGS)

bench-smoke: deps-bench build
	/usr/bin/python3 bench/run.py --smoke --binary $(CURDIR)/build/tams $(BENCH_ARGS)

# make bench-pg       : the same with the metadata in PostgreSQL (its own server on 127.0.0.1,
#                      port 58432 or the next free pair, removed at the end; the data set loaded
#                      with tams migrate); report bench/results/*-bench-pg.md
# make bench-pg-smoke : bench-smoke on PostgreSQL; fails on errors, never on speed
bench-pg: deps-bench build
	/usr/bin/python3 bench/run.py --db postgres --binary $(CURDIR)/build/tams $(BENCH_ARGS)

bench-pg-smoke: deps-bench build
	/usr/bin/python3 bench/run.py --db postgres --smoke --binary $(CURDIR)/build/tams $(BENCH_ARGS)

bench-segments: build
	/usr/bin/python3 bench/segment_query_scaling.py --binary $(CURDIR)/build/tams

bench-presign: build
	@cmake --build build --target bench_presign
	./build/bench_presign

clean:
	rm -rf build build-asan
