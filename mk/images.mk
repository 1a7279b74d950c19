# Container images: the job, moto's S3 server, and the Python base both build from.
# Works on a normal network (public python base, no CA secret) and on build machines without a
# registry (local debootstrap base, the host's CA bundle for PyPI behind TLS interception).

PYTHON_IMAGE ?= python:3.13-slim-trixie
# Set to skip scripts/ensure-base-image.sh and build FROM this image as is.
BASE_IMAGE ?=
JOB_IMAGE ?= daily-synthetic-job:dev
MOTO_IMAGE ?= daily-synthetic-moto:dev
# Handed to the build as the `ca` secret when the file exists; never copied into an image.
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
BUILD_PROGRESS ?= auto

comma := ,
CA_SECRET = $(if $(wildcard $(CA_BUNDLE)),--secret id=ca$(comma)src=$(CA_BUNDLE))
# Shared by every image target (mk/*.mk): BuildKit, loaded into the local engine.
BUILDX = docker buildx build --load --progress=$(BUILD_PROGRESS) $(CA_SECRET)
# Shell snippet: the base image name (public if present/pullable, else the cached local build).
ENSURE_BASE = $(or $(BASE_IMAGE),$$(bash scripts/ensure-base-image.sh "$(PYTHON_IMAGE)"))
# Recursive (=) so that git and sed only run when an image is built.
IMAGE_VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' job/fraud_detection/__init__.py | head -n 1)
IMAGE_REVISION = $(shell git describe --always --dirty --abbrev=12 2>/dev/null)
IMAGE_SOURCE = $(shell git remote get-url origin 2>/dev/null)

.PHONY: base-image job-image moto-image images

base-image: ## the Python base: PYTHON_IMAGE if present or pullable, else a local debootstrap build
	@echo "$(ENSURE_BASE)"

job-image: ## build the job image JOB_IMAGE (default daily-synthetic-job:dev) from uv.lock
	@base=$(ENSURE_BASE) && \
	$(BUILDX) -f job.Dockerfile -t "$(JOB_IMAGE)" \
		--build-arg PYTHON_IMAGE="$$base" \
		--build-arg VERSION="$(IMAGE_VERSION)" \
		--build-arg REVISION="$(IMAGE_REVISION)" \
		--build-arg SOURCE="$(IMAGE_SOURCE)" \
		.

moto-image: ## build moto's S3 server image MOTO_IMAGE (the integration tests' endpoint)
	@base=$(ENSURE_BASE) && \
	$(BUILDX) -f containers/moto.Dockerfile -t "$(MOTO_IMAGE)" \
		--build-arg PYTHON_IMAGE="$$base" \
		--build-arg VERSION="$(IMAGE_VERSION)" \
		.

images: job-image moto-image ## both images
