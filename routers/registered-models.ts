import { z } from 'zod';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { empty, int64, keyValueIn, requiredString } from './schemas.ts';
import { searchRegisteredModels } from '../db/search/registry.ts';
import { modelVersionOut, registeredModelOut, versionString } from './registry-schemas.ts';
import { invalidParam, notFound } from '../core/errors.ts';
import {
  canonicalStage,
  parseVersion,
  validateAliasName,
  validateDescription,
  validateModelName,
  validateRegistryMaxResults,
  validateRegistryTag,
  REGISTRY_LIMITS,
} from '../core/registry-rules.ts';
import * as models from '../db/registered-models.ts';
import { latestPerStage, loadModelVersions, requireVersion, taggedVersion } from '../db/model-versions.ts';
import type { Db } from '../db/knex.ts';

/**
 * The registry's registered models and aliases (model_registry.proto), per project. Contracts and messages:
 * shared/reference/model-registry.md §3.1 and §3.3.
 */
const MLFLOW = ['MLflow model registry'];

async function one(db: Db, row: models.RegisteredModelRow) {
  const [registered_model] = await models.loadRegisteredModels(db, [row]);
  return { registered_model: registered_model! };
}

const checkTags = (tags: { key: string; value: string }[] | undefined) => {
  for (const t of tags ?? []) validateRegistryTag(t.key, t.value);
  return tags ?? [];
};

/** GitLab's semantic versions of model versions: the tag `gitlab.version`, and a lookup by it through the alias API. */
const GITLAB_VERSION_TAG = 'gitlab.version';
const SEMVER_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

const latestVersionsInput = z.object({ name: requiredString, stages: z.array(z.string()).optional() });
type LatestVersionsInput = z.output<typeof latestVersionsInput>;

/** get-latest-versions, served at POST (what clients call) and GET (their fallback). */
async function getLatestVersions(db: Db, projectId: number, input: LatestVersionsInput) {
  const stages = (input.stages ?? []).map(canonicalStage);
  const model = await models.requireModel(db, projectId, input.name);
  const rows = await models.latestVersions(db, model, stages);
  const out = await loadModelVersions(db, rows, { aliases: true });
  return out.length ? { model_versions: out } : {};
}

