import { invalidParam } from '../server/errors.ts';

/** MLflow's message for a required parameter that is absent or empty. */
export const missingParam = (name: string) =>
  invalidParam(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);

/** The run id of a request: MLflow accepts `run_id`, and `run_uuid` from older clients. */
export function requireRunId(input: { run_id?: string; run_uuid?: string }): string {
  const id = input.run_id || input.run_uuid;
  if (!id) throw missingParam('run_id');
  return id;
}
