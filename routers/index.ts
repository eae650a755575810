import { createCallerFactory, router } from './trpc.ts';
import { experimentsRouter } from './experiments.ts';
import { runsRouter } from './runs.ts';
import { metricsRouter } from './metrics.ts';
import { artifactsRouter } from './artifacts.ts';
import { loggedModelsRouter } from './logged-models.ts';
import { adminRouter } from './admin.ts';
import { registeredModelsRouter } from './registered-models.ts';
import { modelVersionsRouter } from './model-versions.ts';
import { uiRouter } from './ui.ts';

/** Every operation of mltrack. MLflow operations carry `meta.openapi` (their REST path); admin ones are tRPC only. */
export const appRouter = router({
  experiments: experimentsRouter,
  runs: runsRouter,
  metrics: metricsRouter,
  artifacts: artifactsRouter,
  loggedModels: loggedModelsRouter,
  registeredModels: registeredModelsRouter,
  modelVersions: modelVersionsRouter,
  admin: adminRouter,
  ui: uiRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
