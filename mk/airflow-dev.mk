# The daily_synthetic DAG on this machine, without the compose stack (mk/stack.mk for that).

DAG_UNIT_TESTS := tests/unit/dags
DAG_E2E_TESTS := tests/e2e/test_airflow_dag.py tests/e2e/test_airflow_dag_failures.py

.PHONY: dag-check dag-test

dag-check: dev ## DAG import, integrity, structure and launcher tests (no Docker, no database, under a minute)
	$(BIN)/pytest -q $(DAG_UNIT_TESTS)

dag-test: dev docker-engine ## airflow dags test daily_synthetic with the job image and S3 on loopback (~3 min)
	$(BIN)/pytest -q -m e2e $(DAG_E2E_TESTS)
