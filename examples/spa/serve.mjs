// A static server for the SPA on a loopback port: `/` and `/callback` are the two pages,
// `/config.js` carries the issuer and client id (from the environment).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export function serveSpa({ port = 0, issuer, clientId }) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (path === "/config.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(`export const ISSUER = ${JSON.stringify(issuer)};\nexport const CLIENT_ID = ${JSON.stringify(clientId)};\n`);
      return;
    }
    const file = path === "/" ? "index.html" : path === "/callback" ? "callback.html" : normalize(path).replace(/^\/+/, "");
    if (file.startsWith("..")) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(here, file));
      const type = file.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8";
      res.writeHead(200, { "content-type": type });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT || 5173);
  const server = await serveSpa({ port, issuer: process.env.ISSUER, clientId: process.env.CLIENT_ID });
  console.log(`SPA on http://localhost:${server.address().port}/`);
}
