export { searchRuns, type SearchRunsQuery, type SearchRunsResult } from './runs.ts';
export { searchExperiments, type SearchExperimentsQuery, type SearchExperimentsResult } from './experiments.ts';
export * from './parse.ts';
