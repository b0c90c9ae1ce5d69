package registry_test

import (
	"fmt"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// On codex, gpt-5.5 is listed by the subscription arm and by the API arm;
// the credential names a workspace holds choose between them.
func ExampleCatalog_Derive() {
	c := registry.Default()

	d, _ := c.Derive("codex", "gpt-5.5", nil)
	fmt.Println(d.Provider.Name)

	d, _ = c.Derive("codex", "gpt-5.5", registry.NewNameSet("OPENAI_API_KEY"))
	fmt.Println(d.Provider.Name)

	// The subscription arm is closed: an id it does not list is refused.
	_, err := c.Derive("codex", "gpt-5.6", nil)
	fmt.Println(modelgate.ErrorCode(err))
	// Output:
	// openai-subscription
	// openai-api
	// UNREGISTERED_MODEL_FOR_RUNTIME
}

func ExampleCatalog_Suggest() {
	fmt.Println(registry.Default().Suggest("claude-code", "claude-sonet-4-6"))
	// Output: [claude-sonnet-4-6 claude-sonnet-4-5 anthropic/claude-sonnet-4-6]
}

func ExampleCatalog_Offered() {
	models, _ := registry.Default().Offered("codex", registry.Filter{Billing: "platform"})
	for _, m := range models {
		fmt.Println(m.Model, m.Provider)
	}
	// Output:
	// openai/gpt-5.4 platform
	// openai/gpt-5.4-mini platform
}