export const registeredModelsRouter = router({
  /** SearchRegisteredModels: MLflow's filter grammar for models (name, tags), order_by, keyset-paged. */
  search: readProcedure
    .meta({ openapi: { method: 'GET', path: '/registered-models/search', tags: MLFLOW, summary: 'SearchRegisteredModels' } })
    .input(z.object({ filter: z.string().optional(), max_results: int64.optional(), order_by: z.array(z.string()).optional(), page_token: z.string().optional() }))
    .output(z.object({ registered_models: z.array(registeredModelOut).optional(), next_page_token: z.string().optional() }))
    .query(async ({ ctx, input }) => {
      const maxResults = validateRegistryMaxResults(input.max_results ?? REGISTRY_LIMITS.SEARCH_MODELS_DEFAULT, REGISTRY_LIMITS.SEARCH_MODELS_MAX);
      const page = await searchRegisteredModels(ctx.db, {
        projectId: ctx.project.id, filter: input.filter, orderBy: input.order_by, maxResults, pageToken: input.page_token || undefined,
      });
      const registered_models = await models.loadRegisteredModels(ctx.db, await models.modelRowsByIds(ctx.db, page.ids));
      return { ...(registered_models.length ? { registered_models } : {}), ...(page.nextPageToken ? { next_page_token: page.nextPageToken } : {}) };
    }),

  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/registered-models/create', tags: MLFLOW, summary: 'CreateRegisteredModel' } })
    .input(z.object({ name: requiredString, tags: z.array(keyValueIn).optional(), description: z.string().optional(), deployment_job_id: z.string().optional() }))
    .output(z.object({ registered_model: registeredModelOut }))
    .mutation(async ({ ctx, input }) => {
      validateModelName(input.name);
      const tags = checkTags(input.tags);
      if (input.description) validateDescription(input.description);
      const row = await models.createModel(ctx.db, { projectId: ctx.project.id, name: input.name, description: input.description, tags, creatorId: ctx.user.id });
      return one(ctx.db, row);
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/registered-models/get', tags: MLFLOW, summary: 'GetRegisteredModel' } })
    .input(z.object({ name: requiredString }))
    .output(z.object({ registered_model: registeredModelOut }))
    .query(async ({ ctx, input }) => one(ctx.db, await models.requireModel(ctx.db, ctx.project.id, input.name))),

  rename: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/registered-models/rename', tags: MLFLOW, summary: 'RenameRegisteredModel' } })
    .input(z.object({ name: requiredString, new_name: requiredString }))
    .output(z.object({ registered_model: registeredModelOut }))
    .mutation(async ({ ctx, input }) => {
      validateModelName(input.new_name, 'new_name');
      return one(ctx.db, await models.renameModel(ctx.db, ctx.project.id, input.name, input.new_name));
    }),

  /** UpdateRegisteredModel: the description becomes the request's; absent clears it, as in MLflow. */
  update: writeProcedure
    .meta({ openapi: { method: 'PATCH', path: '/registered-models/update', tags: MLFLOW, summary: 'UpdateRegisteredModel' } })
    .input(z.object({ name: requiredString, description: z.string().optional(), deployment_job_id: z.string().optional() }))
    .output(z.object({ registered_model: registeredModelOut }))
    .mutation(async ({ ctx, input }) => {
      const description = input.description ?? '';
      validateDescription(description);
      return one(ctx.db, await models.updateModelDescription(ctx.db, ctx.project.id, input.name, description));
    }),

  delete: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/registered-models/delete', tags: MLFLOW, summary: 'DeleteRegisteredModel' } })
    .input(z.object({ name: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await models.deleteModel(ctx.db, ctx.project.id, input.name);
      return {};
    }),

  /** POST, yet a read: a read_api token resolves `models:/name/latest` through it. */
  getLatestVersions: readProcedure
    .meta({ openapi: { method: 'POST', path: '/registered-models/get-latest-versions', tags: MLFLOW, summary: 'GetLatestVersions' } })
    .input(latestVersionsInput)
    .output(z.object({ model_versions: z.array(modelVersionOut).optional() }))
    .mutation(({ ctx, input }) => getLatestVersions(ctx.db, ctx.project.id, input)),

  getLatestVersionsGet: readProcedure
    .meta({ openapi: { method: 'GET', path: '/registered-models/get-latest-versions', tags: MLFLOW, summary: 'GetLatestVersions (GET)' } })
    .input(latestVersionsInput)
    .output(z.object({ model_versions: z.array(modelVersionOut).optional() }))
    .query(({ ctx, input }) => getLatestVersions(ctx.db, ctx.project.id, input)),

  setTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/registered-models/set-tag', tags: MLFLOW, summary: 'SetRegisteredModelTag' } })
    .input(z.object({ name: requiredString, key: requiredString, value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const value = input.value ?? '';
      validateRegistryTag(input.key, value);
      await models.setModelTag(ctx.db, ctx.project.id, input.name, input.key, value);
      return {};
    }),

  deleteTag: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/registered-models/delete-tag', tags: MLFLOW, summary: 'DeleteRegisteredModelTag' } })
    .input(z.object({ name: requiredString, key: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      validateRegistryTag(input.key, '');
      await models.deleteModelTag(ctx.db, ctx.project.id, input.name, input.key);
      return {};
    }),

  setAlias: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/registered-models/alias', tags: MLFLOW, summary: 'SetRegisteredModelAlias' } })
    .input(z.object({ name: requiredString, alias: requiredString, version: versionString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      validateAliasName(input.alias, true);
      await models.setAlias(ctx.db, ctx.project.id, input.name, input.alias, parseVersion(input.version));
      return {};
    }),

  deleteAlias: writeProcedure
    .meta({ openapi: { method: 'DELETE', path: '/registered-models/alias', tags: MLFLOW, summary: 'DeleteRegisteredModelAlias' } })
    .input(z.object({ name: requiredString, alias: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      validateAliasName(input.alias, false);
      await models.deleteAlias(ctx.db, ctx.project.id, input.name, input.alias);
      return {};
    }),

  /**
   * GetModelVersionByAlias, as MLflow 3 answers it: the model first (404), then the alias (400, as MLflow), and
   * `latest` (any case) names the first of the latest versions per stage. As GitLab's registry does, a semantic
   * version (`models:/churn@1.2.0`) names the version tagged `gitlab.version` = 1.2.0; MLflow alias names cannot
   * hold dots, so the two never clash.
   */
  getByAlias: readProcedure
    .meta({ openapi: { method: 'GET', path: '/registered-models/alias', tags: MLFLOW, summary: 'GetModelVersionByAlias' } })
    .input(z.object({ name: requiredString, alias: requiredString }))
    .output(z.object({ model_version: modelVersionOut }))
    .query(async ({ ctx, input }) => {
      const semver = SEMVER_RE.test(input.alias);
      if (!semver) validateAliasName(input.alias, false);
      const model = await models.requireModel(ctx.db, ctx.project.id, input.name);
      let version = semver ? await taggedVersion(ctx.db, model.id, GITLAB_VERSION_TAG, input.alias) : await models.aliasVersion(ctx.db, model.id, input.alias);
      if (version === undefined && input.alias.toLowerCase() === 'latest') {
        const latest = (await latestPerStage(ctx.db, [model.id])).get(model.id)?.[0];
        if (!latest) throw notFound(`Latest version not found for model ${input.name}.`);
        version = latest.version;
      }
      if (version === undefined) throw invalidParam(`Registered model alias ${input.alias} not found.`);
      const row = await requireVersion(ctx.db, ctx.project.id, input.name, version);
      const [model_version] = await loadModelVersions(ctx.db, [row], { aliases: true });
      return { model_version: model_version! };
    }),
});
