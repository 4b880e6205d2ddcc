# HiVGKit: everything a fresh Debian machine needs goes through these targets.
SHELL := /bin/bash
APT_PACKAGES := libzip-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev libjpeg62-turbo-dev libpng-dev pkg-config
SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
BIN := .build/release/hivgkit
# Optimisation lives here, not in Package.swift (unsafe flags would keep the library from being a
# versioned dependency): the C kernels at -O3 in every build (their GEMM tiles compile spill-free at -O3;
# scripts/check-gemm-codegen.py checks what is built), and the Swift code at -O in the debug builds the
# tests use (they run merges, SVDs and forward passes, 10–50× slower unoptimized).
C_OPT := -Xcc -O3
DEBUG_OPT := -Xswiftc -O $(C_OPT)

.PHONY: all deps build release demo test crosscheck bench fuzz clean example cli-test

# OpenBLAS is loaded with dlopen at the first BLAS call (Sources/HiVGCore/LinearAlgebra.swift), so the
# binaries need only its headers: this pkg-config file gives COpenBLAS the system's include path and
# no -lopenblas, which spares every process the loading and ~12 K symbol bindings of a library most
# commands never call, and lets hivgkit choose OpenBLAS's kernel family before it loads. (A plain
# `swift build` links it anyway; that works too, at that start-up cost.)
PCDIR := .build/pkgconfig
# Tests keep the source-hash cache (HiVGModel/HashCache.swift) inside the build folder, not in ~/.cache.
TEST_CACHE := $(CURDIR)/.build/test-cache
SYSTEM_PKG_CONFIG_PATH := $(PKG_CONFIG_PATH)
export PKG_CONFIG_PATH := $(CURDIR)/$(PCDIR)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))

all: build

# Installs the system libraries when any is missing (needs root, as on CI and the dev machines).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(PCDIR)/openblas.pc: | deps
	@mkdir -p $(PCDIR)
	@cf=$$(PKG_CONFIG_PATH="$(SYSTEM_PKG_CONFIG_PATH)" pkg-config --cflags openblas) && \
	v=$$(PKG_CONFIG_PATH="$(SYSTEM_PKG_CONFIG_PATH)" pkg-config --modversion openblas) && \
	printf 'Name: openblas\nDescription: OpenBLAS headers (hivgkit loads the library at run time)\nVersion: %s\nCflags: %s\nLibs:\n' "$$v" "$$cf" > $@

build: deps $(PCDIR)/openblas.pc
	$(SWIFT) build $(DEBUG_OPT)

# The release binary links the Swift runtime statically: start-up is several times faster (no
# dynamic symbol binding of libswiftCore/Foundation), which is most of a short command's time.
release: deps $(PCDIR)/openblas.pc
	$(SWIFT) build -c release --product hivgkit --static-swift-stdlib $(C_OPT)

# A git-ignored virtualenv with the light Python packages the checks use (numpy, safetensors, gguf).
$(VENV)/.ok: Fixtures/requirements-ci.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Fixtures/requirements-ci.txt
	touch $@

test: deps $(PCDIR)/openblas.pc
	$(SWIFT) build --build-tests $(DEBUG_OPT)
	XDG_CACHE_HOME=$(TEST_CACHE) $(SWIFT) test --skip-build --disable-swift-testing
	$(MAKE) --no-print-directory cli-test
	$(MAKE) --no-print-directory example

# End-to-end checks of the built binary: outputs and exit codes.
cli-test: deps $(PCDIR)/openblas.pc
	$(SWIFT) build --product hivgkit $(DEBUG_OPT)
	XDG_CACHE_HOME=$(TEST_CACHE) bash Tests/cli/run.sh .build/debug/hivgkit

# A separate SwiftPM package that depends on the library by path (Examples/MergeFixture): builds with no
# flags of ours (what a consumer gets) and merges the stage-3 fixture through the write pipeline.
example: deps $(PCDIR)/openblas.pc
	cd Examples/MergeFixture && $(SWIFT) build
	@t=$$(mktemp -d) && trap 'rm -rf "$$t"' EXIT && \
	Examples/MergeFixture/.build/debug/MergeFixture Fixtures/hivg/stage3.pth "$$t/merged.safetensors" 2 2 2

demo: release
	bash scripts/demo.sh $(BIN)

crosscheck: release $(VENV)/.ok
	bash scripts/crosscheck.sh $(BIN)

bench: release
	bash scripts/bench.sh $(BIN)
	bash scripts/bench-models.sh $(BIN)

fuzz: deps $(PCDIR)/openblas.pc
	bash scripts/fuzz.sh

clean:
	rm -rf .build .build-* $(VENV) demo-out bench-out

# Regenerates the native format's manifest code (Sources/CHiVGManifest) from proto/hivgw.proto and the
# ONNX schema code (Sources/CONNXProto) from proto/onnx.proto with protoc-c. The output is committed;
# NativeFormatTests and ONNXProtoTests fail when it is stale.
.PHONY: proto
proto: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	protoc-c --proto_path=proto --c_out="$$tmp" hivgw.proto && \
	mkdir -p Sources/CHiVGManifest/include && \
	cp "$$tmp/hivgw.pb-c.c" Sources/CHiVGManifest/hivgw.pb-c.c && \
	cp "$$tmp/hivgw.pb-c.h" Sources/CHiVGManifest/include/hivgw.pb-c.h && \
	echo "regenerated Sources/CHiVGManifest from proto/hivgw.proto ($$(protoc-c --version | head -1))" && \
	(cd proto && sha256sum -c --quiet onnx.proto.sha256) && \
	protoc-c --proto_path=proto --c_out="$$tmp" onnx.proto && \
	mkdir -p Sources/CONNXProto/include && \
	cp "$$tmp/onnx.pb-c.c" Sources/CONNXProto/onnx.pb-c.c && \
	cp "$$tmp/onnx.pb-c.h" Sources/CONNXProto/include/onnx.pb-c.h && \
	echo "regenerated Sources/CONNXProto from proto/onnx.proto (pinned ONNX v1.22.0 schema)"
