//go:build race

package provisioner_test

// probesPerDraw is how many ids each draw of the agreement property checks.
// The race detector makes every probe about 25 times slower, so a race run
// (make test) checks fewer per draw to stay within seconds.
const probesPerDraw = 3
