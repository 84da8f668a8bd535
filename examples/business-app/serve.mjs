// Serves the sample business page and the built SDK (sdk/js/dist as /sdk/) on loopback:
//   node examples/business-app/serve.mjs [--port 5847 ...]
// Build the SDK first: (cd sdk/js && npm ci && npm run build), or `make business-app`.
// SPDX-License-Identifier: GPL-3.0-only
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const sdk = join(here, "../../sdk/js/dist");
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css" };
const ports = process.argv.flatMap((a, i, all) => (a === "--port" ? [Number(all[i + 1])] : []));

const server = (port) =>
  createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = path.startsWith("/sdk/") ? join(sdk, path.slice(5)) : join(here, path === "/" ? "index.html" : path);
    if (!file.startsWith(here) && !file.startsWith(sdk)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  }).listen(port, "127.0.0.1", () => console.log(JSON.stringify({ serving: `http://127.0.0.1:${port}/` })));

for (const p of ports.length ? ports : [5847]) server(p);
