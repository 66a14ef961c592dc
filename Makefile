# make test: installs what the tests need when it is missing, then runs
# everything (vet, gofmt, race-enabled tests, end-to-end with real clients).

GO ?= go
APT_PACKAGES := docker-registry skopeo nginx-light curl
E2E_BINS := docker-registry skopeo nginx curl

.PHONY: test deps vet fmt-check unit build fuzz

test: deps vet fmt-check
	REGTRACE_E2E=1 $(GO) test -race -count=1 -timeout 14m ./...

# deps installs the Debian packages the end-to-end tests run, when missing.
deps:
	@missing=""; for b in $(E2E_BINS); do command -v $$b >/dev/null 2>&1 || test -x /usr/sbin/$$b || missing=1; done; \
	if [ -n "$$missing" ]; then \
		echo "installing $(APT_PACKAGES)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi
	@if [ ! -d .tools/node_modules/har-validator ]; then \
		command -v npm >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm; }; \
		echo "installing har-validator into .tools"; \
		npm install --silent --no-audit --no-fund --prefix .tools har-validator@5.1.5; \
	fi

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -count=1 ./...

build:
	$(GO) build -o bin/regtrace ./cmd/regtrace

# fuzz runs each fuzz target briefly (FUZZTIME=30s make fuzz for longer).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "$$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
