# spinebench: every target installs and builds what it needs first, so a fresh
# Debian machine needs nothing typed beforehand.

SWIFT    ?= swift
BIN      := .build/release/spinebench
PROFILE  ?= quick
SEEDS    ?=
SHARD    ?=
A        ?= HEAD
B        ?=
APT_PKGS := libopenblas-dev libhdf5-dev hdf5-tools pkg-config zlib1g-dev dataset-fashion-mnist python3-h5py
# Runs trained at once on this machine, each single-threaded: on 2 cores two one-thread runs finish ~35%
# sooner than one two-thread run after the other (JOBS=1 trains one run at a time on every core).
JOBS     ?= $(shell nproc 2>/dev/null || echo 1)
ABLATE_FLAGS = --profile $(PROFILE) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(SHARD),--shard $(SHARD)) --jobs $(JOBS)

.PHONY: all deps build test fault-test slurm-test bench bench-tf fidelity ablation-permutation ablation-connections ablation-scaling ablation-search-vs-random ablation-classification calibrate search tables diff clean

all: build

## deps: install the Debian packages that are missing (needs root; prints what to run otherwise)
deps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "deps: missing Debian packages:$$missing"; \
	    echo "deps: run 'sudo apt-get install$$missing' (or 'sudo make deps') and try again"; exit 1; \
	  fi; \
	fi

## build: release build of the spinebench binary
build: deps
	$(SWIFT) build -c release

## test: every test, in a release build (numeric loops are far too slow in debug; -enable-testing
## lets tests use @testable imports), then the smoke profiles of the connections and classification ablations end
## to end (datasets, training, records, tables) in a scratch folder under .build/, then the fault test (fault-test)
SMOKE := .build/smoke
test: deps
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing
	$(SWIFT) test -c release -Xswiftc -enable-testing --skip-build
	rm -rf $(SMOKE)
	$(BIN) ablate ablations/connections.yaml --profile smoke --results $(SMOKE)/results --runs $(SMOKE)/runs --data $(SMOKE)/data
	$(BIN) ablate ablations/classification.yaml --profile smoke --results $(SMOKE)/results --runs $(SMOKE)/runs --data $(SMOKE)/data
	$(BIN) tables --results $(SMOKE)/results
	scripts/fault-test.sh $(BIN)

## fault-test: also the last step of test: the destructive probes (scripts/fault-test.sh), in
## .build/fault/: kill -9 at random points of data build, ablate and search, and a full disk under each (small
## tmpfs folders; needs root, skipped otherwise); nothing written may be lost, no temporary file may stay, and
## a rerun must end with the records of an uninterrupted run; about 1.5 minutes, one thread
fault-test: build
	scripts/fault-test.sh $(BIN)

## slurm-test: not part of test: the README's Slurm job script (scripts/slurm-ablate.sh) on a one-node cluster
## started in .build-slurm/ (installs slurmctld, slurmd, munge, jq when missing; needs root): the smoke
## permutation ablation as a job array, one task cancelled mid-run and resubmitted; records and tables must
## equal a local run's; every daemon it started is stopped on exit
slurm-test: build
	scripts/slurm-test.sh $(BIN)

## bench: sgemm peak and per-op throughput of this machine
bench: build
	$(BIN) bench gemm
	$(BIN) bench ops

## bench-tf: our training throughput beside TensorFlow's (tf-models-official SpineNet-49), alternately in one
## run; makes a virtualenv in .venv-tf with the pinned packages of bench/tensorflow/requirements.txt
bench-tf: build .venv-tf/ok
	bench/side-by-side.sh

