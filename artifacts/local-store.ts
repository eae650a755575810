/**
 * Filesystem implementation of ArtifactStore: `<rootDir>/<scope>/<rel>`.
 *
 * Safety model:
 * - every `rel` goes through `safeRelativePath` and `joinInside` (lexical containment);
 * - every path actually touched is `realpath`-ed (the path itself if it exists, otherwise its nearest
 *   existing ancestor) and must stay inside the real scope directory, which itself must stay inside
 *   realpath(rootDir). A symlink leading out of the scope (to /etc, or to another project's scope)
 *   yields 400 "Invalid path"; the store never reads, writes, lists or deletes through it.
 *   Symlinks whose target stays inside the scope are followed; dangling ones are refused.
 * - files are opened with O_NOFOLLOW; uploads go to `.<name>.upload-<random>` (O_EXCL) in the
 *   target's real parent directory and are renamed into place; temp files are hidden from `list`
 *   and their names are refused as artifact paths. Servers sharing ARTIFACTS_DIR therefore never mix two
 *   uploads of one path (the last rename wins whole) and a reader keeps the file it opened; a temp file
 *   orphaned by a killed server is swept once it is an hour old (sweepStaleTemps).
 *
 * Longer than most files on purpose: one class behind one interface, and the safety model above is easier to
 * check when every filesystem call it governs is in this one file.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { Transform, finished } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MlflowError, notFound } from '../core/errors.ts';
import { invalidPath, isInside, joinInside, safeRelativePath, validateScope } from './paths.ts';
import type { ArtifactFileInfo, ArtifactStore, ByteRange } from './store.ts';

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fsc.O_NONBLOCK ?? 0; // never block on a FIFO; irrelevant for regular files
const TEMP_NAME = /^\..*\.upload-[0-9a-f]{16}$/s;

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function isMissing(e: unknown): boolean {
  const c = errCode(e);
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/** Maps filesystem errors caused by the shape of the client's path to 400; others pass through. */
function pathError(e: unknown): unknown {
  const c = errCode(e);
  if (c === 'ENAMETOOLONG' || c === 'ELOOP') return invalidPath();
  return e;
}

function tooLarge(maxBytes: number): MlflowError {
  return new MlflowError('INVALID_PARAMETER_VALUE', `Artifact exceeds the maximum size of ${maxBytes} bytes`, 413);
}

function notFoundError(rel: string): MlflowError {
  return notFound(`Artifact '${rel}' does not exist`);
}

/**
 * Temp files older than this are an upload whose server died (SIGKILL, OOM, power) before it could remove them: a
 * live upload writes to its temp file continually, and Node ends a request that has not finished in 300 s
 * (requestTimeout), so an hour without a write is past any upload still running on any of the servers sharing the
 * folder. They are swept from a folder when an upload lands there, at most once an hour per folder and process.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;
const lastSweep = new Map<string, number>();

async function sweepStaleTemps(dir: string): Promise<void> {
  const now = Date.now();
  if ((lastSweep.get(dir) ?? 0) > now - STALE_TEMP_MS) return;
  if (lastSweep.size >= 10_000) lastSweep.clear(); // bounded memory; a folder swept twice costs one readdir
  lastSweep.set(dir, now);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (!TEMP_NAME.test(n)) continue;
    const p = path.join(dir, n);
    const st = await lstatOrNull(p).catch(() => null);
    if (st?.isFile() && st.mtimeMs < now - STALE_TEMP_MS) await fs.rm(p, { force: true }).catch(() => {});
  }
}

function tempNameFor(name: string): string {
  // keep the temp name under NAME_MAX (255 bytes) whatever the target's length
  const short = Array.from(name).slice(0, 48).join('');
  return `.${short}.upload-${randomBytes(8).toString('hex')}`;
}

/** realpath, or null if the path (or a parent) doesn't exist. */
async function realOrNull(p: string): Promise<string | null> {
  try {
    return await fs.realpath(p);
  } catch (e) {
    if (isMissing(e)) return null;
    throw pathError(e);
  }
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if (isMissing(e)) return null;
    throw pathError(e);
  }
}

export class LocalArtifactStore implements ArtifactStore {
  private readonly rootDir: string;
  private rootReal: Promise<string> | undefined;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  /** realpath(rootDir), creating it on first use. */
  private realRoot(): Promise<string> {
    if (!this.rootReal) {
      this.rootReal = (async () => {
        await fs.mkdir(this.rootDir, { recursive: true });
        return fs.realpath(this.rootDir);
      })();
      this.rootReal.catch(() => {
        this.rootReal = undefined; // retry next time
      });
    }
    return this.rootReal;
  }

