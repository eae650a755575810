import { describe, expect, it } from 'vitest';
import {
  LIMITS,
  validateBatchLimits,
  validateDatasetInput,
  validateExperimentId,
  validateExperimentName,
  validateExperimentTag,
  validateMaxResults,
  validateMetric,
  validateMetricName,
  validateNoDuplicateParamKeys,
  validateParam,
  validateParamName,
  validateRunId,
  validateTag,
  validateTagName,
} from '../core/validation.ts';
import { pyLen } from '../core/python.ts';
import { invalidParamMessage } from './helpers/errors.ts';
import { validateArtifactLocation } from '../core/artifact-location.ts';

/** Runs fn and returns the MlflowError message it throws (fails the test if it doesn't throw one). */
const errorOf = invalidParamMessage;

const BAD_CHARS =
  'Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).';
const BAD_PATH = 'Names may be treated as files in certain cases, and must not resolve to other names when treated as such. ';
const EMOJI = '\u{1F600}'; // 2 UTF-16 units, 1 code point
const WIDE = '\u{20000}'; // CJK letter outside the BMP: a valid name character, 2 UTF-16 units

describe('pyLen', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    [EMOJI, 1],
    [`a${EMOJI}b`, 3],
    ['\ud800', 1], // lone surrogate counts as one, like Python
    ['\ud800\ud800', 2],
    ['é', 1],
  ])('pyLen(%j) = %i', (s, n) => expect(pyLen(s)).toBe(n));
});

describe('names (metric, param, tag share the rules)', () => {
  // Verdicts checked against Python 3.11 re / posixpath.normpath.
  const accepted = ['a', 'a/b', 'a b', 'a:b', 'é', '日本語', 'ß_1', 'x²', 'a.b-c', 'a..b', 'a/..b', '.a', 'a/.b', 'a\n'];
  const badChars = ['a\\b', 'a$', 'e\u0301', 'a\tb', 'a\n\n', '\u00a0', EMOJI, 'a"b'];
  const badPath: [string, string][] = [
    ['', '.'],
    ['a/', 'a'],
    ['a//b', 'a/b'],
    ['./a', 'a'],
    ['a/../b', 'b'],
    ['/a', '/a'],
    ['..', '..'],
    ['.', '.'],
    ['a/.', 'a'],
    ['..a', '..a'],
    ['//a', '//a'],
    ['///a', '/a'],
    ['../x/..', '..'],
  ];
  const validators = [validateMetricName, validateParamName, validateTagName];

  it.each(accepted)('accepts %j', (name) => {
    for (const v of validators) expect(() => v(name)).not.toThrow();
  });

  it.each(badChars)('rejects %j (characters)', (name) => {
    for (const v of validators) expect(errorOf(() => v(name))).toMatch(BAD_CHARS);
  });

  it.each(badPath)('rejects %j (path, resolves to %j)', (name, norm) => {
    for (const v of validators) expect(errorOf(() => v(name))).toContain(`${BAD_PATH}This name would resolve to '${norm}'`);
  });

  it('exact messages with default and batch paths', () => {
    expect(errorOf(() => validateMetricName('a$'))).toBe(`Invalid value "a$" for parameter 'name' supplied: ${BAD_CHARS}`);
    expect(errorOf(() => validateParamName('a/../b', 'params[3].key'))).toBe(
      `Invalid value "a/../b" for parameter 'params[3].key' supplied: ${BAD_PATH}This name would resolve to 'b'`,
    );
    // json.dumps with ensure_ascii: non-ASCII and quotes escaped
    expect(errorOf(() => validateTagName('é$"'))).toBe(`Invalid value "\\u00e9$\\"" for parameter 'key' supplied: ${BAD_CHARS}`);
    expect(errorOf(() => validateTagName(`${EMOJI}`))).toContain('"\\ud83d\\ude00"');
    expect(errorOf(() => validateParamName(''))).toBe(
      `Invalid value "" for parameter 'key' supplied: ${BAD_PATH}This name would resolve to '.'`,
    );
  });

  it('None names (runtime nulls) use MLflow wording', () => {
    const nul = null as unknown as string;
    expect(errorOf(() => validateMetricName(nul))).toBe(
      "Invalid value null for parameter 'name' supplied: Metric name cannot be None. A key name must be provided.",
    );
    expect(errorOf(() => validateParamName(nul))).toBe(
      `Invalid value "" for parameter 'key' supplied: A key name must be provided.`,
    );
    expect(errorOf(() => validateTagName(nul))).toBe("Missing value for required parameter 'key'.");
  });
});

