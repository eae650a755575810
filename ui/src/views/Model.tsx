import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage, trpc } from '../api.ts';
import { href } from '../router.ts';
import { Empty, fmtTime, Loading, Problem } from './common.tsx';

/** A string literal of the registry's filter grammar: single quotes unless the value has one. */
export const filterString = (s: string) => (s.includes("'") ? `"${s.replace(/"/g, '\\"')}"` : `'${s}'`);

/** `#/models/<name>`: description, tags, aliases and versions of one registered model. */
export default function ModelPage({ name, canWrite }: { name: string; canWrite: boolean }) {
  const model = useQuery({ queryKey: ['registeredModel', name], queryFn: () => trpc.registeredModels.get.query({ name }), retry: false });
  const versions = useQuery({
    queryKey: ['modelVersions', name],
    queryFn: () => trpc.modelVersions.search.query({ filter: `name = ${filterString(name)}`, order_by: ['version_number DESC'], max_results: 10_000 }),
  });
  const back = <a href={href('/models')}>Back to the models</a>;
  if (model.isPending) return <Loading what="model" />;
  if (model.isError) return <Problem error={model.error} action={back} />;
  const m = model.data.registered_model;
  const aliases = m.aliases ?? [];
  const byVersion = new Map<string, string[]>();
  for (const a of aliases) byVersion.set(a.version, [...(byVersion.get(a.version) ?? []), a.alias]);
  const list = versions.data?.model_versions ?? [];
  return (
    <section className="stack">
      <nav aria-label="Breadcrumb" className="muted"><a href={href('/models')}>Models</a> › {m.name}</nav>
      <h1>{m.name}</h1>
      <table className="plain" style={{ alignSelf: 'flex-start' }}>
        <caption className="visually-hidden">Model information</caption>
        <tbody>
          <tr><th scope="row">Created</th><td>{fmtTime(Number(m.creation_timestamp))}</td></tr>
          <tr><th scope="row">Last updated</th><td>{fmtTime(Number(m.last_updated_timestamp))}</td></tr>
        </tbody>
      </table>
      <div>
        <h2>Description</h2>
        <p style={{ whiteSpace: 'pre-wrap', margin: 0 }}>{m.description || <span className="muted">No description.</span>}</p>
      </div>
      <Aliases name={m.name} aliases={aliases} versions={list.map((v) => v.version)} canWrite={canWrite} />
      <ModelTags name={m.name} tags={m.tags ?? []} canWrite={canWrite} />
      <h2>Versions</h2>
      {versions.isPending ? <Loading what="versions" /> : versions.isError ? <Problem error={versions.error} /> : list.length === 0 ? (
        <Empty>No versions yet. Register one with <code>{`mlflow.register_model("runs:/<run_id>/model", "${m.name}")`}</code>.</Empty>
      ) : (
        <table className="plain">
          <caption className="visually-hidden">Versions</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">Stage</th><th scope="col">Aliases</th><th scope="col">Created</th><th scope="col">Source</th><th scope="col">Run</th><th scope="col">Tags</th></tr></thead>
          <tbody>
            {list.map((v) => (
              <tr key={v.version}>
                <td className="num">{v.version}</td>
                <td>{v.current_stage}</td>
                <td>{(byVersion.get(v.version) ?? []).map((a) => <span key={a} className="chip">@{a}</span>)}</td>
                <td>{fmtTime(Number(v.creation_timestamp))}</td>
                <td><code className="source">{v.source}</code></td>
                <td>{v.run_id ? <RunLink runId={v.run_id} /> : <span className="muted">none</span>}</td>
                <td>{(v.tags ?? []).map((t) => <span key={t.key} className="chip">{t.key}={t.value}</span>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A link to a version's source run; its experiment comes from runs.get (the same query the run page caches). */
function RunLink({ runId }: { runId: string }) {
  const run = useQuery({ queryKey: ['run', runId], queryFn: () => trpc.runs.get.query({ run_id: runId }), retry: false });
  if (!run.data) return <code title={run.isError ? errorMessage(run.error) : undefined}>{runId}</code>;
  const info = run.data.run.info;
  return <a href={href(`/experiments/${info.experiment_id}/runs/${runId}`)}>{info.run_name || runId}</a>;
}

function Aliases({ name, aliases, versions, canWrite }: { name: string; aliases: { alias: string; version: string }[]; versions: string[]; canWrite: boolean }) {
  const qc = useQueryClient();
  const [edit, setEdit] = useState<{ alias: string; version: string; isNew: boolean }>();
  const done = () => { setEdit(undefined); return qc.invalidateQueries({ queryKey: ['registeredModel', name] }); };
  const set = useMutation({ mutationFn: (a: { alias: string; version: string }) => trpc.registeredModels.setAlias.mutate({ name, ...a }), onSuccess: done });
  const del = useMutation({ mutationFn: (alias: string) => trpc.registeredModels.deleteAlias.mutate({ name, alias }), onSuccess: done });
  return (
    <div>
      <h2>Aliases</h2>
      {aliases.length === 0 ? <Empty>No aliases.{canWrite ? ' Point one at a version to load it as models:/<name>@<alias>.' : ''}</Empty> : (
        <table className="plain"><caption className="visually-hidden">Aliases</caption>
          <thead><tr><th scope="col">Alias</th><th scope="col">Version</th>{canWrite && <th scope="col">Actions</th>}</tr></thead>
          <tbody>{aliases.map((a) => (
            <tr key={a.alias}><td>@{a.alias}</td><td className="num">{a.version}</td>
              {canWrite && <td><div className="row">
                <button type="button" onClick={() => setEdit({ alias: a.alias, version: a.version, isNew: false })}>Move<span className="visually-hidden"> alias {a.alias}</span></button>
                <button type="button" className="danger" onClick={() => del.mutate(a.alias)}>Delete<span className="visually-hidden"> alias {a.alias}</span></button>
              </div></td>}
            </tr>
          ))}</tbody></table>
      )}
      {canWrite && !edit && <button type="button" onClick={() => setEdit({ alias: '', version: versions[0] ?? '', isNew: true })} disabled={!versions.length}>Set alias</button>}
      {edit && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); set.mutate({ alias: edit.alias.trim(), version: edit.version }); }}>
          <label>Alias name <input value={edit.alias} readOnly={!edit.isNew} onChange={(e) => setEdit({ ...edit, alias: e.target.value })} required autoFocus={edit.isNew} /></label>
          <label>Version <select value={edit.version} onChange={(e) => setEdit({ ...edit, version: e.target.value })} autoFocus={!edit.isNew}>
            {versions.map((v) => <option key={v} value={v}>{v}</option>)}</select></label>
          <button type="submit" className="primary">Save alias</button><button type="button" onClick={() => setEdit(undefined)}>Cancel</button>
        </form>
      )}
      {(set.error || del.error) && <p role="alert" className="error">{errorMessage(set.error ?? del.error)}</p>}
    </div>
  );
}

function ModelTags({ name, tags, canWrite }: { name: string; tags: { key: string; value: string }[]; canWrite: boolean }) {
  const qc = useQueryClient();
  const [edit, setEdit] = useState<{ key: string; value: string; isNew: boolean }>();
  const done = () => { setEdit(undefined); return qc.invalidateQueries({ queryKey: ['registeredModel', name] }); };
  const set = useMutation({ mutationFn: (t: { key: string; value: string }) => trpc.registeredModels.setTag.mutate({ name, ...t }), onSuccess: done });
  const del = useMutation({ mutationFn: (key: string) => trpc.registeredModels.deleteTag.mutate({ name, key }), onSuccess: done });
  return (
    <div>
      <h2>Tags</h2>
      {tags.length === 0 ? <Empty>No tags.</Empty> : (
        <table className="plain"><caption className="visually-hidden">Model tags</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Value</th>{canWrite && <th scope="col">Actions</th>}</tr></thead>
          <tbody>{tags.map((t) => (
            <tr key={t.key}><td>{t.key}</td><td>{t.value}</td>
              {canWrite && <td><div className="row">
                <button type="button" onClick={() => setEdit({ key: t.key, value: t.value, isNew: false })}>Edit<span className="visually-hidden"> tag {t.key}</span></button>
                <button type="button" className="danger" onClick={() => del.mutate(t.key)}>Delete<span className="visually-hidden"> tag {t.key}</span></button>
              </div></td>}</tr>
          ))}</tbody></table>
      )}
      {canWrite && !edit && <button type="button" onClick={() => setEdit({ key: '', value: '', isNew: true })}>Add tag</button>}
      {edit && (
        <form className="row" onSubmit={(e) => { e.preventDefault(); set.mutate({ key: edit.key, value: edit.value }); }}>
          <label>Tag name <input value={edit.key} readOnly={!edit.isNew} onChange={(e) => setEdit({ ...edit, key: e.target.value })} required autoFocus={edit.isNew} /></label>
          <label>Tag value <input value={edit.value} onChange={(e) => setEdit({ ...edit, value: e.target.value })} autoFocus={!edit.isNew} /></label>
          <button type="submit" className="primary">Save tag</button><button type="button" onClick={() => setEdit(undefined)}>Cancel</button>
        </form>
      )}
      {(set.error || del.error) && <p role="alert" className="error">{errorMessage(set.error ?? del.error)}</p>}
    </div>
  );
}

/** Run page section: the versions registered from this run, each linking to its model page; nothing when none. */
export function RunModelVersions({ runId }: { runId: string }) {
  const q = useQuery({
    queryKey: ['runModelVersions', runId],
    queryFn: () => trpc.modelVersions.search.query({ filter: `run_id = ${filterString(runId)}`, max_results: 1000 }),
  });
  const list = q.data?.model_versions ?? [];
  if (!list.length) return null;
  return (
    <div>
      <h2>Registered model versions</h2>
      <ul>{list.map((v) => (
        <li key={`${v.name}/${v.version}`}><a href={href(`/models/${encodeURIComponent(v.name)}`)}>{v.name} version {v.version}</a> <span className="muted">({v.current_stage})</span></li>
      ))}</ul>
    </div>
  );
}
