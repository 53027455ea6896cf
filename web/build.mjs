// Bundles the command room's page into bot/web/static/ (app.js, app.css): Leaflet and
// markercluster come from node_modules (npm ci), never from a CDN at run time.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "bot", "web", "static");
const watch = process.argv.includes("--dev");

await build({
  entryPoints: { app: path.join(here, "src", "main.js") },
  bundle: true,
  minify: !watch,
  sourcemap: false,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  // Leaflet's stylesheet names a few PNGs: inlined, since img-src allows data: and the
  // server serves only app.js and app.css.
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  legalComments: "eof",
  logLevel: "warning",
});
console.log("built", path.relative(process.cwd(), path.join(out, "app.js")), "and app.css");
