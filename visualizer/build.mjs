// Bundles the visualizer page (TypeScript + elkjs) into visualizer/dist/: index.html, app.js, app.css.
// Everything the page needs ships in these files, so it works offline and from a CDN-free daemon.
// Usage: node visualizer/build.mjs
import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const src = `${here}src/`;
const dist = `${here}dist/`;

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: { app: `${src}main.ts`, 'app-style': `${src}app.css` },
  outdir: dist,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  legalComments: 'linked',
  // elk.bundled.js mentions `web-worker` only on its Node.js path; the browser build never loads it.
  external: ['web-worker'],
  logLevel: 'warning',
});
await copyFile(`${dist}app-style.css`, `${dist}app.css`);
await rm(`${dist}app-style.css`);
await copyFile(`${src}index.html`, `${dist}index.html`);
// app.js bundles elkjs (EPL-2.0): its licence ships beside it, since the bundle keeps no comments.
const elkLicense = await readFile(fileURLToPath(new URL('../node_modules/elkjs/LICENSE.md', import.meta.url)), 'utf8');
await writeFile(`${dist}THIRD-PARTY-NOTICES.txt`, `app.js includes elkjs (https://github.com/kieler/elkjs):\n\n${elkLicense}`);
console.log(`visualizer built into ${dist}`);
