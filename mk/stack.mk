# The local stack (compose.yaml): Airflow running the DAG, the job image it launches,
# and an S3 store. Life cycle in scripts/stack-ctl.sh; configuration in .env.example.
# Image builds reuse mk/images.mk (BUILDX with the CA secret, ENSURE_BASE, JOB_IMAGE).

AIRFLOW_IMAGE ?= daily-synthetic-airflow:dev
# The Docker API filter between the task-running container and the engine's socket.
DOCKER_PROXY_IMAGE ?= daily-synthetic-docker-proxy:dev
# The DAG's launcher baked into the Airflow image (docker, ecs or kubernetes): it decides
# which provider the image installs. The local stack runs docker.
AIRFLOW_LAUNCHER ?= docker
# Rows of the runs the stack targets make (the DAG's own default is 1 000 000).
STACK_ROWS ?= 10000
FROM ?= $(DATE)
TO ?= $(FROM)

# Celery workers of the full profile (make airflow-up STACK_WORKERS=2).
STACK_WORKERS ?= 1
SLICES ?= 1 2 4

STACK_ENV = JOB_IMAGE="$(JOB_IMAGE)" AIRFLOW_IMAGE="$(AIRFLOW_IMAGE)" BUILDX="$(BUILDX)" \
	DOCKER_PROXY_IMAGE="$(DOCKER_PROXY_IMAGE)" \
	PYTHON_IMAGE="$(PYTHON_IMAGE)" BASE_IMAGE="$(BASE_IMAGE)" STACK_WORKERS="$(STACK_WORKERS)"
STACK = $(STACK_ENV) bash scripts/stack-ctl.sh

.PHONY: airflow-image docker-proxy-image stack-store-image airflow-up airflow-up-minimal airflow-test-dag airflow-trigger \
	airflow-scale airflow-logs airflow-ps airflow-down airflow-clean

airflow-image: ## build the Airflow image AIRFLOW_IMAGE (Airflow + the AIRFLOW_LAUNCHER's provider from uv.lock, dags/)
	@base=$(ENSURE_BASE) && \
	$(BUILDX) -f airflow.Dockerfile -t "$(AIRFLOW_IMAGE)" --build-arg PYTHON_IMAGE="$$base" \
		--build-arg AIRFLOW_LAUNCHER="$(AIRFLOW_LAUNCHER)" .

docker-proxy-image: ## build DOCKER_PROXY_IMAGE, the stack's Docker API filter (containers/docker-proxy/)
	@base=$(ENSURE_BASE) && \
	$(BUILDX) -f containers/docker-proxy/Dockerfile -t "$(DOCKER_PROXY_IMAGE)" --build-arg PYTHON_IMAGE="$$base" .

stack-store-image: ## print the stack's S3 store image (S3STORE_IMAGE; rclone's, or a stand-in built from uv.lock)
	@$(STACK_ENV) bash scripts/stack-images.sh minimal | sed -n 's/^S3STORE_IMAGE=//p'

airflow-up: airflow-image job-image docker-proxy-image ## full stack (CeleryExecutor, postgres, redis, S3 store; STACK_WORKERS workers): build, start, wait healthy
	@$(STACK) up full

airflow-up-minimal: airflow-image job-image docker-proxy-image ## minimal stack (LocalExecutor on SQLite, S3 store): build, start, wait healthy
	@$(STACK) up minimal

airflow-test-dag: ## in the running stack: airflow dags test daily_synthetic DATE (STACK_ROWS rows), then check S3
	@$(STACK) test-dag "$(DATE)" "$(STACK_ROWS)"

airflow-trigger: ## in the running stack: run day DATE, or FROM..TO, as backfill runs (STACK_ROWS rows)
	@$(STACK) trigger "$(FROM)" "$(TO)" "$(STACK_ROWS)"

airflow-scale: ## in the running stack: day DATE once per slice count in SLICES (ROWS rows): wall times, fingerprints
	@$(STACK) scale "$(DATE)" "$(ROWS)" $(SLICES)

airflow-logs: ## follow the stack's logs (SERVICE=airflow-worker for one service)
	@$(STACK) logs $(SERVICE)

airflow-ps: ## the stack's containers and their health
	@$(STACK) ps

airflow-down: ## stop the stack gracefully (volumes kept: S3 data, metadata DB, logs)
	@$(STACK) down

airflow-clean: ## stop the stack and delete its volumes
	@$(STACK) down --volumes
