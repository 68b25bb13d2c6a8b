# Docker targets of the lottery, included by the Makefile, which defines
# COMPOSE (`docker compose` where the plugin exists, else `docker-compose`),
# PROJECT (tp0) and BIN. Images are FROM scratch with the static binaries of
# `make build`: nothing is pulled from a registry.
#
#	make docker-image         binaries, then server:latest and client:latest
#	make docker-certs         make certs, then certs-deploy/: the containers' copy
#	                          (no ca.key; keys 0400 owned by 10001, the images' user)
#	make docker-compose-up    images, certificates, sample data where missing, up -d
#	make docker-compose-logs  follow every container's log
#	make docker-compose-down  stop -t 10 (graceful), rm -f -v (the containers and their
#	                          anonymous volumes: the central's store), then down (the network)
#	make postgres-image       quiniela-postgres:15, the database of STORAGE_URL=postgres://
#
# The deployment speaks mutual TLS: docker-compose-tls.yaml, which
# ./generar-compose.sh docker-compose-tls.yaml 5 certs-deploy wrote, mounts
# each container's certificates from certs-deploy/ (docs/DEPLOY.md, "Mutual
# TLS"). COMPOSE_FILES selects other compose files, e.g. the plaintext one
# of the course, or the storage override:
#	make docker-compose-up COMPOSE_FILES="-f docker-compose-dev.yaml"
#	make docker-compose-up COMPOSE_FILES="-f docker-compose-tls.yaml -f docker-compose.storage.yaml"

DOCKER ?= docker
COMPOSE_FILES ?= -f docker-compose-tls.yaml
DOCKER_COMPOSE = $(COMPOSE) -p $(PROJECT) $(COMPOSE_FILES)

docker-image: build
	$(DOCKER) build -f ./server/Dockerfile -t server:latest .
	$(DOCKER) build -f ./client/Dockerfile -t client:latest .

# certs-deploy/ is rebuilt from certs/ each time (a renewed certificate
# reaches the containers at their next recreation; the revocation list,
# certs/crl.pem, the running central within 2 s); ca.key is never copied.
# Giving the keys to 10001 takes root.
docker-certs: certs
	./scripts/deploy-certs.sh certs certs-deploy

docker-compose-up: docker-image docker-certs
	$(BIN)/gendata -dir .data -agencies 5 -missing-only
	$(DOCKER_COMPOSE) up -d

# rm -v removes the anonymous volumes of the containers (the lottery's bets,
# which a plain down would leave behind, unused) and never a named volume,
# so the storage override's volume is kept, as with a plain down.
docker-compose-down:
	$(DOCKER_COMPOSE) stop -t 10
	$(DOCKER_COMPOSE) rm -f -v
	$(DOCKER_COMPOSE) down

docker-compose-logs:
	$(DOCKER_COMPOSE) logs -f

# postgres-image builds quiniela-postgres:15 offline from this machine's
# Debian PostgreSQL 15 and cmd/pgentrypoint (docs/DEPLOY.md, "PostgreSQL");
# it returns at once when the image is up to date.
.PHONY: postgres-image
postgres-image:
	./scripts/postgres-image.sh
