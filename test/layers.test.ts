import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The direction of imports (DESIGN.md "Layers"): a layer may import itself and the layers below it, never one
 * above. `core/` is the bottom (errors, Python renderings, codecs, entities, MLflow's rules); `db/` and
 * `artifacts/` are storage; `routers/` the procedures; `server/` the HTTP wiring on top. `client/` and `ui/` see
 * the routers only as types. `scripts/` and `test/` may import anything.
 */
const ALLOWED: Record<string, string[]> = {
  core: ['core'],
  db: ['core', 'db'],
  artifacts: ['core', 'artifacts'],
  routers: ['core', 'db', 'artifacts', 'routers'],
  server: ['core', 'db', 'artifacts', 'routers', 'server'],
  client: ['core', 'client'],
  ui: ['ui', 'client'],
};
/** Imports of types only, erased at build time: the typed client and the UI see the AppRouter type. */
const TYPE_ONLY_ALLOWED: Record<string, string[]> = { client: ['routers'], ui: ['routers', 'core'] };

const root = path.resolve(import.meta.dirname, '..');
const IMPORT_RE = /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function sourceFiles(dir: string): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'dist') out.push(...sourceFiles(rel));
    } else if (/\.(ts|tsx)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Every relative import of a file: [target layer, whether the import is of types only, the specifier]. */
function importsOf(file: string, text = fs.readFileSync(path.join(root, file), 'utf8')) {
  const out: { layer: string; typeOnly: boolean; spec: string }[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[3] ?? m[4]!;
    if (!spec.startsWith('.')) continue;
    const target = path.relative(root, path.resolve(root, path.dirname(file), spec));
    out.push({ layer: target.split(path.sep)[0]!, typeOnly: Boolean(m[2]), spec });
  }
  return out;
}

function violations(file: string, text?: string): string[] {
  const layer = file.split(path.sep)[0]!;
  const wrong: string[] = [];
  for (const i of importsOf(file, text)) {
    if (ALLOWED[layer]!.includes(i.layer)) continue;
    if (i.typeOnly && TYPE_ONLY_ALLOWED[layer]?.includes(i.layer)) continue;
    wrong.push(`${file} imports ${i.spec} (${layer} → ${i.layer})`);
  }
  return wrong;
}

describe('layers', () => {
  const files = Object.keys(ALLOWED).flatMap(sourceFiles);

  it('reads the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
    // the check sees imports of every form it must judge
    expect(importsOf('db/runs.ts').some((i) => i.layer === 'core')).toBe(true);
    expect(importsOf('client/index.ts').some((i) => i.layer === 'routers' && i.typeOnly)).toBe(true);
  });

  it('no import points up', () => {
    expect(files.flatMap((f) => violations(f))).toEqual([]);
  });

  it('catches imports against the direction, of every form', () => {
    const probe = [
      "import { createApp } from '../server/app.ts';",
      "import type { AppRouter } from '../routers/index.ts';",
      "export { x } from '../routers/x.ts';",
      "const m = await import('../db/knex.ts');",
    ].join('\n');
    expect(violations('core/probe.ts', probe)).toEqual([
      'core/probe.ts imports ../server/app.ts (core → server)',
      'core/probe.ts imports ../routers/index.ts (core → routers)',
      'core/probe.ts imports ../routers/x.ts (core → routers)',
      'core/probe.ts imports ../db/knex.ts (core → db)',
    ]);
    expect(violations('client/probe.ts', "import type { AppRouter } from '../routers/index.ts';")).toEqual([]);
    expect(violations('client/probe.ts', "import { appRouter } from '../routers/index.ts';")).toEqual([
      'client/probe.ts imports ../routers/index.ts (client → routers)',
    ]);
  });
});
