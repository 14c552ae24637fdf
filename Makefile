# `make train evaluate export` runs the whole pipeline; `make test` runs the test suite.
# A stage whose inputs are unchanged is skipped (FORCE=1 reruns it).
# CONFIG picks a config, ARGS passes dotted overrides:  make train CONFIG=configs/x.yaml ARGS="train.epochs=1"
# PIP_ARGS adds pip options to the first install, e.g. PyTorch's CPU index (see the README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= configs/default.yaml
ARGS ?=
# FORCE=1 reruns a stage even when its inputs are unchanged (by default it says "up to date" and skips).
FORCE ?=
FORCE_FLAG := $(if $(filter-out 0,$(FORCE)),--force)
UI_PORT ?= 5000
DOCS_PORT ?= 8000
PORT ?= 3000
URL ?= http://127.0.0.1:$(PORT)
CLIENTS ?= 16
SECONDS ?= 20
PER_REQUEST ?= 16
PYTEST_ARGS ?=
PIP_ARGS ?=
SHARED_SIB ?= ../shared/data/sib200/data/annotated
SHOT_EXPERIMENT ?= textclf-compare
SOAK_SECONDS ?= 600
CORPUS_ROWS ?= 2000000
SOAK_ARGS ?=
TRACKING_PORT ?= 5001
# PROCESSES>1 trains in that many processes through `accelerate launch` (gloo on CPU, NCCL on GPUs). accelerate's
# own CPU launcher needs MPI, so --multi_gpu starts them through torchrun on any machine; MAIN_PORT is their rendezvous.
PROCESSES ?= 1
MAIN_PORT ?= 29500
TRAIN_LAUNCH := $(if $(filter-out 1,$(PROCESSES)),$(BIN)/accelerate launch --multi_gpu --num_processes $(PROCESSES) \
	--num_machines 1 --mixed_precision no --dynamo_backend no --main_process_port $(MAIN_PORT) -m pipeline.cli,$(BIN)/pipeline)
TRACKING_HOME ?= mlruns/tracking-server

export MLFLOW_DISABLE_TELEMETRY := true
export BENTOML_DO_NOT_TRACK := true
export HF_HUB_DISABLE_TELEMETRY := 1
export RAY_USAGE_STATS_ENABLED := 0
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup lint prepare train evaluate export explain compare ui screenshots serve bento-model bento loadtest bench langid-bench profile profile-service abstain-curve soak tracking-server tracking-server-stop test test-slow test-notebooks clean lock

help: ## list the targets, then the pipeline's stages from their registry (pipeline/stages/registry.py)
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'
	@echo
	@$(PYTHON) -m pipeline.stages.registry

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -c requirements.lock -e ".[dev]"
	touch $@

setup: $(STAMP) ## create .venv and install the project (cheap when nothing changed)

prepare: setup ## read, clean and split the data; make the tokenizer; coverage report
	$(BIN)/pipeline prepare --config $(CONFIG) $(FORCE_FLAG) $(ARGS)

train: setup ## train the model (a stale upstream stage runs first, here prepare); PROCESSES=2 trains in 2 processes
	$(TRAIN_LAUNCH) train --config $(CONFIG) $(FORCE_FLAG) $(ARGS)

evaluate: setup ## score on the test split: reports/<run>/metrics.json, evaluation.md, plots
	$(BIN)/pipeline evaluate --config $(CONFIG) $(FORCE_FLAG) $(ARGS)

export: setup ## ONNX fp32 + int8 into artifacts/<run>/export, parity gate, MLflow registry
	$(BIN)/pipeline export --config $(CONFIG) $(FORCE_FLAG) $(ARGS)

explain: setup ## attention heatmaps and a t-SNE map of the trained model: reports/<run>/explain.md
	$(BIN)/pipeline explain --config $(CONFIG) $(FORCE_FLAG) $(ARGS)

compare: setup ## train every model kind on the transformer's config beside CONFIG (and SIB-200 when ../shared/data exists): reports/model-comparison*.md
	$(BIN)/python -m tools.comparison --train configs/langid-transformer.yaml --with $(CONFIG)
	@if [ -d "$(SHARED_SIB)" ]; then \
		$(BIN)/python -m tools.comparison --train configs/sib200-topic.yaml --output reports/model-comparison-sib200.md \
			--set data.source=folder --set data.folder=$(SHARED_SIB); \
	else echo "skipping the SIB-200 comparison: $(SHARED_SIB) not found"; fi

ui: setup ## the MLflow UI on http://127.0.0.1:$(UI_PORT)
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlruns/mlflow.db}" \
		--host 127.0.0.1 --port $(UI_PORT)

screenshots: setup ## MLflow UI screenshots of SHOT_EXPERIMENT (textclf-compare) in headless chromium: reports/mlflow-ui-*.png
	$(BIN)/python -m tools.ui_screenshot --config $(CONFIG) --experiment $(SHOT_EXPERIMENT)

bento-model: setup ## import the export folder into the BentoML model store (once per export)
	$(BIN)/python -m serving.model_store "$$($(BIN)/pipeline config --config $(CONFIG) --path export)"

