// Development stand-in until the binary embeds web/dist: serves dist with
// the SPA fallback and a strict CSP, and passes /api to the binary.
import { createServer, request } from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';

// The policy web/embed.go serves the app with.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.svg': 'image/svg+xml' };
export function devProxy(dist, apiBase) {
  const api = new URL(apiBase);
  const srv = createServer((req, res) => {
    const path = req.url.split('?')[0];
    if (/^\/(api|health|ready|openapi)/.test(path)) {
      const p = request({ host: api.hostname, port: api.port, path: req.url, method: req.method, headers: { ...req.headers, host: api.host } }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      req.pipe(p);
      return;
    }
    let f = join(dist, path);
    if (!existsSync(f) || statSync(f).isDirectory()) f = join(dist, 'index.html');
    res.writeHead(200, { 'Content-Type': types[extname(f)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP });
    res.end(readFileSync(f));
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ base: `http://127.0.0.1:${srv.address().port}`, close: () => srv.close() })));
}
