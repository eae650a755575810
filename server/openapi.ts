import { generateOpenApiDocument } from 'trpc-to-openapi';
import type { AnyTRPCRouter } from '@trpc/server';

export const MLFLOW_BASE = '/api/v4/projects/{id}/ml/mlflow/api/2.0/mlflow';

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: {
    error_code: { type: 'string', example: 'RESOURCE_DOES_NOT_EXIST' },
    message: { type: 'string' },
  },
  additionalProperties: false,
};

/** The OpenAPI document of the REST facade, generated from the router's `meta.openapi` and zod schemas. */
export function buildOpenApiDocument(appRouter: AnyTRPCRouter, version: string, publicUrl?: string) {
  const doc: any = generateOpenApiDocument(appRouter, {
    title: 'mltrack MLflow tracking API',
    description:
      'MLflow tracking REST API served per project. Set MLFLOW_TRACKING_URI to <host>/api/v4/projects/<id>/ml/mlflow ' +
      'and MLFLOW_TRACKING_TOKEN to a personal access token.',
    version,
    baseUrl: (publicUrl ?? '') + MLFLOW_BASE,
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer' },
      privateToken: { type: 'apiKey', in: 'header', name: 'PRIVATE-TOKEN' },
    },
  });
  doc.servers = [
    {
      url: (publicUrl ?? '') + MLFLOW_BASE,
      description: 'A project, by numeric id or URL-encoded full path',
      variables: { id: { default: '1', description: 'project id or URL-encoded path (group%2Fproject)' } },
    },
  ];
  doc.components ??= {};
  doc.components.schemas = { ...(doc.components.schemas ?? {}), MlflowError: ERROR_SCHEMA };
  // Every error answer is MLflow's {error_code, message}, not tRPC's error shape.
  for (const item of Object.values<any>(doc.paths ?? {})) {
    for (const op of Object.values<any>(item)) {
      if (!op?.responses) continue;
      for (const [status, resp] of Object.entries<any>(op.responses)) {
        if (status === '200') continue;
        op.responses[status] = {
          description: resp.description ?? 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/MlflowError' } } },
        };
      }
      op.responses.default = {
        description: 'MLflow error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/MlflowError' } } },
      };
    }
  }
  return doc;
}
