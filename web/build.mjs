// Bundles the UI into dist/ (index.html, assets/app.js, assets/app.css, the link worker; the
// favicon inline), which berthd's build.rs embeds. Prints the bundle size.
import { build } from "esbuild";
import { mkdirSync, statSync, rmSync, readdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/assets", { recursive: true });
await build({
  entryPoints: { app: "src/main.ts", "link-worker": "src/link.worker.ts" },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outdir: "dist/assets",
  splitting: true,
  chunkNames: "chunk-[hash]",
  legalComments: "none",
  logLevel: "warning",
});
// The favicon goes into the page as a data: URL: nothing to fetch (a browser asks for it at
// odd times, e.g. while berthd is down, which would be a console error).
const icon = `data:image/svg+xml,${encodeURIComponent(readFileSync("src/favicon.svg", "utf8").trim())}`;
writeFileSync("dist/index.html", readFileSync("src/index.html", "utf8").replace('href="/assets/favicon.svg"', `href="${icon}"`));
// esbuild puts every stylesheet (xterm.js's and uPlot's too) into app.css; the per-chunk
// copies are never loaded.
for (const f of readdirSync("dist/assets")) if (/^chunk-.*\.css$/.test(f)) rmSync(`dist/assets/${f}`);
// berthd serves the .gz beside a file to browsers that accept gzip.
let total = 0;
let gz = 0;
const files = ["index.html", ...readdirSync("dist/assets").map((f) => `assets/${f}`)];
for (const f of files) {
  const size = statSync(`dist/${f}`).size;
  const zipped = gzipSync(readFileSync(`dist/${f}`), { level: 9 });
  writeFileSync(`dist/${f}.gz`, zipped);
  const z = zipped.length;
  total += size;
  gz += z;
  console.log(`${f.padEnd(28)} ${(size / 1024).toFixed(1).padStart(7)} KiB (${(z / 1024).toFixed(1)} KiB gzip)`);
}
console.log(`${"total".padEnd(28)} ${(total / 1024).toFixed(1).padStart(7)} KiB (${(gz / 1024).toFixed(1)} KiB gzip)`);
