# Sequencer. Uses `deno` from PATH, else the pinned release from npm through npx, so `make run`
# and `make test` work on a machine that has only Node.js and npm.
DENO_VERSION := 2.9.6
DENO ?= $(shell command -v deno 2>/dev/null || echo "npx --yes deno@$(DENO_VERSION)")
IMAGE ?= sequencer
API_PORT ?= 3000
DEBUG_PORT ?= 3001
# Extra `docker run` flags, e.g. make docker-run DOCKER_FLAGS="-e ENVIRONMENT=staging"
DOCKER_FLAGS ?=

.PHONY: run dev test check bench build docker-build docker-run clean

run: ## serve on API_PORT (3000) and DEBUG_PORT (3001), with only the permissions it needs
	$(DENO) task run

dev: ## serve, restarting on file changes
	$(DENO) task dev

test: ## format, lint, type-check and run every test
	$(DENO) task ok

check: ## format, lint and type-check only
	$(DENO) task check

bench: ## side-by-side benchmark; writes docs/benchmarks.md
	$(DENO) task bench

# The binary's permissions are fixed when it is built, from the configuration in the environment
# then (DATA_DIR, LOCK_DIR, ports, hosts, DATABASE_URL, token and TLS files): build it with the
# environment it will run with.
build: ## a single executable: bin/sequencer
	$(DENO) compile --unstable-net --no-prompt \
		$$($(DENO) run --no-prompt --allow-env cmd/permissions/main.ts --compiled) \
		--include internal/app/api_worker.ts --include internal/store/sqlite_worker.ts \
		--output bin/sequencer cmd/app/main.ts

docker-build: ## the container image
	docker build -t $(IMAGE) .

docker-run: ## the seed's docker run, env overridable with DOCKER_FLAGS="-e NAME=value"
	docker run --rm -p $(API_PORT):$(API_PORT) -p $(DEBUG_PORT):$(DEBUG_PORT) \
		-e API_PORT=$(API_PORT) -e DEBUG_PORT=$(DEBUG_PORT) $(DOCKER_FLAGS) $(IMAGE)

clean:
	rm -rf bin