  /** Walks up from `p` to the nearest existing ancestor and asserts its real path is inside `base`. */
  private async assertNearestInside(p: string, base: string): Promise<void> {
    let cur = p;
    for (;;) {
      const real = await realOrNull(cur);
      if (real !== null) {
        if (!isInside(base, real)) throw invalidPath();
        return;
      }
      if (cur === base) return; // base itself vanished; mkdir will recreate it
      const up = path.dirname(cur);
      if (up === cur || !isInside(base, up)) throw invalidPath();
      cur = up;
    }
  }

  /** Real scope directory (checked inside the real root); null if it doesn't exist and !create. */
  private async scopeDir(scope: string, create: boolean): Promise<string | null> {
    const root = await this.realRoot();
    const dir = joinInside(root, validateScope(scope));
    if (create) {
      await this.assertNearestInside(dir, root);
      try {
        await fs.mkdir(dir, { recursive: true });
      } catch (e) {
        throw errCode(e) === 'EEXIST' || errCode(e) === 'ENOTDIR' ? invalidPath() : pathError(e);
      }
    }
    const real = await realOrNull(dir);
    if (real === null) return null;
    if (!isInside(root, real)) throw invalidPath();
    return real;
  }

  /** Normalised client path; refuses our own temp-file names. */
  private rel(raw: string): string {
    const rel = safeRelativePath(raw);
    if (rel !== '' && rel.split('/').some((seg) => TEMP_NAME.test(seg))) throw invalidPath();
    return rel;
  }

  /**
   * Resolves an existing entry: its real path (inside the real scope dir) or null if missing.
   * Dangling symlinks count as missing for reads; anything resolving outside the scope throws 400.
   */
  private async locate(scope: string, rel: string): Promise<{ scopeReal: string; real: string } | null> {
    const scopeReal = await this.scopeDir(scope, false);
    if (scopeReal === null) return null;
    const full = joinInside(scopeReal, rel);
    const real = await realOrNull(full);
    if (real === null) {
      // missing: still refuse paths that would go through a symlink leading outside
      await this.assertNearestInside(path.dirname(full), scopeReal);
      return null;
    }
    if (!isInside(scopeReal, real)) throw invalidPath();
    return { scopeReal, real };
  }

