import { z } from 'zod';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { bool, empty, int64, keyValueIn, requiredString } from './schemas.ts';
import { searchModelVersions } from '../db/search/registry.ts';
import { modelVersionOut, versionString } from './registry-schemas.ts';
import { missingParamPlain } from '../core/errors.ts';
import {
  canonicalStage,
  parseVersion,
  validateDescription,
  validateModelName,
  validateRegistryTag,
  validateVersionRunFields,
  validateVersionSource,
  validateRegistryMaxResults,
  REGISTRY_LIMITS,
} from '../core/registry-rules.ts';
import * as versions from '../db/model-versions.ts';
import { resolveVersionSource } from '../db/model-sources.ts';
import type { Db } from '../db/knex.ts';
import { chunk } from '../db/tx.ts';

/**
 * The registry's model versions (model_registry.proto), per project. Contracts and messages:
 * shared/reference/model-registry.md §3.2.
 */
const MLFLOW = ['MLflow model registry'];

async function one(db: Db, row: versions.ModelVersionRow) {
  const [model_version] = await versions.loadModelVersions(db, [row], { aliases: true });
  return { model_version: model_version! };
}

const nameAndVersion = { name: requiredString, version: versionString };

export const modelVersionsRouter = router({
  /** SearchModelVersions: its own grammar (name, run_id, source_path, version_number, tags), order_by, keyset-paged. */
  search: readProcedure
    .meta({ openapi: { method: 'GET', path: '/model-versions/search', tags: MLFLOW, summary: 'SearchModelVersions' } })
    .input(z.object({ filter: z.string().optional(), max_results: int64.optional(), order_by: z.array(z.string()).optional(), page_token: z.string().optional() }))
    .output(z.object({ model_versions: z.array(modelVersionOut).optional(), next_page_token: z.string().optional() }))
    .query(async ({ ctx, input }) => {
      const maxResults = validateRegistryMaxResults(input.max_results ?? REGISTRY_LIMITS.SEARCH_VERSIONS_DEFAULT, REGISTRY_LIMITS.SEARCH_VERSIONS_MAX);
      const page = await searchModelVersions(ctx.db, {
        projectId: ctx.project.id, filter: input.filter, orderBy: input.order_by, maxResults, pageToken: input.page_token || undefined,
      });
      // search results carry tags but no aliases, as MLflow documents
      const model_versions: Awaited<ReturnType<typeof versions.loadModelVersions>> = [];
      // pages go up to 200,000 versions: load them in slices, each statement binding a bounded number of ids
      for (const ids of chunk(page.ids, 1000)) {
        model_versions.push(...(await versions.loadModelVersions(ctx.db, await versions.versionRowsByIds(ctx.db, ids), { aliases: false })));
      }
      return { ...(model_versions.length ? { model_versions } : {}), ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    }),

  /**
   * CreateModelVersion, in MLflow's order of checks: schema, source safety, tags, `models:/` resolution (and the
   * run, which must be of this project), the model, then the next number. Always READY at once.
   */
  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/model-versions/create', tags: MLFLOW, summary: 'CreateModelVersion' } })
    .input(
      z.object({
        name: requiredString,
        source: requiredString,
        run_id: z.string().optional(),
        tags: z.array(keyValueIn).optional(),
        run_link: z.string().optional(),
        description: z.string().optional(),
        model_id: z.string().optional(),
      }),
    )
    .output(z.object({ model_version: modelVersionOut }))
    .mutation(async ({ ctx, input }) => {
      validateModelName(input.name);
      validateVersionSource(input.source);
      const tags = input.tags ?? [];
      for (const t of tags) validateRegistryTag(t.key, t.value);
      validateVersionRunFields(input.run_id, input.run_link);
      if (input.description) validateDescription(input.description);
      const resolved = await resolveVersionSource(ctx.db, ctx.project.id, {
        source: input.source,
        runId: input.run_id || undefined,
        modelId: input.model_id || undefined,
      });
      const row = await versions.createVersion(ctx.db, {
        projectId: ctx.project.id,
        name: input.name,
        source: input.source,
        storageLocation: resolved.storageLocation,
        runId: resolved.runId,
        runLink: input.run_link,
        description: input.description,
        tags,
        loggedModelId: resolved.loggedModelId,
        loggedModelKey: resolved.loggedModelKey,
        creatorId: ctx.user.id,
      });
      return one(ctx.db, row);
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/model-versions/get', tags: MLFLOW, summary: 'GetModelVersion' } })
    .input(z.object(nameAndVersion))
    .output(z.object({ model_version: modelVersionOut }))
    .query(async ({ ctx, input }) => one(ctx.db, await versions.requireVersion(ctx.db, ctx.project.id, input.name, parseVersion(input.version)))),

  /** UpdateModelVersion: the description is replaced; absent removes it. */
  update: writeProcedure
    .meta({ openapi: { method: 'PATCH', path: '/model-versions/update', tags: MLFLOW, summary: 'UpdateModelVersion' } })
    .input(z.object({ ...nameAndVersion, description: z.string().optional() }))
    .output(z.object({ model_version: modelVersionOut }))
    .mutation(async ({ ctx, input }) => {
      const version = parseVersion(input.version);
      if (input.description) validateDescription(input.description);
      return one(ctx.db, await versions.updateVersionDescription(ctx.db, ctx.project.id, input.name, version, input.description));
    }),

  delete: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/model-versions/delete', tags: MLFLOW, summary: 'DeleteModelVersion' } })
    .input(z.object(nameAndVersion))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await versions.deleteVersion(ctx.db, ctx.project.id, input.name, parseVersion(input.version));
      return {};
    }),

  /** GetModelVersionDownloadUri: no handler schema in MLflow; the store's own "Missing value" has no docs hint. */
  getDownloadUri: readProcedure
    .meta({ openapi: { method: 'GET', path: '/model-versions/get-download-uri', tags: MLFLOW, summary: 'GetModelVersionDownloadUri' } })
    .input(z.object({ name: z.string().optional(), version: z.string().optional() }))
    .output(z.object({ artifact_uri: z.string() }))
    .query(async ({ ctx, input }) => {
      if (!input.name) throw missingParamPlain('name');
      if (!input.version) throw missingParamPlain('version');
      const row = await versions.requireVersion(ctx.db, ctx.project.id, input.name, parseVersion(input.version));
      return { artifact_uri: versions.downloadUri(row) };
    }),

  /** TransitionModelVersionStage (deprecated by MLflow, still served and still called by both clients). */
  transitionStage: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/model-versions/transition-stage', tags: MLFLOW, summary: 'TransitionModelVersionStage' } })
    .input(z.object({ ...nameAndVersion, stage: requiredString, archive_existing_versions: bool.optional() }))
    .output(z.object({ model_version: modelVersionOut }))
    .mutation(async ({ ctx, input }) => {
      const version = parseVersion(input.version);
      const stage = canonicalStage(input.stage);
      const row = await versions.transitionStage(ctx.db, ctx.project.id, input.name, version, stage, input.archive_existing_versions ?? false);
      return one(ctx.db, row);
    }),

  setTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/model-versions/set-tag', tags: MLFLOW, summary: 'SetModelVersionTag' } })
    .input(z.object({ ...nameAndVersion, key: requiredString, value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const version = parseVersion(input.version);
      const value = input.value ?? '';
      validateRegistryTag(input.key, value);
      await versions.setVersionTag(ctx.db, ctx.project.id, input.name, version, input.key, value);
      return {};
    }),

  deleteTag: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/model-versions/delete-tag', tags: MLFLOW, summary: 'DeleteModelVersionTag' } })
    .input(z.object({ ...nameAndVersion, key: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const version = parseVersion(input.version);
      validateRegistryTag(input.key, '');
      await versions.deleteVersionTag(ctx.db, ctx.project.id, input.name, version, input.key);
      return {};
    }),
});
