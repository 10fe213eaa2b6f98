package httpapi_test

import (
	"strings"

	"github.com/superagent-hq/superagent/internal/domain"
)

// The provider credential, usage and agent generator routes in the access
// matrix.
func init() {
	provider := func(name func(*matrixWorld, *orgFixture) string) func(*matrixWorld, *orgFixture) map[string]string {
		return func(w *matrixWorld, f *orgFixture) map[string]string {
			return map[string]string{"provider": name(w, f)}
		}
	}
	for op, c := range map[string]matrixCase{
		"set-provider": {params: provider(func(*matrixWorld, *orgFixture) string { return "openai" }),
			body: fixedBody(map[string]string{"api_key": "sk-matrix-0123456789abcdef"})},
		"create-provider": {params: noID, body: fixedBody(map[string]string{"provider": "anthropic", "api_key": "sk-ant-matrix-0123456789"})},
		"list-providers":  {params: noID},
		"delete-provider": {params: provider(freshProvider)},
		"get-usage":       {params: noID},
		"generate-agent":  {params: noID, body: fixedBody(map[string]any{"description": "Summarize support tickets", "model": "mock:echo"})},
	} {
		accessMatrix[op] = c
	}
}

// freshProvider stores a credential under a new provider name in f.
func freshProvider(w *matrixWorld, f *orgFixture) string {
	name := "p" + strings.ReplaceAll(strings.ToLower(domain.NewID("x")[2:14]), "_", "")
	matrixWrite(w, f, func(tx domain.Tx) error {
		_, err := tx.PutProviderCredential(&domain.ProviderCredential{Provider: name, BaseURL: "http://127.0.0.1:9/v1",
			CreatedBy: f.users[domain.RoleAdmin].ID})
		return err
	})
	return name
}