## fidelity: SpineNet-49 trained by spinebench and by the reference implementation (tf-models-official's own
## backbone, head, anchors, labeler, losses and optimiser; bench/tensorflow/train_reference.py) at a profile of
## ablations/fidelity.yaml (FIDELITY=fidelity|short|smoke, FIDELITY_SEEDS=n (default: the profile's), JOBS=n): per seed
## ours, the reference from its own weights and the reference from ours (paired); before them the first step and the
## first 400 steps on the same weights, after them the same step at a trained state; writes results/fidelity.md and
## .svg (other profiles: results/fidelity/PROFILE.md); makes .venv-tf like bench-tf. About 2 h 40 min on an idle
## 2-core machine (ablations/fidelity.yaml); recorded runs are skipped, so it resumes
FIDELITY       ?= fidelity
FIDELITY_SEEDS ?=
fidelity: build .venv-tf/ok
	bench/fidelity.sh $(FIDELITY) "$(FIDELITY_SEEDS)" $(JOBS)

.venv-tf/ok: bench/tensorflow/requirements.txt
	python3 -m venv .venv-tf
	.venv-tf/bin/pip install -q -r bench/tensorflow/requirements.txt
	.venv-tf/bin/pip install -q --no-deps tf-models-official==2.20.0
	touch $@

## ablation-permutation: Tables 3 and 8 (PROFILE=smoke|quick|paper, SEEDS=n, SHARD=i/n)
ablation-permutation: build
	$(BIN) ablate ablations/permutation.yaml $(ABLATE_FLAGS)
	$(BIN) tables

## ablation-connections: Table 9 (graph damage on R0-SP53)
ablation-connections: build
	$(BIN) ablate ablations/connections.yaml $(ABLATE_FLAGS)
	$(BIN) tables

## ablation-scaling: the paper's scaling comparison (SpineNet-49S/49/96/143 against R50/101/152-FPN, AP
## against multiply-adds)
ablation-scaling: build
	$(BIN) ablate ablations/scaling.yaml $(ABLATE_FLAGS)
	$(BIN) tables

## ablation-search-vs-random: each searched spec against the median of five random members of its space,
## trained at the tables' profiles (ablations/search-vs-random.yaml)
ablation-search-vs-random: build
	$(BIN) ablate ablations/search-vs-random.yaml $(ABLATE_FLAGS)
	$(BIN) tables

## ablation-classification: the paper's classification table scaled: SpineNet-49 against ResNet-50 on a coarse
## (fmnist-cls) and a fine-grained (fine-shapes) dataset, top-1 / top-5 with label smoothing and a cosine schedule
ablation-classification: build
	$(BIN) ablate ablations/classification.yaml $(ABLATE_FLAGS)
	$(BIN) tables

## calibrate: AP against training length and learning rate (ablations/calibration.yaml), every profile shortest
## first, then results/calibration.md and .svg, which choose the ablations' decisive length (SHARD=i/n, JOBS=n)
calibrate: build
	$(BIN) calibrate ablations/calibration.yaml $(if $(SHARD),--shard $(SHARD)) --jobs $(JOBS)

## search: the architecture searches of ablations/search (SPACES="r35-sp18 fish" to choose, BUDGET=n
## candidates per space, SHARD=i/n, THREADS=n); resumes from results/search/SPACE/*.jsonl, writes the best
## candidates to results/search/SPACE/ and results/search/summary.md; WRITE_SPECS=1 also replaces the shipped
## specs in ablations/specs that the tables train; NOISE_SEEDS=n first measures the reward's seed noise on
## three random members of each space (results/search/SPACE/noise.jsonl)
SPACES   ?= r35-sp18 r23-sp30 r14-sp39 r0-sp53 hourglass fish
BUDGET   ?=
THREADS  ?=
SEARCH_FLAGS = $(if $(BUDGET),--budget $(BUDGET)) $(if $(SHARD),--shard $(SHARD)) $(if $(THREADS),--threads $(THREADS)) \
               $(if $(WRITE_SPECS),--write-specs) $(if $(NOISE_SEEDS),--noise-seeds $(NOISE_SEEDS))
search: build
	for s in $(SPACES); do $(BIN) search ablations/search/$$s.yaml $(SEARCH_FLAGS) || exit 1; done

## tables: regenerate results/*.md, *.csv, *.svg from the stored records
tables: build
	$(BIN) tables

## diff: compare the records of two revisions (A=rev [B=rev], B defaults to the working tree)
diff: build
	$(BIN) diff $(A) $(B)

clean:
	rm -rf .build
