package httpapi

import (
	"embed"
	"net/http"
)

// The documentation pages are served from files embedded in the binary:
// Swagger UI (npm swagger-ui-dist 5.35.0) and ReDoc (npm redoc 2.5.4), both
// MIT/Apache licensed (see docsassets/LICENSE-*). No page loads anything
// from another host, and the content security policy forbids it.
//
//go:embed docsassets
var docsAssets embed.FS

const swaggerPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Super Agent API — Swagger UI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`

const swaggerInit = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,
  tryItOutEnabled: true
});`

const redocPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Super Agent API — ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="/openapi.json" disable-search="false" hide-download-button="false"></redoc>
<script src="/redoc/redoc.standalone.js"></script></body></html>`

func (s *Server) registerDocs() {
	page := func(body, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write([]byte(body))
		}
	}
	asset := func(name, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := docsAssets.ReadFile("docsassets/" + name)
			if err != nil {
				writeProblem(w, newProblem(r.Context(), http.StatusNotFound, "no such file"))
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "public, max-age=86400")
			_, _ = w.Write(b)
		}
	}
	s.router.Get("/docs", page(swaggerPage, "text/html; charset=utf-8"))
	s.router.Get("/docs/init.js", page(swaggerInit, "text/javascript; charset=utf-8"))
	s.router.Get("/docs/swagger-ui.css", asset("swagger-ui.css", "text/css; charset=utf-8"))
	s.router.Get("/docs/swagger-ui-bundle.js", asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8"))
	s.router.Get("/redoc", page(redocPage, "text/html; charset=utf-8"))
	s.router.Get("/redoc/redoc.standalone.js", asset("redoc.standalone.js", "text/javascript; charset=utf-8"))
}
