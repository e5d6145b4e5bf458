// Package deployment holds the files that run htlog outside a developer's
// machine: the Docker Compose stack (docker-compose.yml and compose/), the
// Kubernetes manifests (kubernetes/) and the local scripts (local/). It has no
// Go code of its own; deployment_test.go checks that the files parse and are
// consistent with each other and with the daemons' configuration keys.
package deployment
