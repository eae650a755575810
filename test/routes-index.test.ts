import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderRouteIndex, ROUTES_FILE } from '../scripts/routes.ts';
import { restRoutes } from '../server/rest.ts';
import { appRouter } from '../routers/index.ts';

describe('ROUTES.md', () => {
  it('is current: `npm run routes` rewrites it from the router', () => {
    expect(fs.readFileSync(ROUTES_FILE, 'utf8')).toBe(renderRouteIndex());
  });

  it('lists every REST route once, with the file that declares it', () => {
    const text = renderRouteIndex();
    const routes = restRoutes(appRouter);
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      const row = text.split('\n').filter((l) => l.startsWith(`| ${r.method.toUpperCase()} | \`${r.path}\` |`));
      expect(row, `${r.method} ${r.path}`).toHaveLength(1);
      const file = /\[(routers\/[^\]]+)\]/.exec(row[0]!)![1]!;
      expect(fs.readFileSync(file, 'utf8')).toContain(`path: '${r.path}'`);
    }
    expect(text).toContain('| POST | `/runs/log-batch` | LogBatch | `runs.logBatch` | [routers/runs.ts](routers/runs.ts) |');
    expect(text).toContain('| POST | `/runs/search` | SearchRuns | `runs.search` | [routers/search.ts](routers/search.ts) |');
  });
});
