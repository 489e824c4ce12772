// `npm run build`: the controller as an ES module bundle in dist/ (dist/cli.js, a chunk per command
// loaded when that command runs, chunks they share, source maps), and the status page's assets in dist/assets/.
//
// Why a bundle: Node keeps a module record, a source string and compiled code per loaded file; the
// controller's ~300 files (its own and its dependencies') cost about 12 MB of resident memory more
// than the same code in a few files, in a process that runs for months. Type checking is
// `npm run typecheck` (and `npm test`), not the build's.
//
// Env: BUILD_OUT (default dist), so a build can go elsewhere than the checkout's dist/.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, process.env.BUILD_OUT ?? 'dist');

rmSync(out, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['controllers/cli/cli.ts'],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Why whitespace and syntax minified: Node keeps each file's source as a string (2.5 MB of the
  // controller's heap unminified). Why names kept: a stack trace names the functions without a source
  // map (`--enable-source-maps` parses every map at start, ~6 MB; NODE_OPTIONS turns it on to debug).
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: true,
  // Why external: only `LOG_FORMAT=pretty` loads it, with require, from node_modules.
  external: ['pino-pretty'],
  // Why: bundled CommonJS dependencies call require() (for Node's own modules) inside an ES module.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
cpSync(join(root, 'controllers/http/status/assets'), join(out, 'assets'), { recursive: true });
