// Builds the React-2-EO app and dashboard into the Python package's static folder, then
// checks the size budget: the JavaScript and CSS a page loads first, gzipped, must stay under
// BUDGET_BYTES (map tiles excluded). A page over budget fails the build.
//
//   node build.mjs               build, then check
//   node build.mjs --check-only  check what is already built
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import { feature } from "topojson-client";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "ecointegrity", "web", "static");
const BUDGET_BYTES = 200 * 1024;
const PAGES = { index: "app", dashboard: "dashboard" }; // page -> entry point

function gzipSize(path) {
  return gzipSync(readFileSync(path), { level: 9 }).length;
}

// What a page loads before it can draw: its entry, the chunks the entry imports, its CSS.
function pageAssets(meta, entry) {
  const outputs = meta.outputs;
  const start = Object.keys(outputs).find((o) => outputs[o].entryPoint === `src/${entry}.js`);
  const seen = new Set();
  const visit = (o) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const imp of outputs[o].imports) if (imp.kind === "import-statement") visit(imp.path);
  };
  visit(start);
  const css = outputs[start].cssBundle;
  return { js: start, files: [...seen, ...(css ? [css] : [])], css };
}

// Sizes are measured again from the files on disk, not trusted from the report.
function check(report) {
  const rows = Object.entries(report.pages).map(([page, r]) => ({
    page, files: r.files, gzip_bytes: r.files.reduce((n, f) => n + gzipSize(join(out, f)), 0),
  }));
  let failed = false;
  for (const r of rows) {
    const over = r.gzip_bytes > BUDGET_BYTES;
    failed ||= over;
    console.log(`${r.page.padEnd(10)} ${(r.gzip_bytes / 1024).toFixed(1).padStart(7)} kB gzip of ${(BUDGET_BYTES / 1024).toFixed(0)} kB` +
      `${over ? "  OVER BUDGET" : ""}   (${r.files.join(", ")})`);
  }
  if (failed) {
    console.error(`bundle size budget exceeded (${BUDGET_BYTES} bytes gzipped per page)`);
    process.exit(1);
  }
}

// Text files get brotli (.br) and gzip (.gz) twins, compressed once here at the highest levels
// (as nginx's gzip_static serves them): the server picks one by Accept-Encoding and spends no
// CPU per request. Only where it saves bytes.
const COMPRESSIBLE = /\.(js|css|html|webmanifest|svg|json|txt)$/;

function precompress(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) { precompress(path); continue; }
    if (!COMPRESSIBLE.test(entry.name)) continue;
    const raw = readFileSync(path);
    const br = brotliCompressSync(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length } });
    const gz = gzipSync(raw, { level: 9 });
    if (br.length < raw.length) writeFileSync(`${path}.br`, br);
    if (gz.length < raw.length) writeFileSync(`${path}.gz`, gz);
  }
}

// The base map the app ships with (it works offline; OpenStreetMap is an option): Natural Earth
// country outlines (public domain, via world-atlas), Mexico and Colombia at 1:50m, their
// neighbours at 1:110m, coordinates to 0.01 degrees. About 14 kB gzipped.
const DETAILED = new Set(["Mexico", "Colombia"]);
const REGION = [-118, -5, -66, 33]; // west, south, east, north: the countries' neighbourhood

function basemap() {
  const load = (scale) => {
    const world = JSON.parse(readFileSync(join(here, "node_modules", "world-atlas", `countries-${scale}.json`), "utf8"));
    return feature(world, world.objects.countries).features;
  };
  const near = (geometry) => {
    let hit = false;
    const walk = (c) => {
      if (typeof c[0] === "number") hit ||= c[0] >= REGION[0] && c[0] <= REGION[2] && c[1] >= REGION[1] && c[1] <= REGION[3];
      else c.forEach(walk);
    };
    walk(geometry.coordinates);
    return hit;
  };
  const round = (c) => (typeof c[0] === "number" ? [Math.round(c[0] * 100) / 100, Math.round(c[1] * 100) / 100] : c.map(round));
  const countries = [
    ...load("50m").filter((f) => DETAILED.has(f.properties.name)),
    ...load("110m").filter((f) => !DETAILED.has(f.properties.name) && near(f.geometry)),
  ];
  return {
    type: "FeatureCollection",
    attribution: "Natural Earth",
    features: countries.map((f) => ({
      type: "Feature", properties: { name: f.properties.name },
      geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
    })),
  };
}

async function build() {
  // Build beside the target, then swap: a failed build never leaves a half-written app.
  const staging = `${out}.building`;
  rmSync(staging, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: Object.values(PAGES).map((e) => `src/${e}.js`),
    absWorkingDir: here,
    bundle: true,
    splitting: true,
    format: "esm",
    minify: true,
    target: ["es2020", "chrome90", "firefox90", "safari15"],
    outdir: join(staging, "assets"),
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    assetNames: "[name]-[hash]",
    loader: { ".png": "file", ".svg": "file" },
    metafile: true,
    legalComments: "linked",
    logLevel: "warning",
  });
  const meta = result.metafile;
  const report = { budget_bytes: BUDGET_BYTES, pages: {} };
  // A set: both pages import the shared chunk, and Cache.addAll() rejects a list that names a
  // request twice (the service worker then never installs).
  const shell = new Set(["/", "/dashboard", "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/basemap.json"]);
  for (const [page, entry] of Object.entries(PAGES)) {
    const assets = pageAssets(meta, entry);
    const url = (o) => "/" + relative(staging, join(here, o)).split("\\").join("/");
    let html = readFileSync(join(here, "src", `${page}.html`), "utf8");
    html = html.replace("<!--assets-->",
      (assets.css ? `<link rel="stylesheet" href="${url(assets.css)}">\n  ` : "") +
      `<script type="module" src="${url(assets.js)}"></script>`);
    writeFileSync(join(staging, `${page}.html`), html);
    const files = assets.files.map((o) => join(here, o));
    report.pages[page] = {
      gzip_bytes: files.reduce((n, f) => n + gzipSize(f), 0),
      raw_bytes: files.reduce((n, f) => n + readFileSync(f).length, 0),
      files: assets.files.map((o) => url(o)),
    };
    for (const f of report.pages[page].files) shell.add(f);
  }
  for (const name of readdirSync(join(here, "public"))) copyFileSync(join(here, "public", name), join(staging, name));
  writeFileSync(join(staging, "basemap.json"), JSON.stringify(basemap()));
  // The service worker caches the app shell; its version changes whenever the shell does.
  const shellList = [...shell];
  const version = createHash("sha256").update(JSON.stringify(shellList)).digest("hex").slice(0, 12);
  const sw = readFileSync(join(here, "src", "sw.js"), "utf8")
    .replace("__VERSION__", version)
    .replace("__SHELL__", JSON.stringify(shellList));
  writeFileSync(join(staging, "sw.js"), sw);
  precompress(staging);
  writeFileSync(join(staging, "size-report.json"), JSON.stringify(report, null, 2) + "\n");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(dirname(out), { recursive: true });
  renameSync(staging, out);
  return report;
}

if (process.argv.includes("--check-only")) {
  check(JSON.parse(readFileSync(join(out, "size-report.json"), "utf8")));
} else {
  check(await build());
}
