/**
 * Storage behind the mlflow-artifacts proxy (`/api/2.0/mlflow-artifacts/artifacts/...`).
 * Routes talk only to this interface so another backend (e.g. S3-compatible) can be added later.
 *
 * Conventions for every implementation:
 * - `scope` is a per-project prefix chosen by the server (e.g. `p/12`), `[a-z0-9_-]` segments joined
 *   by `/` (see `validateScope`). Scopes must not nest (`p` and `p/12` would overlap).
 * - `rel` is a client path; implementations pass it through `safeRelativePath` themselves (idempotent),
 *   so routes may hand over either the raw or the already-normalised path. `''` is the scope root.
 * - Errors are `MlflowError`s: 400 INVALID_PARAMETER_VALUE "Invalid path" for unsafe paths,
 *   404 RESOURCE_DOES_NOT_EXIST for missing files, 413 for oversized uploads.
 */

export interface ArtifactFileInfo {
  /** Basename of the entry (MLflow's proxy list returns names relative to the listed directory). */
  path: string;
  is_dir: boolean;
  /** Bytes; only for files. */
  file_size?: number;
}

export interface ArtifactStore {
  /**
   * Streams `body` into `<scope>/<rel>` (overwriting a file; refusing to replace a directory).
   * Written to a temporary name first and renamed into place, so readers never see partial files.
   * If `body` errors or closes before its end, the promise rejects with that error and nothing is left.
   * More than `maxBytes` → `MlflowError` INVALID_PARAMETER_VALUE with HTTP status 413, nothing left.
   * On 413 the body is unpiped but not destroyed, so an HTTP route can still answer (it should send
   * `Connection: close` so the rest of the upload isn't drained).
   */
  put(scope: string, rel: string, body: NodeJS.ReadableStream, maxBytes: number): Promise<{ size: number }>;
  /** A stream of the file. 404 RESOURCE_DOES_NOT_EXIST if missing or a directory. */
  get(scope: string, rel: string, range?: (size: number) => ByteRange | undefined): Promise<{ stream: NodeJS.ReadableStream; size: number; range?: ByteRange }>;
  /** Direct children of a directory, sorted by name; missing directory (or a file) → []. */
  list(scope: string, rel: string): Promise<ArtifactFileInfo[]>;
  /** Deletes a file or a directory tree; missing → ok. `rel = ''` (the whole scope) is refused. */
  delete(scope: string, rel: string): Promise<void>;
  /** `null` if missing; `size` is 0 for directories. */
  stat(scope: string, rel: string): Promise<{ isDir: boolean; size: number } | null>;
}

/** An inclusive byte range of a file (HTTP Range semantics). */
export interface ByteRange {
  start: number;
  end: number;
}