  async put(scope: string, rawRel: string, body: NodeJS.ReadableStream, maxBytes: number): Promise<{ size: number }> {
    const rel = this.rel(rawRel);
    if (rel === '') throw invalidPath();
    if (typeof maxBytes !== 'number' || Number.isNaN(maxBytes) || maxBytes < 0) {
      throw new TypeError('maxBytes must be a non-negative number');
    }
    const scopeReal = (await this.scopeDir(scope, true))!;
    const full = joinInside(scopeReal, rel);
    const parent = path.dirname(full);
    const name = path.basename(full);

    await this.assertNearestInside(parent, scopeReal);
    try {
      await fs.mkdir(parent, { recursive: true });
    } catch (e) {
      const c = errCode(e);
      if (c === 'EEXIST' || c === 'ENOTDIR' || c === 'ENOENT') {
        throw new MlflowError('INVALID_PARAMETER_VALUE', `Cannot write '${rel}': a parent path is not a directory`);
      }
      throw pathError(e);
    }
    const parentReal = await fs.realpath(parent).catch((e) => {
      throw pathError(e);
    });
    if (!isInside(scopeReal, parentReal)) throw invalidPath();
    const target = path.join(parentReal, name);

    const existing = await lstatOrNull(target);
    if (existing?.isSymbolicLink()) {
      const real = await realOrNull(target);
      if (real === null || !isInside(scopeReal, real)) throw invalidPath();
    }
    const existingTarget = existing?.isSymbolicLink() ? await fs.stat(target) : existing;
    if (existingTarget?.isDirectory()) {
      throw new MlflowError('INVALID_PARAMETER_VALUE', `Cannot write '${rel}': it is a directory`);
    }

    const tmp = path.join(parentReal, tempNameFor(name));
    const handle = await fs
      .open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o644)
      .catch((e) => {
        throw pathError(e);
      });
    let size = 0;
    const limiter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxBytes) cb(tooLarge(maxBytes));
        else cb(null, chunk);
      },
    });
    try {
      await pump(body, limiter, handle.createWriteStream());
      await fs.rename(tmp, target);
    } catch (e) {
      await handle.close().catch(() => {});
      await fs.rm(tmp, { force: true }).catch(() => {});
      const c = errCode(e);
      if (c === 'EISDIR' || c === 'ENOTEMPTY' || c === 'EEXIST') {
        throw new MlflowError('INVALID_PARAMETER_VALUE', `Cannot write '${rel}': it is a directory`);
      }
      throw pathError(e);
    }
    await sweepStaleTemps(parentReal).catch(() => {});
    return { size };
  }

  async get(scope: string, rawRel: string, pick?: (size: number) => ByteRange | undefined): Promise<{ stream: NodeJS.ReadableStream; size: number; range?: ByteRange }> {
    const rel = this.rel(rawRel);
    const found = rel === '' ? null : await this.locate(scope, rel);
    if (found === null) throw notFoundError(rel);
    const { real } = found;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(real, fsc.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (e) {
      // ELOOP: swapped for a symlink since realpath; EISDIR on some platforms
      if (isMissing(e) || errCode(e) === 'ELOOP' || errCode(e) === 'EISDIR') throw notFoundError(rel);
      throw pathError(e);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw notFoundError(rel);
      // 1 MiB reads (MLflow streams 1 MiB chunks too): about twice the download throughput of the 64 KiB default
      const range = pick?.(st.size);
      if (range) return { stream: handle.createReadStream({ highWaterMark: 1024 * 1024, start: range.start, end: range.end }), size: st.size, range };
      return { stream: handle.createReadStream({ highWaterMark: 1024 * 1024 }), size: st.size };
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  async list(scope: string, rawRel: string): Promise<ArtifactFileInfo[]> {
    const rel = this.rel(rawRel);
    const found = await this.locate(scope, rel);
    if (found === null) return [];
    const { scopeReal, real: dirReal } = found;
    let entries;
    try {
      entries = await fs.readdir(dirReal, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return []; // vanished, or a file (MLflow lists a file as empty)
      throw pathError(e);
    }
    const infos = await Promise.all(
      entries.map(async (ent): Promise<ArtifactFileInfo | null> => {
        if (TEMP_NAME.test(ent.name)) return null;
        const p = path.join(dirReal, ent.name);
        try {
          if (ent.isSymbolicLink()) {
            const real = await realOrNull(p);
            if (real === null || !isInside(scopeReal, real)) return null; // dangling or leading out
          } else if (!ent.isFile() && !ent.isDirectory()) {
            return null;
          }
          const st = await fs.stat(p);
          if (st.isDirectory()) return { path: ent.name, is_dir: true };
          if (st.isFile()) return { path: ent.name, is_dir: false, file_size: st.size };
          return null;
        } catch (e) {
          if (isMissing(e)) return null; // deleted meanwhile
          throw e;
        }
      }),
    );
    return infos
      .filter((i): i is ArtifactFileInfo => i !== null)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async delete(scope: string, rawRel: string): Promise<void> {
    const rel = this.rel(rawRel);
    if (rel === '') throw invalidPath();
    const scopeReal = await this.scopeDir(scope, false);
    if (scopeReal === null) return;
    const full = joinInside(scopeReal, rel);
    const parentReal = await realOrNull(path.dirname(full));
    if (parentReal === null) {
      await this.assertNearestInside(path.dirname(full), scopeReal);
      return;
    }
    if (!isInside(scopeReal, parentReal)) throw invalidPath();
    const target = path.join(parentReal, path.basename(full));
    const st = await lstatOrNull(target);
    if (st === null) return;
    if (st.isSymbolicLink()) {
      // removes the link itself, but only links that stay inside the scope
      const real = await realOrNull(target);
      if (real === null || !isInside(scopeReal, real)) throw invalidPath();
    }
    // fs.rm never follows symlinks inside the tree: it unlinks them
    await fs.rm(target, { recursive: true, force: true });
  }

  async stat(scope: string, rawRel: string): Promise<{ isDir: boolean; size: number } | null> {
    const rel = this.rel(rawRel);
    const found = await this.locate(scope, rel);
    if (found === null) return null;
    const st = await fs.stat(found.real).catch((e) => {
      if (isMissing(e)) return null;
      throw pathError(e);
    });
    if (st === null) return null;
    if (st.isDirectory()) return { isDir: true, size: 0 };
    if (st.isFile()) return { isDir: false, size: st.size };
    return null;
  }
}

/**
 * body → limiter → out. Unlike `pipeline(body, …)` this never destroys `body` when the limiter or
 * the file fails (an HTTP route must still be able to answer 413); an error or premature close of
 * `body` rejects the promise.
 */
async function pump(body: NodeJS.ReadableStream, limiter: Transform, out: NodeJS.WritableStream): Promise<void> {
  const stopWatching = finished(body, (err) => {
    if (err) limiter.destroy(err);
  });
  body.pipe(limiter);
  try {
    await pipeline(limiter, out);
  } finally {
    stopWatching();
    body.unpipe(limiter);
  }
}
