import type { TestServer } from '../helpers/server.ts';

export interface Seeded {
  experimentId: string;
  runs: Record<'baseline' | 'wide' | 'deep', string>;
  artifactRoot: string;
  lossPoints: number;
}

/** An experiment with three finished runs, a 5,000-step loss history, params, tags, a description and artifacts. */
export async function seed(s: TestServer, name = 'vision'): Promise<Seeded> {
  const auth = { Authorization: `Bearer ${s.tokens.write}` };
  const post = async (path: string, body: unknown) => {
    const res = await s.request.post(s.mlflow() + path).set(auth).send(body as object);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const { experiment_id } = await post('/experiments/create', { name });
  const t0 = Date.UTC(2026, 0, 1);
  const defs = [
    { name: 'baseline', lr: '0.1', model: 'cnn', acc: 0.6, team: 'a' },
    { name: 'wide', lr: '0.01', model: 'cnn', acc: 0.9, team: 'b' },
    { name: 'deep', lr: '0.01', model: 'resnet', acc: 0.3, team: 'b' },
  ] as const;
  const runs = {} as Seeded['runs'];
  let artifactRoot = '';
  const lossPoints = 5000;
  for (const [i, d] of defs.entries()) {
    const { run } = await post('/runs/create', { experiment_id, run_name: d.name, start_time: t0 + i * 60_000, tags: [{ key: 'mlflow.source.name', value: 'train.py' }] });
    const id = run.info.run_id as string;
    runs[d.name] = id;
    await post('/runs/log-batch', {
      run_id: id,
      params: [{ key: 'lr', value: d.lr }, { key: 'model', value: d.model }],
      tags: [{ key: 'team', value: d.team }, ...(d.name === 'baseline' ? [{ key: 'mlflow.note.content', value: 'The first try.' }] : [])],
      metrics: [{ key: 'acc', value: d.acc, timestamp: t0 + 1000, step: 0 }],
    });
    const steps = d.name === 'baseline' ? lossPoints : 20;
    for (let s0 = 0; s0 < steps; s0 += 1000) {
      const metrics = [];
      for (let step = s0; step < Math.min(steps, s0 + 1000); step++) {
        // a decaying curve with a spike at step 2500 that the downsampled chart must keep
        metrics.push({ key: 'loss', value: step === 2500 ? 50 : 2 * Math.exp(-step / 1000) + (i * 0.1), timestamp: t0 + step * 100, step });
      }
      await post('/runs/log-batch', { run_id: id, metrics });
    }
    await post('/runs/update', { run_id: id, status: 'FINISHED', end_time: t0 + i * 60_000 + 90_000 });
    if (d.name === 'baseline') {
      artifactRoot = String(run.info.artifact_uri).replace('mlflow-artifacts:/', '');
      const put = async (path: string, body: string) => {
        const res = await s.request.put(`/api/v4/projects/${s.project.id}/ml/mlflow/api/2.0/mlflow-artifacts/artifacts/${artifactRoot}/${path}`)
          .set(auth).set('Content-Type', 'application/octet-stream').send(Buffer.from(body));
        if (res.status !== 200) throw new Error(`artifact ${path}: ${res.status}`);
      };
      await put('notes.txt', 'hello from the baseline run\n' + 'line\n'.repeat(20_000));
      await put('eval/metrics.json', JSON.stringify({ accuracy: 0.6, classes: ['cat', 'dog'] }));
      await put('eval/predictions.csv', 'id,label,score\n1,cat,0.9\n2,dog,0.7\n');
      await put('report.html', '<h1>Report</h1><script>parent.document.title = "pwned"</script>');
    }
  }
  return { experimentId: experiment_id, runs, artifactRoot, lossPoints };
}
