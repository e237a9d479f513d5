package handlers_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/onlinemeetings/onlinemeetings/gen"
)

// TestSpecIsValid checks openapi.yaml with kin-openapi's own validation, and
// that the spec embedded in gen/ is the same document.
func TestSpecIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatalf("loading openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
	embedded, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(embedded.Paths.Map()), len(doc.Paths.Map()); got != want {
		t.Errorf("embedded spec has %d paths, openapi.yaml %d: run make generate", got, want)
	}
	raw, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(raw), "openapi: 3.0.") {
		t.Errorf("openapi.yaml must be OpenAPI 3.0.x")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if op.Security == nil && len(doc.Security) == 0 {
				t.Errorf("%s %s declares no security requirement", method, path)
			}
			for status, resp := range op.Responses.Map() {
				if status >= "400" && (resp.Ref != "#/components/responses/error") {
					t.Errorf("%s %s: response %s is not the Graph error", method, path, status)
				}
			}
		}
	}
}

// TestEveryOperationIsGuarded sends each operation of the spec without a
// token: every one must answer 401, which proves the per-operation
// middleware (authentication and validation) is attached to every route.
func TestEveryOperationIsGuarded(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			n++
			url := "/v1.0" + strings.NewReplacer("{", "", "}", "").Replace(path)
			r := h.do(method, url, map[string]string{"Content-Type": "application/json"}, strings.NewReader(`{}`))
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s (%s %s) without a token = %d, want 401", op.OperationID, method, url, r.status)
			}
		}
	}
	if n == 0 {
		t.Fatal("the spec has no operations")
	}
}
