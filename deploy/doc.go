// Package deploy holds the tests of the lottery's Docker Compose
// deployment: the images (server/Dockerfile, client/Dockerfile), the compose
// file that generar-compose.sh writes, the storage override
// (docker-compose.storage.yaml) and validar-servidor.sh. It has no code of
// its own; see docs/DEPLOY.md for the commands these tests exercise.
//
// The tests drive docker and compose with os/exec. They skip, saying why,
// when `docker info` fails, when neither `docker compose` nor
// `docker-compose` is installed, under -short, or when containers named
// server or clientI of another compose project (such as a deployment made
// with `make docker-compose-up`) are in the way. Otherwise the first of
// them builds the binaries and both images once (`make docker-image`).
//
// Each test runs its own compose project, named tp0test plus a random
// suffix, from a temporary directory that holds the generated compose file,
// copies of server/config.ini and client/config.yaml, and its own .data, so
// the repository's .data is never touched. Every test removes its
// containers, network and volumes when it ends, also when it fails (also
// the central's anonymous volumes that a plain down left behind), and
// checks that nothing is left. Because compose files name their containers
// (server, client1, ...), two deployments cannot run at once: the tests run
// one after another, and a lock file in the temporary directory keeps two
// `go test` processes on one machine from overlapping.
//
// TestComposeCourseDataset and TestComposeCourseConfig need the course
// dataset at ../shared/data/dataset.zip relative to the repository's root,
// and skip where it is absent. TestComposeCourseConfig and
// TestComposeDrawLoggedBeforeWinners write the course's own config.ini and
// config.yaml instead of copies of ours. TestComposeTLS makes its
// certificates with the real bin/server certs and scripts/deploy-certs.sh
// in its own directory, and skips unless run as root (deploy-certs.sh
// gives the containers' keys to 10001); so does TestComposeWinnersPrivate,
// which also builds testdata/winnersprobe (CGO_ENABLED=0 go build) into an
// image FROM scratch, quiniela-winnersprobe:test, removed when it ends.
// TestGenerarCompose needs only bash.
//
// The TestPostgres tests build the database image quiniela-postgres:15
// with scripts/postgres-image.sh and run a primary and a synchronous
// standby with plain docker run, on a network and under names made of the
// test's PID and a random suffix, so they need no compose, no lock and no
// free container name; they remove their containers, volumes and network.
// They skip under -short, without a Docker engine, or where PostgreSQL 15
// is missing and they do not run as root (the script would install it).
//
// The TestComposeReplicas tests run docker-compose-replicas.yaml (three
// centrals over a primary and a synchronous standby, five agencies) as a
// compose project like the others, with a .env holding a random
// POSTGRES_PASSWORD and an override that makes the agencies upload in
// small batches: one kills a central mid-upload, the other the primary,
// then promotes the standby. They need both requireDocker's images and
// lock and the database image, and use the course dataset where present,
// else bin/gendata's files with the course's winners.
package deploy
