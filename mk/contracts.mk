# Data contracts (ODCS v3, contracts/*.odcs.yaml) and the datacontract-cli that tests data
# against them. datacontract-cli pins its own stack (duckdb, ibis, pydantic…): it gets a venv
# of its own under .tools/ rather than a place in uv.lock beside Airflow.

DATACONTRACT_VERSION ?= 1.2.8
DATACONTRACT_VENV := .tools/datacontract
DATACONTRACT := $(DATACONTRACT_VENV)/bin/datacontract

.PHONY: contracts contract-tool contract-test

contracts: dev ## regenerate contracts/*.odcs.yaml from schema.py and the checks
	$(BIN)/python -m fraud_detection.contracts contracts

$(DATACONTRACT): mk/contracts.mk scripts/duckdb-local-extensions.py | $(UV)
	rm -rf $(DATACONTRACT_VENV)
	$(UV) venv -q $(DATACONTRACT_VENV) --python $(PYTHON)
	VIRTUAL_ENV=$(DATACONTRACT_VENV) $(UV) pip install -q "datacontract-cli[s3,parquet]==$(DATACONTRACT_VERSION)"
	$(DATACONTRACT_VENV)/bin/python scripts/duckdb-local-extensions.py
	@touch $@

contract-tool: $(DATACONTRACT) ## datacontract-cli (pinned) in its own venv under .tools/

contract-test: dev contract-tool ## the contracts: generated = committed, and `datacontract test` on a local and an S3 day
	$(BIN)/python -m fraud_detection.contracts contracts --check
	DATACONTRACT_CLI=$(DATACONTRACT) $(BIN)/pytest tests/unit/test_contracts.py tests/integration/test_data_contracts.py

# `make test` runs the contract tests with the rest: it needs the tool.
test: contract-tool
