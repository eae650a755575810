import express, { type Request, type Response } from 'express';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../core/config.ts';

/** ui/dist is one level up from server/ and two from the compiled dist/server/ (as package.json, see version.ts). */
const DIST = ['../ui/dist/', '../../ui/dist/']
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((dir) => existsSync(dir)) ?? fileURLToPath(new URL('../ui/dist/', import.meta.url));

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The web UI (ui/, built by `npm run build:ui` into ui/dist). Only two exact paths answer with index.html, so no API
 * path can ever fall through to it: `/` (the root project) and `/api/v4/projects/:id/ml/mlflow/` (the address the
 * MLflow client prints, followed by `#/experiments/...`). Hashed files under /assets are immutable for a year;
 * index.html is never cached, so a new build is picked up at the next load.
 */
export function uiRoutes(config: Config) {
  let cached: { mtime: number; html: string } | undefined;
  const index = (): string | undefined => {
    try {
      const path = DIST + 'index.html';
      const mtime = statSync(path).mtimeMs;
      if (!cached || cached.mtime !== mtime) cached = { mtime, html: readFileSync(path, 'utf8') };
      return cached.html;
    } catch {
      return undefined;
    }
  };
  const send = (project: string) => (req: Request, res: Response) => {
    const html = index();
    res.setHeader('Cache-Control', 'no-cache');
    if (!html) return void res.status(503).type('text/plain').send('The web UI is not built: run `npm run build:ui` (npm start does it).');
    res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-src 'self' blob:; worker-src 'self' blob:; frame-ancestors 'none'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.type('html').send(html.replace('<!--mltrack-project-->', `<meta name="mltrack-project" content="${escapeAttr(project)}" />`));
  };
  const r = express.Router({ strict: true });
  r.use('/assets', express.static(DIST + 'assets', { immutable: true, maxAge: '1y', index: false }), (_req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });
  r.get('/', send(config.rootProject));
  r.get('/api/v4/projects/:id/ml/mlflow/', (req, res) => send(String(req.params.id))(req, res));
  r.get('/api/v4/projects/:id/ml/mlflow', (req, res) => void res.redirect(301, `${req.originalUrl.split('?')[0]}/`));
  return r;
}
