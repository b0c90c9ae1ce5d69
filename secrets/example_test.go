package secrets_test

import (
	"fmt"
	"log"

	"github.com/modelgate/modelgate/secrets"
)

func ExampleKeyring() {
	// In production the key comes from KeyringFromEnv or LoadOrCreateKeyFile.
	key, err := secrets.ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		log.Fatal(err)
	}
	k, err := secrets.NewKeyring(key)
	if err != nil {
		log.Fatal(err)
	}
	sealed, err := k.Seal(secrets.ScopeWorkspace, "acme/0b6d4e2a", "ANTHROPIC_API_KEY", []byte("sk-ant-example"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sealed.KeyID == k.CurrentKeyID(), len(sealed.Ciphertext))

	// The same ciphertext does not open as another workspace's secret.
	if _, err := k.Open(secrets.ScopeWorkspace, "acme/other", "ANTHROPIC_API_KEY", sealed); err != nil {
		fmt.Println("moved: refused")
	}
	value, err := k.Open(secrets.ScopeWorkspace, "acme/0b6d4e2a", "ANTHROPIC_API_KEY", sealed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(value))
	// Output:
	// true 42
	// moved: refused
	// sk-ant-example
}

func ExampleRedactor() {
	r := secrets.NewRedactor("sk-ant-example")
	fmt.Println(r.Redact("driver said: bad key sk-ant-example"))
	// Output: driver said: bad key [REDACTED]
}