describe('validateMetric', () => {
  it('accepts NaN, ±Infinity, negative steps, bigint timestamps', () => {
    expect(() => validateMetric('m', NaN, 0, 0)).not.toThrow();
    expect(() => validateMetric('m', Infinity, 1, -5)).not.toThrow();
    expect(() => validateMetric('m', -Infinity, 2n ** 62n, 2n ** 62n)).not.toThrow();
  });

  it('key length: 250 ok, 251 fails, emoji counts as one', () => {
    expect(() => validateMetric('a'.repeat(250), 1, 0, 0)).not.toThrow();
    expect(() => validateMetric(`${'a'.repeat(249)}${WIDE}`, 1, 0, 0)).not.toThrow();
    expect(() => validateMetric(`${'a'.repeat(250)}${WIDE}`, 1, 0, 0)).toThrow("'Metric name' exceeds");
    expect(errorOf(() => validateMetric('a'.repeat(251), 1, 0, 0))).toBe(
      "'Metric name' exceeds the maximum length of 250 characters",
    );
  });

  it('negative timestamp: exact message with Python float rendering of the value', () => {
    expect(errorOf(() => validateMetric('m', 1, -1, 0))).toBe(
      "Invalid value -1 for parameter 'timestamp' supplied: metric 'm' (value=1.0). " +
        'Timestamp must be a nonnegative long (64-bit integer) ',
    );
    expect(errorOf(() => validateMetric('m', 1e-5, -2n, 0, 'metrics[7]'))).toBe(
      "Invalid value -2 for parameter 'metrics[7].timestamp' supplied: metric 'm' (value=1e-05). " +
        'Timestamp must be a nonnegative long (64-bit integer) ',
    );
  });

  it.each([
    [0.5, '0.5'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [0.0001, '0.0001'],
    [-1.5e300, '-1.5e+300'],
    [123456789012345678, '1.2345678901234568e+17'],
    [NaN, 'nan'],
    [-Infinity, '-inf'],
    [-0, '-0.0'],
  ])('value %d renders as %s in messages', (value, text) => {
    expect(errorOf(() => validateMetric('m', value, -1, 0))).toContain(`(value=${text})`);
  });

  it('batch item paths and check order (name before timestamp before key length)', () => {
    expect(errorOf(() => validateMetric('a$', 1, -1, 0, 'metrics[0]'))).toBe(
      `Invalid value "a$" for parameter 'metrics[0].name' supplied: ${BAD_CHARS}`,
    );
    expect(errorOf(() => validateMetric('a'.repeat(251), 1, -1, 0))).toMatch(/timestamp/);
  });

  it('runtime type errors', () => {
    expect(errorOf(() => validateMetric('m', undefined as unknown as number, 0, 0))).toBe(
      "Missing value for required parameter 'value'.",
    );
    expect(errorOf(() => validateMetric('m', true as unknown as number, 5, 0))).toBe(
      "Invalid value true for parameter 'value' supplied: (timestamp=5). " +
        'Please specify value as a valid double (64-bit floating point)',
    );
    expect(errorOf(() => validateMetric('m', 2, 5, 'x' as unknown as number))).toBe(
      `Invalid value "x" for parameter 'step' supplied: metric 'm' (value=2.0). Step must be a valid long (64-bit integer).`,
    );
  });
});

describe('validateParam / validateTag', () => {
  it('returns the value unchanged when within limits (6000 / 8000 code points)', () => {
    const p = EMOJI.repeat(6000); // 12000 UTF-16 units, 6000 code points
    expect(validateParam('k', p)).toBe(p);
    const t = EMOJI.repeat(8000);
    expect(validateTag('k', t)).toBe(t);
  });

  it('truncates over-long values by code points (MLflow default)', () => {
    expect(validateParam('k', 'x'.repeat(6001))).toBe('x'.repeat(6000));
    const p = validateParam('k', EMOJI.repeat(6001));
    expect(pyLen(p)).toBe(6000);
    expect(p).toBe(EMOJI.repeat(6000));
    expect(validateTag('k', `${'y'.repeat(7999)}${EMOJI}${EMOJI}`)).toBe(`${'y'.repeat(7999)}${EMOJI}`);
  });

  it('errors instead of truncating when MLFLOW_TRUNCATE_LONG_VALUES=false (truncate = false)', () => {
    expect(errorOf(() => validateParam('k', 'x'.repeat(6001), '', false))).toBe(
      "'Param value' exceeds the maximum length of 6000 characters",
    );
    expect(errorOf(() => validateTag('k', 'x'.repeat(8001), 'tags[2]', false))).toBe(
      "'tags[2].value' exceeds the maximum length of 8000 characters",
    );
  });

  it('key length 250 ok / 251 error, never truncated', () => {
    expect(validateParam(`${'a'.repeat(249)}é`, 'v')).toBe('v');
    // a 4-byte letter (U+20000, Python \w) counts as one character: 250 code points, 251 UTF-16 units
    expect(() => validateTag(`${'a'.repeat(249)}${WIDE}`, 'v')).not.toThrow();
    expect(errorOf(() => validateTag(`${'a'.repeat(250)}${WIDE}`, 'v'))).toBe("'key' exceeds the maximum length of 250 characters");
    expect(errorOf(() => validateParam('a'.repeat(251), 'v'))).toBe("'Param key' exceeds the maximum length of 250 characters");
    expect(errorOf(() => validateTag('a'.repeat(251), 'v'))).toBe("'key' exceeds the maximum length of 250 characters");
    expect(errorOf(() => validateTag('a'.repeat(251), 'v', 'tags[0]'))).toBe(
      "'tags[0].key' exceeds the maximum length of 250 characters",
    );
  });

  it('name errors use the item path', () => {
    expect(errorOf(() => validateParam('a$', 'v', 'params[1]'))).toBe(
      `Invalid value "a$" for parameter 'params[1].key' supplied: ${BAD_CHARS}`,
    );
    expect(errorOf(() => validateTag('/a', 'v', 'tags[0]'))).toBe(
      `Invalid value "/a" for parameter 'tags[0].key' supplied: ${BAD_PATH}This name would resolve to '/a'`,
    );
  });
});

describe('validateExperimentTag', () => {
  it('limits 250 / 5000 without truncation', () => {
    expect(() => validateExperimentTag('k'.repeat(250), 'v'.repeat(5000))).not.toThrow();
    expect(() => validateExperimentTag('k', EMOJI.repeat(5000))).not.toThrow();
    expect(errorOf(() => validateExperimentTag('k'.repeat(251), 'v'))).toBe(
      "'key' exceeds the maximum length of 250 characters",
    );
    expect(errorOf(() => validateExperimentTag('k', 'v'.repeat(5001)))).toBe(
      "'value' exceeds the maximum length of 5000 characters",
    );
    expect(errorOf(() => validateExperimentTag('a$', 'v'))).toMatch(/^Invalid value "a\$" for parameter 'key'/);
  });
});

describe('experiments and runs', () => {
  it.each<[unknown, string]>([
    ['', "Invalid experiment name: ''"],
    [null, "Invalid experiment name: 'None'"],
    [5, 'Invalid experiment name: 5. Expects a string.'],
    [['a', 1], "Invalid experiment name: ['a', 1]. Expects a string."],
    ['x'.repeat(501), "'name' exceeds the maximum length of 500 characters"],
  ])('experiment name %j', (name, message) => {
    expect(errorOf(() => validateExperimentName(name))).toBe(message);
  });

  it('experiment name limits', () => {
    expect(() => validateExperimentName('x'.repeat(500))).not.toThrow();
    expect(() => validateExperimentName(EMOJI.repeat(500))).not.toThrow();
    expect(() => validateExperimentName('a$ /..//weird')).not.toThrow();
  });

  it.each(['', 's3://bucket/path', 'file:///tmp/x', 'mlflow-artifacts:/1', '/tmp/a', 'http://h/p?x=1', 'a#', 'a;'])(
    'artifact location %j ok',
    (loc) => expect(() => validateArtifactLocation(loc)).not.toThrow(),
  );

  it.each([
    ['http://host/a#frag', "'artifact_location' URL can't include fragments or params."],
    ['s3://b/x#y', "'artifact_location' URL can't include fragments or params."],
    ['http://host/a;p=1', "'artifact_location' URL can't include fragments or params."],
    ['/tmp/a;b', "'artifact_location' URL can't include fragments or params."],
    ['http://host/a?x=../../etc', 'Invalid query string'],
    ['http://host/a?x=%2E%2E/etc', 'Invalid query string'],
    ['http://host/a?x=%252e%252e', 'Invalid query string'],
    ['runs:/abc/artifacts', "Artifact location cannot be a runs:/ URI. Given: 'runs:/abc/artifacts'"],
    [
      `s3://b/${'a'.repeat(2042)}`,
      'Invalid artifact path length. The length of the artifact path cannot be greater than 2048 characters. ' +
        'To configure this limit, please set the MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.',
    ],
  ])('artifact location %j rejected', (loc, message) => {
    expect(errorOf(() => validateArtifactLocation(loc))).toBe(message);
  });

  it('artifact location length edge', () => {
    expect(() => validateArtifactLocation(`s3://b/${'a'.repeat(2041)}`)).not.toThrow();
    expect(() => validateArtifactLocation(`s3://b/${EMOJI.repeat(2041)}`)).not.toThrow();
    // s3 does not use ;params
    expect(() => validateArtifactLocation('s3://b/a;x')).not.toThrow();
  });

  it.each(['a', '0123456789abcdef0123456789abcdef', 'A-b_c', `a${'b'.repeat(255)}`, 'aé'])('run id %j ok', (id) => {
    expect(() => validateRunId(id)).not.toThrow();
  });

  it.each(['', '-a', '_a', 'a b', 'a/b', '../x', `a${'b'.repeat(256)}`, 'é'])('run id %j rejected', (id) => {
    expect(errorOf(() => validateRunId(id))).toMatch(/^Invalid value ".*" for parameter 'run_id' supplied\.$/s);
  });

  it('run id exact message', () => {
    expect(errorOf(() => validateRunId('bad id'))).toBe(`Invalid value "bad id" for parameter 'run_id' supplied.`);
  });

  it('experiment id', () => {
    expect(() => validateExperimentId('0')).not.toThrow();
    expect(() => validateExperimentId(`a${'b'.repeat(63)}`)).not.toThrow();
    expect(errorOf(() => validateExperimentId(`a${'b'.repeat(64)}`))).toMatch(/^Invalid experiment ID: 'ab+'$/);
    expect(errorOf(() => validateExperimentId('1/../2'))).toBe("Invalid experiment ID: '1/../2'");
  });
});

describe('log-batch limits', () => {
  it.each([
    [1000, 0, 0],
    [0, 100, 100],
    [800, 100, 100],
  ])('accepts %i metrics, %i params, %i tags', (m, p, t) => {
    expect(() => validateBatchLimits(m, p, t)).not.toThrow();
  });

  it.each<[number, number, number, string]>([
    [1001, 0, 0, 'at most 1000 metrics. Got 1001 metrics. Please split up metrics'],
    [0, 101, 0, 'at most 100 params. Got 101 params. Please split up params'],
    [0, 0, 101, 'at most 100 tags. Got 101 tags. Please split up tags'],
    [801, 100, 100, 'at most 1000 metrics, params, and tags. Got 1001 metrics, params, and tags.'],
    [1001, 101, 101, 'at most 1000 metrics.'], // metrics checked first
  ])('rejects %i/%i/%i', (m, p, t, fragment) => {
    expect(errorOf(() => validateBatchLimits(m, p, t))).toContain(fragment);
  });

  it('exact message', () => {
    expect(errorOf(() => validateBatchLimits(0, 101, 0))).toBe(
      'A batch logging request can contain at most 100 params. Got 101 params. ' +
        'Please split up params across multiple requests and try again.',
    );
  });

  it('duplicate param keys', () => {
    expect(() => validateNoDuplicateParamKeys([{ key: 'a' }, { key: 'b' }])).not.toThrow();
    expect(errorOf(() => validateNoDuplicateParamKeys([{ key: 'a' }, { key: 'a' }, { key: 'b' }, { key: 'a' }, { key: 'b' }]))).toBe(
      "Duplicate parameter keys have been submitted: ['a', 'a', 'b']. " +
        'Please ensure the request contains only one param value per param key.',
    );
    expect(errorOf(() => validateNoDuplicateParamKeys([{ key: "it's" }, { key: "it's" }]))).toContain(`["it's"]`);
    expect(errorOf(() => validateNoDuplicateParamKeys([{ key: 'a\n' }, { key: 'a\n' }]))).toContain(`['a\\n']`);
  });
});

describe('validateDatasetInput', () => {
  const ds = { name: 'd', digest: 'abc', source_type: 'local', source: '{}' };

  it('accepts limits at the edge', () => {
    expect(() =>
      validateDatasetInput(
        { ...ds, name: EMOJI.repeat(500), digest: 'x'.repeat(36), schema: '{}', profile: '{}' },
        [{ key: 'k'.repeat(255), value: 'v'.repeat(500) }],
      ),
    ).not.toThrow();
  });

  it.each<[object, { key: string; value: string }[], string]>([
    [{ name: 'x'.repeat(501) }, [], "'name' exceeds the maximum length of 500 characters"],
    [{ digest: 'x'.repeat(37) }, [], "'digest' exceeds the maximum length of 36 characters"],
    [{ source: 'x'.repeat(65536) }, [], "'source' exceeds the maximum length of 65535 characters"],
    [{ schema: 'x'.repeat(1048576) }, [], "'schema' exceeds the maximum length of 1048575 characters"],
    [{ name: undefined }, [], 'Dataset name cannot be None'],
    [{ source_type: null }, [], 'Dataset source_type cannot be None'],
    [{}, [{ key: 'k'.repeat(256), value: 'v' }], "'key' exceeds the maximum length of 255 characters"],
    [{}, [{ key: 'k', value: 'v'.repeat(501) }], "'value' exceeds the maximum length of 500 characters"],
    [{ digest: 'x'.repeat(37) }, [{ key: 'k'.repeat(256), value: 'v' }], "'digest' exceeds"], // dataset before tags
  ])('rejects %#', (patch, tags, message) => {
    expect(errorOf(() => validateDatasetInput({ ...ds, ...patch } as typeof ds, tags))).toContain(message);
  });
});

describe('validateMaxResults', () => {
  it.each([1, 1000, 50000])('%i ok', (n) => expect(() => validateMaxResults(n)).not.toThrow());

  it.each<[number, number | undefined, string]>([
    [0, undefined, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"],
    [-3, undefined, "Invalid value -3 for parameter 'max_results' supplied. It must be a positive integer"],
    [50001, undefined, "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"],
    [1001, 1000, "Invalid value 1001 for parameter 'max_results' supplied. It must be at most 1000"],
  ])('%i (max %s)', (n, max, message) => {
    expect(errorOf(() => validateMaxResults(n, max))).toBe(message);
  });

  it('LIMITS are MLflow values', () => {
    expect(LIMITS.SEARCH_MAX_RESULTS_THRESHOLD).toBe(50000);
    expect(LIMITS.MAX_TAG_VAL_LENGTH).toBe(8000);
  });
});
