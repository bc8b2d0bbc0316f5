// Serves the app on http://localhost:$PORT: /, /callback and /dashboard are pages, /config.js
// carries ISSUER and CLIENT_ID from .env. No dependencies: `npm start` (or `node server.mjs`).
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const env = Object.fromEntries(
  readFileSync(join(here, ".env"), "utf8")
    .split("\n")
    .filter((l) => l.includes("=") && !l.startsWith("#"))
    .map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]),
);
const port = Number(process.env.PORT || env.PORT || 5173);
const pages = { "/": "index.html", "/callback": "callback.html", "/dashboard": "dashboard.html" };
const modules = ["/lib/pkce.js", "/lib/session.js"];

createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  if (path === "/config.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    return res.end(`export const ISSUER = ${JSON.stringify(env.ISSUER)};\nexport const CLIENT_ID = ${JSON.stringify(env.CLIENT_ID)};\n`);
  }
  const file = pages[path] || (modules.includes(path) ? path.slice(1) : null);
  if (!file) return res.writeHead(404).end("not found");
  res.writeHead(200, { "content-type": file.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8" });
  res.end(readFileSync(join(here, file)));
}).listen(port, "127.0.0.1", () => console.log(`{{APP_NAME}} on http://localhost:${port}/`));
