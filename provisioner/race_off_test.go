//go:build !race

package provisioner_test

// probesPerDraw is how many ids each draw of the agreement property checks.
const probesPerDraw = 8
