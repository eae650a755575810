import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { errorCode, errorMessage, trpc } from '../api.ts';
import { href, setQuery } from '../router.ts';
import { Empty, fmtTime, Loading, Problem } from './common.tsx';

/** Registered models of the project: `#/models?filter=…`, the filter in the server's grammar (name, tags). */
export function Models({ query }: { query: URLSearchParams }) {
  const filter = query.get('filter') ?? '';
  const [draft, setDraft] = useState(filter);
  const list = useQuery({
    queryKey: ['registeredModels', filter],
    queryFn: () => trpc.registeredModels.search.query({ filter: filter || undefined, max_results: 1000, order_by: ['name ASC'] }),
    retry: false,
  });
  const badFilter = list.isError && errorCode(list.error) === 'INVALID_PARAMETER_VALUE' && filter !== '';
  const models = list.data?.registered_models ?? [];
  return (
    <section>
      <h1>Models</h1>
      <form className="row" role="search" onSubmit={(e) => { e.preventDefault(); setQuery({ filter: draft.trim() || undefined }); }}>
        <label htmlFor="model-filter">Filter</label>
        <input id="model-filter" className="wide" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="name LIKE 'churn%' and tags.team = 'a'"
          aria-invalid={badFilter || undefined} aria-describedby={badFilter ? 'model-filter-error' : undefined} />
        <button type="submit" className="primary">Apply</button>
        {filter && <button type="button" onClick={() => { setDraft(''); setQuery({ filter: undefined }); }}>Clear</button>}
      </form>
      {badFilter && <p id="model-filter-error" role="alert" className="error">{errorMessage(list.error)}</p>}
      {list.isPending ? <Loading what="models" /> : badFilter ? null : list.isError ? <Problem error={list.error} /> : models.length === 0 ? (
        filter ? <Empty>No model matches <code>{filter}</code>. Change the filter or clear it.</Empty> : (
          <Empty>
            <p>No registered models yet. Register one from a run with the MLflow client:</p>
            <pre><code>{'mlflow.register_model("runs:/<run_id>/model", "<name>")'}</code></pre>
            <p className="muted">or pass <code>registered_model_name=</code> to <code>mlflow.&lt;flavor&gt;.log_model</code>.</p>
          </Empty>
        )
      ) : (
        <table className="plain models" style={{ marginTop: '.75rem' }}>
          <caption className="visually-hidden">Registered models</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Latest versions</th><th scope="col">Aliases</th><th scope="col">Last updated</th></tr></thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.name}>
                <td><a href={href(`/models/${encodeURIComponent(m.name)}`)}>{m.name}</a></td>
                <td>{(m.latest_versions ?? []).map((v) => `Version ${v.version} (${v.current_stage})`).join(', ') || <span className="muted">none</span>}</td>
                <td>{(m.aliases ?? []).map((a) => <span key={a.alias} className="chip">@{a.alias} → v{a.version}</span>)}</td>
                <td>{fmtTime(Number(m.last_updated_timestamp))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
