# Two commands matter: `make serve` and `make test`. Both install what is missing first.
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?= -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
ARGS ?=

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = event_json cloud_event decimal config http_request query_string

.PHONY: all deps build serve test test-asan bench fuzz clean

all: build

deps:
	@scripts/install-deps
	@$(MAKE) --no-print-directory web/node_modules/.package-lock.json tests/e2e/cloudevents_sdk/node_modules/.package-lock.json

# The web assets (swagger-ui-dist for /docs) from npm, exactly as package-lock.json pins them.
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

# The CloudEvents JavaScript SDK, which tests/e2e/test_cloudevents.py sends events with.
tests/e2e/cloudevents_sdk/node_modules/.package-lock.json: tests/e2e/cloudevents_sdk/package.json tests/e2e/cloudevents_sdk/package-lock.json
	cd tests/e2e/cloudevents_sdk && npm ci --no-audit --no-fund --loglevel=error

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

serve: build
	$(BUILD)/meterd serve $(ARGS)

# The whole suite twice: as built, and under AddressSanitizer + UndefinedBehaviorSanitizer.
test: build test-asan
	ctest --test-dir $(BUILD) --output-on-failure -j2

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DMETER_SANITIZE=ON -DMETER_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2

bench: build
	bench/run.sh $(BUILD)
	bench/cpu_split.sh $(BUILD)
	bench/durable_floor.sh $(BUILD)
	bench/dedupe_scale.sh $(BUILD)
	bench/quota.sh $(BUILD)
	bench/clickhouse.sh $(BUILD)
	bench/invoice.sh $(BUILD)
	bench/tracker.sh $(BUILD)
	bench/credits.sh $(BUILD)

# Each libFuzzer target for FUZZ_SECONDS, starting from fuzz/corpus; new inputs go to
# $(FUZZ_BUILD)/corpus. A crash stops the run and leaves crash-* here: copy it into
# fuzz/regressions/TARGET so that `make test` replays it from then on.
fuzz:
	@scripts/install-deps --fuzz
	CXX=clang++-19 cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DMETER_FUZZ=ON -DMETER_BUILD_TESTS=OFF -DMETER_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	    $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
