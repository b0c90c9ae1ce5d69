package provisioner_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/provisioner"
)

// A webhook receiver checks the signature before it trusts the body. The
// secret is the provisioner's --webhook-secret.
func ExampleVerifySignature() {
	const secret = "whsec-example"
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || !provisioner.VerifySignature(secret,
			r.Header.Get(provisioner.HeaderTimestamp), body, r.Header.Get(provisioner.HeaderSignature)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		// Decode a provisioner.WebhookPayload from body and start the
		// workspace, idempotently on its id; a 2xx answer marks it online.
		w.WriteHeader(http.StatusNoContent)
	})
	_ = handler

	// What the webhook driver sends:
	body := []byte(`{"event":"workspace.provision","id":"0b6d…"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := provisioner.Sign(secret, ts, body)
	fmt.Println(provisioner.VerifySignature(secret, ts, body, sig))
	fmt.Println(provisioner.VerifySignature("another secret", ts, body, sig))
	// Output:
	// true
	// false
}