serve: bento-model ## serve the exported model on http://127.0.0.1:$(PORT) (POST /classify, GET /v1/metadata)
	TEXTCLF_MODEL="$$($(BIN)/python -m serving.model_store "$$($(BIN)/pipeline config --config $(CONFIG) --path export)")" \
		$(BIN)/bentoml serve serving.service:TextClassifier --host 127.0.0.1 --port $(PORT)

bento: bento-model ## build a Bento (model included); serve it with `bentoml serve <tag>`
	TEXTCLF_MODEL="$$($(BIN)/python -m serving.model_store "$$($(BIN)/pipeline config --config $(CONFIG) --path export)")" \
		$(BIN)/bentoml build --output tag

loadtest: setup ## drive a running service ($(URL)) with CLIENTS clients sending PER_REQUEST texts each for SECONDS s
	$(BIN)/python -m tools.loadtest --url $(URL) --clients $(CLIENTS) --seconds $(SECONDS) --texts-per-request $(PER_REQUEST) \
		--texts "$$($(BIN)/pipeline config --config $(CONFIG) --path data)/test.jsonl"

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -c requirements.lock -e ".[dev,bench]"
	touch $@

bench: bento-model $(VENV)/.bench-installed ## measure and write reports/benchmarks.md (starts and stops its own server)
	$(BIN)/python -m tools.bench --config $(CONFIG)

$(VENV)/.ray-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -c requirements.lock -e ".[dev,ray]"
	touch $@

corpus-bench: $(VENV)/.bench-installed $(VENV)/.ray-installed ## `pipeline predict` on CORPUS_ROWS (2,000,000) test sentences: one process, all cores, Ray, fastText; rows/s and peak memory -> reports/corpus.md
	$(BIN)/python -m tools.corpus_bench --config $(CONFIG) --rows $(CORPUS_ROWS)

soak: bento-model ## mixed load (16 clients) for SOAK_SECONDS (600) s on the fp32 model (SOAK_ARGS=--quantized: int8): 5xx, latency, RSS, wrong answers -> reports/reliability.md
	$(BIN)/python -m tools.soak --config $(CONFIG) --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

langid-bench: bento-model $(VENV)/.bench-installed ## CONFIG's language ID against heliport, lingua, langid.py, fastText on SIB-200, accuracy per text length and speed, in process and served (starts and stops its own server): reports/<run>/langid.md (ARGS="--split dev": dev sentences, accuracy only, langid-dev.md)
	$(BIN)/python -m tools.langid_bench --config $(CONFIG) --sib $(SHARED_SIB) $(ARGS)

profile: setup ## where a sentence's time goes in the Predictor (steps and onnxruntime's operators, batches 1/32/256, one thread): reports/<run>/profile.md
	$(BIN)/python -m tools.profile_predictor --config $(CONFIG)

profile-service: bento-model ## where a one-text request's time goes in the service, layer by layer, against the bare app `make bench` compares it with: reports/<run>/service-profile.md
	$(BIN)/python -m tools.profile_service --config $(CONFIG)

abstain-curve: setup ## false accepts on SIB-200 languages outside the label set against in-set answers, per threshold (chosen on dev, reported on test): reports/<run>/abstain.md
	$(BIN)/python -m tools.abstain_curve --config $(CONFIG) --sib $(SHARED_SIB) $(ARGS)

$(VENV)/.postgres-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -c requirements.lock -e ".[dev,postgres]"
	touch $@

tracking-server: $(VENV)/.postgres-installed ## MLflow server on PostgreSQL (TRACKING_HOME) at http://127.0.0.1:$(TRACKING_PORT); Ctrl-C stops both
	$(BIN)/python -m tools.tracking_server --home $(TRACKING_HOME) --port $(TRACKING_PORT)

tracking-server-stop: setup ## stop `make tracking-server` from another shell
	$(BIN)/python -m tools.tracking_server stop --home $(TRACKING_HOME)

lint: setup ## ruff (rules in pyproject.toml); run by .ci/run
	$(BIN)/ruff check .

.PHONY: docs docs-serve
$(VENV)/.docs-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) -c requirements.lock -e ".[dev,docs]"
	touch $@

# NO_MKDOCS_2_WARNING: mkdocs-material prints a banner about its end of life (May 2027) on every build
docs: $(VENV)/.docs-installed ## build the docs site into site/ (mkdocs build --strict: a broken link fails); run by .ci/run
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.docs-installed ## serve the docs site on http://127.0.0.1:$(DOCS_PORT), rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

test: setup ## the test suite (offline; slow checks and course notebooks excluded)
	$(BIN)/pytest -m "not slow and not notebooks" $(PYTEST_ARGS)

test-slow: setup $(VENV)/.postgres-installed $(VENV)/.ray-installed $(VENV)/.bench-installed ## the slow checks (marker `slow`; MLflow on PostgreSQL needs the postgres extra, the Ray cluster the ray extra, the language-ID speed table the bench extra)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

test-notebooks: setup ## execute the course notebooks headless (marker `notebooks`), printing each one's time
	$(BIN)/pytest -m notebooks -s $(PYTEST_ARGS) tests/test_course_notebooks.py

clean: ## remove generated data, models, exports and the MLflow store (keeps .venv and reports/)
	rm -rf artifacts data/processed mlruns .pytest_cache

lock: setup ## rewrite requirements.lock from the current .venv
	{ sed -n '1,2p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
