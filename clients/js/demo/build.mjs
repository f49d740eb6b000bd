// Builds the demo app and the admin dashboard into static files (`demo/dist`, or the directory
// given): index.html, admin.html and assets/. `tollgate dev` serves the committed build; any
// static host can serve it too (set the pages' tollgate-url meta to the API's URL).

import { build } from "esbuild";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const here = import.meta.dirname;
const out = process.argv[2] ?? join(here, "dist");

await rm(out, { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });
await build({
  entryPoints: { app: join(here, "app.tsx"), admin: join(here, "admin.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  legalComments: "eof",
  define: { "process.env.NODE_ENV": '"production"' },
  outdir: join(out, "assets"),
  logLevel: "warning",
});
// One page per entry; the tollgate-url meta names the API when the pages are hosted elsewhere.
const page = (title, script) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<!-- Where Tollgate's API answers; empty: this page's own origin (tollgate dev). -->
<meta name="tollgate-url" content="">
<title>${title}</title>
<link rel="stylesheet" href="assets/demo.css">
</head>
<body>
<div id="root"></div>
<script type="module" src="assets/${script}.js"></script>
</body>
</html>
`;
await writeFile(join(out, "index.html"), page("Tollgate demo", "app"));
await writeFile(join(out, "admin.html"), page("Tollgate admin", "admin"));
await copyFile(join(here, "demo.css"), join(out, "assets", "demo.css"));
