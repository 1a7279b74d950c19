# Downstream of the raw feed: the features step and Feast.
#   make run && make features   -> features of every generated day, materialised into the local
#                                  Feast online store, and the busiest card looked up online.

FEAST_IMAGE ?= daily-synthetic-feast:dev
# The raw feed's root (where `make run` writes) and the features dataset beside it: a root
# of its own, so that a `**/*.parquet` reader of DEST reads payments only.
FEATURES_DEST ?= $(patsubst %/,%,$(dir $(patsubst %/,%,$(DEST))))/features
LABEL_DELAY_DAYS ?= 7
FEAST_ENV = DAILY_SYNTHETIC_DATA="$(abspath $(DEST))" DAILY_SYNTHETIC_FEATURES="$(abspath $(FEATURES_DEST))"
# Published raw days under DEST, oldest first (a day is published once its manifest exists).
RAW_DAYS = $(shell ls "$(DEST)/_manifests" 2>/dev/null | sed -n 's/^\([0-9-]*\)\.json$$/\1/p' | sort)

.PHONY: features features-lookup feast-image

features: dev ## features of every raw day under DEST, then Feast apply + materialize + a card lookup
	@days="$(RAW_DAYS)"; [ -n "$$days" ] || { echo "no published raw day under $(DEST): run 'make run' first" >&2; exit 1; }; \
	for day in $$days; do \
		$(BIN)/payment-features --date $$day --source "$(DEST)" --dest "$(FEATURES_DEST)" \
			--label-delay-days $(LABEL_DELAY_DAYS) -q >/dev/null || exit $$?; \
		echo "features of $$day -> $(FEATURES_DEST)"; \
	done; \
	last=$$(echo $$days | tr ' ' '\n' | tail -n 1); count=$$(echo $$days | wc -w); \
	$(FEAST_ENV) $(BIN)/python feature_repo/tools/daily.py materialize --date $$last --days $$count
	@$(MAKE) --no-print-directory features-lookup

features-lookup: dev ## online features of a card (CARD=id; default the busiest card)
	@$(FEAST_ENV) $(BIN)/python feature_repo/tools/daily.py lookup $(if $(CARD),--card $(CARD))

feast-image: ## build the Feast image FEAST_IMAGE (feature_repo + the lock's feast group)
	@base=$(ENSURE_BASE) && \
	$(BUILDX) -f containers/feast.Dockerfile -t "$(FEAST_IMAGE)" \
		--build-arg PYTHON_IMAGE="$$base" \
		--build-arg VERSION="$(IMAGE_VERSION)" \
		--build-arg REVISION="$(IMAGE_REVISION)" \
		.
