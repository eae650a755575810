import { z } from 'zod';
import { searchExperimentsProcedure } from './search.ts';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { empty, experimentOut, keyValueIn, requiredId, requiredString } from './schemas.ts';
import { notFound } from '../core/errors.ts';
import * as experiments from '../db/experiments.ts';
import { validateExperimentName, validateExperimentTag } from '../core/validation.ts';
import { validateArtifactLocation } from '../core/artifact-location.ts';

const MLFLOW = ['MLflow experiments'];
const notFoundById = (id: string) => notFound(`No Experiment with id=${id} exists`);

export const experimentsRouter = router({
  search: searchExperimentsProcedure,

  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/create', tags: MLFLOW, summary: 'CreateExperiment' } })
    .input(
      z.object({
        name: requiredString,
        artifact_location: z.string().optional(),
        tags: z.array(keyValueIn).optional(),
      }),
    )
    .output(z.object({ experiment_id: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.artifact_location) validateArtifactLocation(input.artifact_location);
      validateExperimentName(input.name);
      const tags = input.tags ?? [];
      for (const t of tags) validateExperimentTag(t.key, t.value);
      const experiment_id = await experiments.createExperiment(ctx.db, {
        projectId: ctx.project.id,
        name: input.name,
        artifactLocation: input.artifact_location,
        tags,
        creatorId: ctx.user.id,
      });
      return { experiment_id };
    }),

  get: readProcedure
    .meta({ openapi: { method: 'GET', path: '/experiments/get', tags: MLFLOW, summary: 'GetExperiment' } })
    .input(z.object({ experiment_id: requiredId }))
    .output(z.object({ experiment: experimentOut }))
    .query(async ({ ctx, input }) => {
      const row = await experiments.getExperimentRowByIid(ctx.db, ctx.project.id, input.experiment_id);
      if (!row) throw notFoundById(input.experiment_id);
      const [experiment] = await experiments.toExperimentsOut(ctx.db, [row]);
      return { experiment: experiment! };
    }),

  getByName: readProcedure
    .meta({ openapi: { method: 'GET', path: '/experiments/get-by-name', tags: MLFLOW, summary: 'GetExperimentByName' } })
    .input(z.object({ experiment_name: requiredString }))
    .output(z.object({ experiment: experimentOut }))
    .query(async ({ ctx, input }) => {
      const row = await experiments.getExperimentRowByName(ctx.db, ctx.project.id, input.experiment_name);
      if (!row) throw notFound(`Could not find experiment with name '${input.experiment_name}'`);
      const [experiment] = await experiments.toExperimentsOut(ctx.db, [row]);
      return { experiment: experiment! };
    }),

  /** GitLab 15.6's experiments/list (MLflow 1.x): every experiment of the project, newest first. */
  list: readProcedure
    .meta({ openapi: { method: 'GET', path: '/experiments/list', tags: MLFLOW, summary: 'ListExperiments (GitLab)' } })
    .input(z.object({}))
    .output(z.object({ experiments: z.array(experimentOut) }))
    .query(async ({ ctx }) => {
      const rows = await experiments.listExperimentRows(ctx.db, ctx.project.id);
      return { experiments: await experiments.toExperimentsOut(ctx.db, rows) };
    }),

  /** UpdateExperiment: renames. A deleted experiment cannot be renamed; a name held by another experiment clashes. */
  update: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/update', tags: MLFLOW, summary: 'UpdateExperiment' } })
    .input(z.object({ experiment_id: requiredId, new_name: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      validateExperimentName(input.new_name);
      await experiments.renameExperiment(ctx.db, ctx.project.id, input.experiment_id, input.new_name);
      return {};
    }),

  /** DeleteExperiment: soft delete; the experiment's runs are marked deleted too, and its name stays taken. */
  delete: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/delete', tags: MLFLOW, summary: 'DeleteExperiment' } })
    .input(z.object({ experiment_id: requiredId }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await experiments.setExperimentLifecycle(ctx.db, ctx.project.id, input.experiment_id, 'deleted');
      return {};
    }),

  /** RestoreExperiment: the experiment and all its runs become active again. */
  restore: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/restore', tags: MLFLOW, summary: 'RestoreExperiment' } })
    .input(z.object({ experiment_id: requiredId }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await experiments.setExperimentLifecycle(ctx.db, ctx.project.id, input.experiment_id, 'active');
      return {};
    }),

  setExperimentTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/set-experiment-tag', tags: MLFLOW, summary: 'SetExperimentTag' } })
    .input(z.object({ experiment_id: requiredId, key: requiredString, value: z.string().optional() }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      const value = input.value ?? '';
      validateExperimentTag(input.key, value);
      await experiments.setExperimentTag(ctx.db, ctx.project.id, input.experiment_id, input.key, value);
      return {};
    }),

  deleteExperimentTag: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/delete-experiment-tag', tags: MLFLOW, summary: 'DeleteExperimentTag' } })
    .input(z.object({ experiment_id: requiredId, key: requiredString }))
    .output(empty)
    .mutation(async ({ ctx, input }) => {
      await experiments.deleteExperimentTag(ctx.db, ctx.project.id, input.experiment_id, input.key);
      return {};
    }),
});
