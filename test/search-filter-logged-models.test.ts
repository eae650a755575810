import { describe, expect, it } from 'vitest';
import { invalidParamMessage as message } from './helpers/errors.ts';
import { parseLoggedModelFilter, parseLoggedModelOrder, parseRunFilter, type LoggedModelClause } from '../db/search/parse.ts';

/**
 * The logged-model vocabulary on the shared scanner. The valid cases and messages are those of the regex tokenizer
 * it replaced (run against it case by case; one difference, marked); its dialect must not leak into run filters.
 */

describe('parseLoggedModelFilter', () => {
  const valid: [string, LoggedModelClause[]][] = [
    ['', []],
    ['  ', []],
    ["name = 'beta-two'", [{ kind: 'attr', column: 'name', op: '=', value: 'beta-two' }]],
    ["name <> 'x'", [{ kind: 'attr', column: 'name', op: '!=', value: 'x' }]],
    ["name ilike 'A%'", [{ kind: 'attr', column: 'name', op: 'ILIKE', value: 'A%' }]],
    ["name = `x`", [{ kind: 'attr', column: 'name', op: '=', value: 'x' }]],
    [
      "model_type = 'sk' and params.alpha = '3'",
      [
        { kind: 'attr', column: 'model_type', op: '=', value: 'sk' },
        { kind: 'param', key: 'alpha', op: '=', value: '3' },
      ],
    ],
    // status: = and != take either name, in any case; LIKE sees the wire names
    ["status = 'READY'", [{ kind: 'attr', column: 'status', op: '=', value: 'READY' }]],
    ["status != 'logged_model_upload_failed'", [{ kind: 'attr', column: 'status', op: '!=', value: 'FAILED' }]],
    ["status LIKE 'LOGGED%'", [{ kind: 'attr', column: 'status', op: 'LIKE', value: 'LOGGED%' }]],
    // keys: bare with hyphens and dots, quoted, entity names in any case
    ['tags.`team` = "alpha"', [{ kind: 'tag', key: 'team', op: '=', value: 'alpha' }]],
    ["tags.my-key = 'a'", [{ kind: 'tag', key: 'my-key', op: '=', value: 'a' }]],
    ["tags.a.b = 'c'", [{ kind: 'tag', key: 'a.b', op: '=', value: 'c' }]],
    ['tags."a b" = \'c\'', [{ kind: 'tag', key: 'a b', op: '=', value: 'c' }]],
    ["TAGS.x = 'y'", [{ kind: 'tag', key: 'x', op: '=', value: 'y' }]],
    ["Attributes.name = 'y'", [{ kind: 'attr', column: 'name', op: '=', value: 'y' }]],
    // values: a doubled quote is one, a backslash and what follows it stay as written
    ["name = 'it''s'", [{ kind: 'attr', column: 'name', op: '=', value: "it's" }]],
    ["name = 'a\\'b'", [{ kind: 'attr', column: 'name', op: '=', value: "a\\'b" }]],
    ['name = "a\\"b"', [{ kind: 'attr', column: 'name', op: '=', value: 'a\\"b' }]],
    // timestamps: integers, exact beyond 2^53
    ['creation_timestamp >= 123', [{ kind: 'time', column: 'creation_time', op: '>=', value: 123 }]],
    ['attributes.last_updated_time < -5', [{ kind: 'time', column: 'last_updated_time', op: '<', value: -5 }]],
    ['creation_time = 9007199254740993', [{ kind: 'time', column: 'creation_time', op: '=', value: 9007199254740993n }]],
  ];
  for (const [filter, clauses] of valid) {
    it(`parses ${JSON.stringify(filter)}`, () => expect(parseLoggedModelFilter(filter)).toEqual(clauses));
  }

  const invalid: [string, string][] = [
    ['metric.acc > 1', "Invalid filter string 'metric.acc > 1': filtering on metrics is not supported by this server."],
    ["name = 'a' OR name = 'b'", "Invalid filter string 'name = 'a' OR name = 'b'': clauses must be joined with 'AND'."],
    ['name = ', "Invalid filter string 'name = ': expected a value after 'name ='."],
    ["name 'x'", "Invalid filter string 'name 'x'': expected a comparison operator after 'name'."],
    ["= 'x'", "Invalid filter string '= 'x'': expected an attribute, tags.<key> or params.<key>."],
    ["name = 'a' AND", "Invalid filter string 'name = 'a' AND': expected an attribute, tags.<key> or params.<key>."],
    ["`name` = 'x'", "Invalid filter string '`name` = 'x'': expected an attribute, tags.<key> or params.<key>."],
    // the regex tokenizer stopped earlier here ("unexpected text at '('a')'"); still a 400 naming the filter
    ["name IN ('a')", "Invalid filter string 'name IN ('a')': expected a comparison operator after 'name'."],
    ['name = x', "Invalid filter string 'name = x': expected a value after 'name ='."],
    ['tags.t = 5', "Invalid filter string 'tags.t = 5': the value for tags.t must be a quoted string."],
    ["tags.t > 'a'", "Invalid filter string 'tags.t > 'a'': operator '>' is not supported for tags."],
    ["name > 'a'", "Invalid filter string 'name > 'a'': operator '>' is not supported for 'name'."],
    ["creation_timestamp = '5'", "Invalid filter string 'creation_timestamp = '5'': the value for 'creation_timestamp' must be an integer."],
    ['creation_time LIKE 5', "Invalid filter string 'creation_time LIKE 5': operator 'LIKE' is not supported for 'creation_time'."],
    [
      "artifact_location = 'x'",
      "Invalid attribute key 'artifact_location' specified. Valid keys are 'model_id', 'name', 'model_type', 'status', " +
        "'source_run_id', 'creation_timestamp', 'creation_time', 'last_updated_timestamp', 'last_updated_time', tags.<key> and params.<key>.",
    ],
  ];
  for (const [filter, text] of invalid) {
    it(`rejects ${JSON.stringify(filter)}`, () => expect(message(() => parseLoggedModelFilter(filter))).toBe(text));
  }

  it("keeps its dialect to itself: run filters still refuse '<>' and hyphens in bare keys", () => {
    expect(message(() => parseRunFilter("tags.t <> 'a'"))).toMatch(/^Invalid comparator '<>'/);
    expect(message(() => parseRunFilter("tags.my-key = 'a'"))).toMatch(/^Invalid clause\(s\) in filter string/);
  });
});

describe('parseLoggedModelOrder', () => {
  it('maps field names to attributes, ascending by default', () => {
    expect(parseLoggedModelOrder([{ field_name: 'name' }, { field_name: 'attributes.creation_timestamp', ascending: false }])).toEqual([
      ['name', 'asc'],
      ['creation_time', 'desc'],
    ]);
  });
  it('refuses metrics, unknown entities and a missing field name', () => {
    expect(message(() => parseLoggedModelOrder([{ field_name: 'metrics.acc' }]))).toBe('Ordering by metrics is not supported by this server: metrics.acc');
    expect(message(() => parseLoggedModelOrder([{ field_name: 'params.x' }]))).toBe('Invalid order by field name: params');
    expect(message(() => parseLoggedModelOrder([{}]))).toBe('`field_name` in the `order_by` clause must be specified.');
  });
});
