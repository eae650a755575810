import { z } from 'zod';
import { readProcedure, router, writeProcedure } from './trpc.ts';
import { experimentOut, idString, keyValueIn } from './schemas.ts';
import { missingParam } from './errors.ts';
import { notFound } from '../server/errors.ts';
import * as experiments from '../db/experiments.ts';
import { validateArtifactLocation, validateExperimentName, validateExperimentTag } from './validation.ts';

const MLFLOW = ['MLflow experiments'];
const notFoundById = (id: string) => notFound(`No Experiment with id=${id} exists`);

export const experimentsRouter = router({
  create: writeProcedure
    .meta({ openapi: { method: 'POST', path: '/experiments/create', tags: MLFLOW, summary: 'CreateExperiment' } })
    .input(
      z.object({
        name: z.string().optional(),
        artifact_location: z.string().optional(),
        tags: z.array(keyValueIn).optional(),
      }),
    )
    .output(z.object({ experiment_id: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (!input.name) throw missingParam('name');
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
    .input(z.object({ experiment_id: idString.optional() }))
    .output(z.object({ experiment: experimentOut }))
    .query(async ({ ctx, input }) => {
      if (!input.experiment_id) throw missingParam('experiment_id');
      const row = await experiments.getExperimentRowByIid(ctx.db, ctx.project.id, input.experiment_id);
      if (!row) throw notFoundById(input.experiment_id);
      const [experiment] = await experiments.toExperimentsOut(ctx.db, [row]);
      return { experiment: experiment! };
    }),

  getByName: readProcedure
    .meta({ openapi: { method: 'GET', path: '/experiments/get-by-name', tags: MLFLOW, summary: 'GetExperimentByName' } })
    .input(z.object({ experiment_name: z.string().optional() }))
    .output(z.object({ experiment: experimentOut }))
    .query(async ({ ctx, input }) => {
      if (!input.experiment_name) throw missingParam('experiment_name');
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
});

