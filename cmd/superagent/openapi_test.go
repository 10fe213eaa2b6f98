package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/config"
)

// update rewrites the committed OpenAPI document from the served one:
//
//	go test ./cmd/superagent -run TestOpenAPIDocument -update
var update = flag.Bool("update", false, "rewrite api/openapi.json from the document the server serves")

// openAPIFile is the committed copy of the API's description; the web
// app's typed client is generated from it.
var openAPIFile = filepath.Join("..", "..", "api", "openapi.json")

// servedOpenAPI builds the HTTP server exactly as `superagent serve` does
// (every part wired, on a fresh SQLite file) and returns its
// GET /openapi.json answer.
func servedOpenAPI(t *testing.T) []byte {
	t.Helper()
	cfg, err := config.Load([]string{"DATABASE_URL=sqlite://" + filepath.Join(t.TempDir(), "openapi.db"),
		"PASSWORD_HASH_PROFILE=test", "PASSWORD_HASH_HELPERS=false", "LOG_LEVEL=error"}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, io.Discard, role{http: true, workers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rec := httptest.NewRecorder()
	a.http.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d: %s", rec.Code, rec.Body)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
		t.Fatalf("the served document is not JSON: %v", err)
	}
	pretty.WriteByte('\n')
	return pretty.Bytes()
}

// TestOpenAPIDocument keeps api/openapi.json equal to the document the
// server serves. The comparison is of parsed JSON (key order and spacing
// do not matter) and ignores info.version, the build's release name.
func TestOpenAPIDocument(t *testing.T) {
	served := servedOpenAPI(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(openAPIFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(openAPIFile, served, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", openAPIFile)
		return
	}
	committed, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v\nCreate it with: go test ./cmd/superagent -run TestOpenAPIDocument -update", err)
	}
	var want, got any
	if err := json.Unmarshal(committed, &want); err != nil {
		t.Fatalf("%s is not JSON: %v\nRegenerate it with: go test ./cmd/superagent -run TestOpenAPIDocument -update", openAPIFile, err)
	}
	if err := json.Unmarshal(served, &got); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []any{want, got} {
		if info, ok := doc.(map[string]any)["info"].(map[string]any); ok {
			delete(info, "version")
		}
	}
	if diffs := jsonDiff("", want, got); len(diffs) > 0 {
		const most = 25
		more := ""
		if len(diffs) > most {
			more = fmt.Sprintf("\n  … and %d more", len(diffs)-most)
			diffs = diffs[:most]
		}
		t.Fatalf("the served OpenAPI document differs from %s at these JSON pointers:\n  %s%s\n"+
			"If the API change is intended, regenerate the file and commit it:\n"+
			"  go test ./cmd/superagent -run TestOpenAPIDocument -update",
			openAPIFile, strings.Join(diffs, "\n  "), more)
	}
}

// jsonDiff lists where two parsed JSON values differ, as JSON pointers
// with what the committed file has and what the server serves.
func jsonDiff(ptr string, want, got any) []string {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			p := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			w, inW := wm[k]
			g, inG := gm[k]
			switch {
			case !inG:
				out = append(out, p+": only in the committed file")
			case !inW:
				out = append(out, p+": only in the served document")
			default:
				out = append(out, jsonDiff(p, w, g)...)
			}
		}
		return out
	}
	wl, wok := want.([]any)
	gl, gok := got.([]any)
	if wok && gok && len(wl) == len(gl) {
		var out []string
		for i := range wl {
			out = append(out, jsonDiff(fmt.Sprintf("%s/%d", ptr, i), wl[i], gl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s: committed %s, served %s", ptr, short(want), short(got))}
}

// short renders a JSON value for a one-line hint.
func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "…"
	}
	return string(b)
}
