// Builds the demo app and the admin dashboard into static files (`demo/dist`, or the directory
// given): index.html, admin.html and assets/. `tollgate dev` serves the committed build; any
// static host can serve it too (set the pages' tollgate-url meta to the API's URL).

import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
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
for (const file of ["index.html", "admin.html"]) await copyFile(join(here, file), join(out, file));
await copyFile(join(here, "demo.css"), join(out, "assets", "demo.css"));
