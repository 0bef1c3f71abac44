import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * Serves one file of the built page from `dir`, refusing anything that would escape it.
 * The page is a handful of files, so a plain read per request beats a caching layer.
 *
 * @example
 * await serveStatic('/usr/lib/node_modules/volwarden/visualizer/dist', '/app.js', res);
 */
export async function serveStatic(dir: string, urlPath: string, res: ServerResponse): Promise<void> {
  const relative = urlPath === '/' ? 'index.html' : decodeSafely(urlPath.slice(1));
  const file = relative === undefined ? undefined : normalize(join(dir, relative));
  if (file === undefined || !(file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep))) {
    sendText(res, 404, 'not found');
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  } catch {
    if (relative === 'index.html') {
      sendText(res, 503, 'the visualizer page is not built: run `node visualizer/build.mjs`');
      return;
    }
    sendText(res, 404, 'not found');
  }
}

/** Plain-text answer used for errors. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

function decodeSafely(path: string): string | undefined {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes('\0') ? undefined : decoded;
  } catch {
    return undefined;
  }
}
