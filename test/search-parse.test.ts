import { describe, expect, it } from 'vitest';
import { MlflowError } from '../core/errors.ts';
import {
  parseExperimentFilter,
  parseExperimentOrderBy,
  parseRunFilter,
  parseRunOrderBy,
  type ExperimentClause,
  type RunClause,
} from '../db/search/parse.ts';

function invalid(fn: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(MlflowError);
  const e = err as MlflowError;
  expect(e.status).toBe(400);
  expect(e.errorCode).toBe('INVALID_PARAMETER_VALUE');
  expect(e.message).toMatch(message);
}

const num = (text: string) => ({ text, value: Number(text) });

describe('parseRunFilter: valid filters', () => {
  const cases: [string, RunClause[]][] = [
    ['', []],
    ['   ', []],
    // metrics: every numeric comparator, entity aliases, number forms
    ['metrics.loss = 1', [{ kind: 'metric', key: 'loss', op: '=', value: num('1') }]],
    ['metrics.loss != 1.5', [{ kind: 'metric', key: 'loss', op: '!=', value: num('1.5') }]],
    ['metric.loss > -2', [{ kind: 'metric', key: 'loss', op: '>', value: num('-2') }]],
    ['metric.loss >= .5', [{ kind: 'metric', key: 'loss', op: '>=', value: num('.5') }]],
    ['metrics.loss < 1e3', [{ kind: 'metric', key: 'loss', op: '<', value: num('1e3') }]],
    ['metrics.loss <= -1.5E-2', [{ kind: 'metric', key: 'loss', op: '<=', value: num('-1.5E-2') }]],
    ['metrics.loss<=3', [{ kind: 'metric', key: 'loss', op: '<=', value: num('3') }]],
    // params/tags: = != LIKE ILIKE, all aliases, both quote styles, case-insensitive keywords
    ["params.lr = '0.1'", [{ kind: 'param', key: 'lr', op: '=', value: '0.1' }]],
    ['param.lr != "0.1"', [{ kind: 'param', key: 'lr', op: '!=', value: '0.1' }]],
    ["parameter.lr LIKE '0.%'", [{ kind: 'param', key: 'lr', op: 'LIKE', value: '0.%' }]],
    ["parameters.lr ilike '0._'", [{ kind: 'param', key: 'lr', op: 'ILIKE', value: '0._' }]],
    ["tags.team = 'a'", [{ kind: 'tag', key: 'team', op: '=', value: 'a' }]],
    ["tag.team != 'a'", [{ kind: 'tag', key: 'team', op: '!=', value: 'a' }]],
    ["tags.team like 'a%'", [{ kind: 'tag', key: 'team', op: 'LIKE', value: 'a%' }]],
    ["tags.team ILike '%A'", [{ kind: 'tag', key: 'team', op: 'ILIKE', value: '%A' }]],
    // keys: split on the first dot, quoting with backticks and double quotes
    ["tags.mlflow.runName = 'r'", [{ kind: 'tag', key: 'mlflow.runName', op: '=', value: 'r' }]],
    ['metrics."my metric" > 0', [{ kind: 'metric', key: 'my metric', op: '>', value: num('0') }]],
    ["params.`a-b` = 'x'", [{ kind: 'param', key: 'a-b', op: '=', value: 'x' }]],
    ["`params`.`a.b` = 'x'", [{ kind: 'param', key: 'a.b', op: '=', value: 'x' }]],
    ["tags.\"a\"\"b\" = 'x'", [{ kind: 'tag', key: 'a"b', op: '=', value: 'x' }]],
    // values: doubled quotes, SQL keywords and punctuation inside quotes stay literal
    ["tags.t = 'it''s'", [{ kind: 'tag', key: 't', op: '=', value: "it's" }]],
    ["tags.t = 'a AND b OR (c); d'", [{ kind: 'tag', key: 't', op: '=', value: 'a AND b OR (c); d' }]],
    ["tags.t = ''", [{ kind: 'tag', key: 't', op: '=', value: '' }]],
    ["tags.t = 'a\\b'", [{ kind: 'tag', key: 't', op: '=', value: 'a\\b' }]],
    // string attributes, all attribute aliases
    ["attributes.status = 'FINISHED'", [{ kind: 'attribute', key: 'status', op: '=', value: 'FINISHED' }]],
    ["attribute.user_id != 'u'", [{ kind: 'attribute', key: 'user_id', op: '!=', value: 'u' }]],
    ["attr.artifact_uri LIKE 's3://%'", [{ kind: 'attribute', key: 'artifact_uri', op: 'LIKE', value: 's3://%' }]],
    ["run.run_name ILIKE 'x%'", [{ kind: 'attribute', key: 'run_name', op: 'ILIKE', value: 'x%' }]],
    ["run_name = 'x'", [{ kind: 'attribute', key: 'run_name', op: '=', value: 'x' }]],
    ["attributes.`run name` = 'x'", [{ kind: 'attribute', key: 'run_name', op: '=', value: 'x' }]],
    ["\"Run Name\" = 'x'", [{ kind: 'attribute', key: 'run_name', op: '=', value: 'x' }]],
    ["`Run name` = 'x'", [{ kind: 'attribute', key: 'run_name', op: '=', value: 'x' }]],
    ["attributes.run_id = 'abc'", [{ kind: 'attribute', key: 'run_id', op: '=', value: 'abc' }]],
    ["attributes.run_id IN ('a', \"b\")", [{ kind: 'attribute', key: 'run_id', op: 'IN', value: ['a', 'b'] }]],
    ["run_id not  in ('a')", [{ kind: 'attribute', key: 'run_id', op: 'NOT IN', value: ['a'] }]],
    ["attributes.run_id IN('a','b')", [{ kind: 'attribute', key: 'run_id', op: 'IN', value: ['a', 'b'] }]],
    // numeric attributes and the created alias
    ['attributes.start_time >= 1700000000000', [{ kind: 'attribute', key: 'start_time', op: '>=', value: num('1700000000000') }]],
    ['created < 5', [{ kind: 'attribute', key: 'start_time', op: '<', value: num('5') }]],
    ['attributes.Created = 5', [{ kind: 'attribute', key: 'start_time', op: '=', value: num('5') }]],
    ['end_time != 0', [{ kind: 'attribute', key: 'end_time', op: '!=', value: num('0') }]],
    ['attr.end_time > 1', [{ kind: 'attribute', key: 'end_time', op: '>', value: num('1') }]],
    ['end_time <= 9223372036854775807', [{ kind: 'attribute', key: 'end_time', op: '<=', value: num('9223372036854775807') }]],
    // datasets
    ["datasets.name = 'd'", [{ kind: 'dataset', key: 'name', op: '=', value: 'd' }]],
    ["dataset.digest != 'x'", [{ kind: 'dataset', key: 'digest', op: '!=', value: 'x' }]],
    ["datasets.context LIKE 'tr%'", [{ kind: 'dataset', key: 'context', op: 'LIKE', value: 'tr%' }]],
    ["datasets.name ILIKE 'D%'", [{ kind: 'dataset', key: 'name', op: 'ILIKE', value: 'D%' }]],
    ["datasets.name IN ('a','b')", [{ kind: 'dataset', key: 'name', op: 'IN', value: ['a', 'b'] }]],
    ["datasets.context NOT IN ('eval')", [{ kind: 'dataset', key: 'context', op: 'NOT IN', value: ['eval'] }]],
    // conjunctions
    [
      "metrics.a > 1 AND params.b = 'x' and tags.c != 'y'  AnD  attributes.status = 'RUNNING'",
      [
        { kind: 'metric', key: 'a', op: '>', value: num('1') },
        { kind: 'param', key: 'b', op: '=', value: 'x' },
        { kind: 'tag', key: 'c', op: '!=', value: 'y' },
        { kind: 'attribute', key: 'status', op: '=', value: 'RUNNING' },
      ],
    ],
  ];
  it.each(cases)('%s', (filter, expected) => {
    expect(parseRunFilter(filter)).toEqual(expected);
  });

  it('treats undefined and null as no filter', () => {
    expect(parseRunFilter(undefined)).toEqual([]);
    expect(parseRunFilter(null)).toEqual([]);
  });
});

