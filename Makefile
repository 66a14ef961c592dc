# make test: installs what the tests need when it is missing, then runs
# everything (vet, gofmt, race-enabled tests, end-to-end with real clients).

GO ?= go
export PATH := $(CURDIR)/.tools/bin:$(PATH)

# Debian packages, and the program that shows each is installed (same order).
APT_PACKAGES := docker-registry skopeo nginx-light curl podman docker.io containerd uidmap mitmproxy chromium
APT_BINS     := docker-registry skopeo nginx       curl podman dockerd   containerd newuidmap mitmdump chromium
# npm packages for the interop tests, installed into .tools/node_modules.
NPM_PACKAGES := har-validator@5.1.5 chrome-har@1.3.1 @mermaid-js/mermaid-cli@11.17.0
# Go clients, pinned, installed into .tools/bin.
GO_TOOLS := oras.land/oras/cmd/oras@v1.3.6 \
	github.com/google/go-containerregistry/cmd/crane@v0.22.1 \
	github.com/regclient/regclient/cmd/regctl@v0.11.7 \
	sigs.k8s.io/cri-tools/cmd/crictl@v1.34.0

# Jaeger, the OTLP backend of the export tests: `go install` refuses it
# (replace directives), so tools/jaeger is a module of its own that pins it
# (its go.mod holds the version).
JAEGER_VERSION := $(shell awk '$$1 == "github.com/jaegertracing/jaeger" { print $$2 }' tools/jaeger/go.mod)

.PHONY: test deps apt-deps npm-deps go-tools jaeger vet fmt-check unit build fuzz

test: deps vet fmt-check
	REGTRACE_E2E=1 $(GO) test -race -count=1 -timeout 14m ./...

deps: apt-deps npm-deps go-tools jaeger

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# apt-deps installs the Debian packages whose programs are missing.
apt-deps:
	@missing=""; set -- $(APT_BINS); for p in $(APT_PACKAGES); do \
		b=$$1; shift; command -v $$b >/dev/null 2>&1 || test -x /usr/sbin/$$b || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# npm-deps installs every package in one call when any is missing: npm
# --prefix without a package.json drops packages a separate call installed.
npm-deps:
	@missing=""; for p in $(NPM_PACKAGES); do [ -d .tools/node_modules/$${p%@*} ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; }; \
		echo "installing $(NPM_PACKAGES) into .tools"; \
		PUPPETEER_SKIP_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix .tools $(NPM_PACKAGES) || exit 1; \
	fi

go-tools:
	@for m in $(GO_TOOLS); do \
		b=$${m%@*}; b=$${b##*/}; v=$${m##*@}; \
		[ -x .tools/bin/$$b ] && [ "$$(cat .tools/bin/$$b.version 2>/dev/null)" = "$$v" ] && continue; \
		echo "installing $$m into .tools/bin"; \
		GOBIN=$(CURDIR)/.tools/bin $(GO) install $$m && echo $$v > .tools/bin/$$b.version || exit 1; \
	done

jaeger:
	@[ -x .tools/bin/jaeger ] && [ "$$(cat .tools/bin/jaeger.version 2>/dev/null)" = "$(JAEGER_VERSION)" ] || { \
		echo "building jaeger $(JAEGER_VERSION) into .tools/bin (minutes, the first time)"; \
		cd tools/jaeger && GOBIN=$(CURDIR)/.tools/bin $(GO) install tool && echo $(JAEGER_VERSION) > $(CURDIR)/.tools/bin/jaeger.version; }

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