describe('parseRunFilter: invalid filters', () => {
  const cases: [string, string, RegExp][] = [
    ['OR', "metrics.a > 1 OR metrics.b > 2", /Invalid clause\(s\) in filter string: 'OR metrics.b > 2'/],
    ['parentheses', "(metrics.a > 1) AND metrics.b > 2", /Invalid clause\(s\) in filter string/],
    ['parentheses after AND', "metrics.a > 1 AND (metrics.b > 2)", /Invalid clause\(s\) in filter string/],
    ['NOT', 'NOT metrics.a > 1', /Invalid clause\(s\) in filter string/],
    ['trailing AND', 'metrics.a > 1 AND', /Invalid clause\(s\) in filter string/],
    ['leading AND', 'AND metrics.a > 1', /Invalid clause\(s\) in filter string/],
    ['double AND', 'metrics.a > 1 AND AND metrics.b > 1', /Invalid clause\(s\) in filter string/],
    ['trailing garbage', "params.a = 'x' garbage", /Invalid clause\(s\) in filter string: 'garbage'/],
    ['two values', "params.a = 'x' 'y'", /Invalid clause\(s\) in filter string/],
    ['missing value', 'metrics.a >', /Invalid clause\(s\) in filter string/],
    ['missing comparator', 'metrics.a 1', /Invalid clause\(s\) in filter string/],
    ['identifier only', 'metrics.a', /Invalid clause\(s\) in filter string/],
    ['semicolon statement', "params.a = 'x'; params.b = 'y'", /multiple expression/],
    ['trailing semicolon', "params.a = 'x';", /Invalid clause\(s\) in filter string: ';'/],
    ['semicolon only', ';', /multiple expression/],
    ['unknown entity', 'foo.a = 1', /Invalid entity type 'foo'/],
    ['entity is case-sensitive', 'METRICS.a = 1', /Invalid entity type 'METRICS'/],
    ['double-quoted entity', '"metrics".a = 1', /Invalid entity type 'metrics'/],
    ['unknown attribute', "attributes.foo = 'x'", /Invalid attribute key 'foo' specified. Valid keys are/],
    ['bare unknown attribute', "lifecycle_stage = 'x'", /Invalid attribute key 'lifecycle_stage'/],
    ['unknown dataset key', "datasets.source = 'x'", /Invalid dataset key 'source'/],
    ['LIKE on metric', "metrics.a LIKE '1'", /Invalid comparator 'LIKE' for metric/],
    ['IN on metric', "metrics.a IN ('1')", /Invalid comparator 'IN' for metric/],
    ['> on param', "params.a > '1'", /Invalid comparator '>' for param/],
    ['< on tag', "tags.a < 'x'", /Invalid comparator '<' for tag/],
    ['IN on tag', "tags.a IN ('x')", /Invalid comparator 'IN' for tag/],
    ['> on string attribute', "attributes.status > 'A'", /Invalid comparator '>' for string attribute 'status'/],
    ['LIKE on numeric attribute', "attributes.start_time LIKE '1%'", /Invalid comparator 'LIKE' for numeric attribute 'start_time'/],
    ['IN on numeric attribute', "end_time IN ('1')", /Invalid comparator 'IN' for numeric attribute/],
    ['> on dataset', "datasets.name > 'a'", /Invalid comparator '>' for dataset/],
    ['==', 'metrics.a == 1', /Invalid comparator '=='/],
    ['<>', 'metrics.a <> 1', /Invalid comparator '<>'/],
    ['string for metric', "metrics.a > '1'", /Expected numeric value type for metric. Found '1'/],
    ['word for metric', 'metrics.a > abc', /Expected numeric value type for metric/],
    ['string for numeric attribute', "start_time > '1'", /Expected numeric value type for numeric attribute: start_time/],
    ['unquoted string for param', 'params.a = abc', /not quoted or unidentified quote types used for string value abc/],
    ['backticked value', 'params.a = `abc`', /not quoted or unidentified quote types/],
    ['number for param', 'params.a = 1', /Expected a quoted string value for param/],
    ['number for tag', 'tags.a = 1', /Expected a quoted string value for tag/],
    ['unquoted string for attribute', 'attributes.status = FINISHED', /not quoted/],
    ['number for string attribute', 'attributes.status = 1', /Expected a quoted string value for attributes/],
    ['IN on a non-run_id attribute', "attributes.status IN ('A', 'B')", /Only the 'run_id' attribute supports comparison with a list/],
    ['NOT IN on a non-run_id attribute', "attributes.user_id NOT IN ('a')", /Only the 'run_id' attribute/],
    ['IN with a scalar', "attributes.run_id IN 'a'", /Expected a list of quoted string values/],
    ['= with a list', "attributes.run_id = ('a')", /needs the IN or NOT IN comparator/],
    ['empty list', 'attributes.run_id IN ()', /non-empty list/],
    ['number in list', "attributes.run_id IN ('a', 1)", /got different type in list/],
    ['unterminated list', "attributes.run_id IN ('a'", /ill-formed list/],
    ['NOT without IN', "attributes.run_id NOT ('a')", /Invalid clause\(s\) in filter string/],
    ['unterminated string', "params.a = 'x", /unterminated ' quote/],
    ['unterminated key quote', "params.`a = 'x'", /unterminated ` quote/],
    ['mixed quoted key', "tags.mlflow.`runName` = 'x'", /must be quoted as a whole/],
  ];
  it.each(cases)('%s', (_name, filter, message) => {
    invalid(() => parseRunFilter(filter), message);
  });
});

describe('parseRunOrderBy', () => {
  it.each([
    [['metrics.loss'], [{ kind: 'metric', key: 'loss', ascending: true }]],
    [['metrics.loss DESC'], [{ kind: 'metric', key: 'loss', ascending: false }]],
    [['metric.`my metric` asc'], [{ kind: 'metric', key: 'my metric', ascending: true }]],
    [['params."a b" desc'], [{ kind: 'param', key: 'a b', ascending: false }]],
    [['tags.mlflow.runName Desc'], [{ kind: 'tag', key: 'mlflow.runName', ascending: false }]],
    [['start_time ASC'], [{ kind: 'attribute', key: 'start_time', ascending: true }]],
    [['created'], [{ kind: 'attribute', key: 'start_time', ascending: true }]],
    [['attributes.run_name DESC', 'attr.end_time'], [
      { kind: 'attribute', key: 'run_name', ascending: false },
      { kind: 'attribute', key: 'end_time', ascending: true },
    ]],
    [['run.run_id', 'status', 'user_id', 'artifact_uri'], [
      { kind: 'attribute', key: 'run_id', ascending: true },
      { kind: 'attribute', key: 'status', ascending: true },
      { kind: 'attribute', key: 'user_id', ascending: true },
      { kind: 'attribute', key: 'artifact_uri', ascending: true },
    ]],
    [['  metrics.a   DESC  '], [{ kind: 'metric', key: 'a', ascending: false }]],
  ] as const)('%j', (list, expected) => {
    expect(parseRunOrderBy([...list])).toEqual(expected);
  });

  it('is empty for undefined / []', () => {
    expect(parseRunOrderBy(undefined)).toEqual([]);
    expect(parseRunOrderBy([])).toEqual([]);
  });

  it.each([
    ['duplicate', ['metrics.a', 'metrics.a DESC'], /`order_by` contains duplicate fields: \['metrics.a', 'metrics.a DESC'\]/],
    ['duplicate via entity alias', ['metric.a', 'metrics.a'], /`order_by` contains duplicate fields/],
    ['duplicate via attribute alias', ['start_time', 'created DESC'], /`order_by` contains duplicate fields/],
    ['bad direction', ['metrics.a UP'], /Invalid ordering key in order_by clause 'metrics.a UP'/],
    ['three tokens', ['metrics.a ASC DESC'], /Invalid order_by clause 'metrics.a ASC DESC'. Could not be parsed/],
    ['empty', [''], /Could not be parsed/],
    ['punctuation', ['metrics.a,'], /Could not be parsed/],
    ['unknown entity', ['foo.a'], /Invalid entity type 'foo'/],
    ['unknown attribute', ['attributes.lifecycle_stage'], /Invalid attribute key 'lifecycle_stage'/],
    ['dataset', ['datasets.name'], /Invalid order_by entity type 'dataset'/],
  ] as const)('rejects %s', (_name, list, message) => {
    invalid(() => parseRunOrderBy([...list]), message);
  });
});

describe('parseExperimentFilter', () => {
  const cases: [string, ExperimentClause[]][] = [
    ["name = 'e'", [{ kind: 'attribute', key: 'name', op: '=', value: 'e' }]],
    ["attribute.name != \"e\"", [{ kind: 'attribute', key: 'name', op: '!=', value: 'e' }]],
    ["name LIKE 'e%'", [{ kind: 'attribute', key: 'name', op: 'LIKE', value: 'e%' }]],
    ["name ilike 'E%'", [{ kind: 'attribute', key: 'name', op: 'ILIKE', value: 'E%' }]],
    ['creation_time > 5', [{ kind: 'attribute', key: 'creation_time', op: '>', value: num('5') }]],
    ['attribute.last_update_time <= 5', [{ kind: 'attribute', key: 'last_update_time', op: '<=', value: num('5') }]],
    ['creation_time = 1 AND creation_time != 2 AND creation_time >= 0 AND creation_time < 9', [
      { kind: 'attribute', key: 'creation_time', op: '=', value: num('1') },
      { kind: 'attribute', key: 'creation_time', op: '!=', value: num('2') },
      { kind: 'attribute', key: 'creation_time', op: '>=', value: num('0') },
      { kind: 'attribute', key: 'creation_time', op: '<', value: num('9') },
    ]],
    ["tags.k = 'v'", [{ kind: 'tag', key: 'k', op: '=', value: 'v' }]],
    ["tag.`a b` LIKE '%v'", [{ kind: 'tag', key: 'a b', op: 'LIKE', value: '%v' }]],
    ["tags.\"x.y\" ILIKE 'V' AND tags.z != 'w'", [
      { kind: 'tag', key: 'x.y', op: 'ILIKE', value: 'V' },
      { kind: 'tag', key: 'z', op: '!=', value: 'w' },
    ]],
  ];
  it.each(cases)('%s', (filter, expected) => {
    expect(parseExperimentFilter(filter)).toEqual(expected);
  });

  it.each([
    ['metrics entity', 'metrics.a > 1', /Invalid entity type 'metrics'. Valid entity types are/],
    ['params entity', "params.a = 'x'", /Invalid entity type 'params'/],
    ['unknown attribute', "experiment_id = '1'", /Invalid attribute key 'experiment_id' specified/],
    ['> on name', "name > 'a'", /Invalid comparator '>' for string attribute 'name'/],
    ['IN on name', "name IN ('a')", /Invalid comparator 'IN'/],
    ['LIKE on time', "creation_time LIKE '1'", /Invalid comparator 'LIKE' for numeric attribute 'creation_time'/],
    ['string for time', "creation_time > '1'", /Expected numeric value type/],
    ['> on tag', "tags.a > 'x'", /Invalid comparator '>' for tag/],
    ['unquoted tag value', 'tags.a = x', /not quoted/],
    ['OR', "name = 'a' OR name = 'b'", /Invalid clause\(s\) in filter string/],
    ['semicolon', "name = 'a'; name = 'b'", /multiple expression/],
  ] as const)('rejects %s', (_name, filter, message) => {
    invalid(() => parseExperimentFilter(filter), message);
  });
});

describe('parseExperimentOrderBy', () => {
  it('parses keys and directions', () => {
    expect(parseExperimentOrderBy(['name', 'attribute.experiment_id DESC', 'creation_time asc', 'last_update_time DESC'])).toEqual([
      { kind: 'attribute', key: 'name', ascending: true },
      { kind: 'attribute', key: 'experiment_id', ascending: false },
      { kind: 'attribute', key: 'creation_time', ascending: true },
      { kind: 'attribute', key: 'last_update_time', ascending: false },
    ]);
  });
  it.each([
    ['tag', ['tags.a'], /Invalid order_by entity: tag/],
    ['unknown key', ['artifact_location'], /Invalid attribute key 'artifact_location'/],
    ['duplicate', ['name', 'name DESC'], /`order_by` contains duplicate fields/],
    ['bad direction', ['name sideways'], /Invalid ordering key/],
    ['metrics', ['metrics.a'], /Invalid entity type 'metrics'/],
  ] as const)('rejects %s', (_name, list, message) => {
    invalid(() => parseExperimentOrderBy([...list]), message);
  });
});
