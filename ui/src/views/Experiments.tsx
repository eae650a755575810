import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { errorMessage, trpc } from '../api.ts';
import { href, setQuery } from '../router.ts';
import { Empty, fmtTime, Loading, Problem } from './common.tsx';

export function Experiments({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }) {
  const qc = useQueryClient();
  const search = query.get('q') ?? '';
  const deleted = query.get('deleted') === '1';
  const list = useQuery({ queryKey: ['experiments', search, deleted], queryFn: () => trpc.ui.experiments.query({ search: search || undefined, deleted }) });
  const [name, setName] = useState('');
  const [renaming, setRenaming] = useState<string>();
  const [newName, setNewName] = useState('');
  const done = () => qc.invalidateQueries({ queryKey: ['experiments'] });
  const create = useMutation({ mutationFn: (n: string) => trpc.experiments.create.mutate({ name: n }), onSuccess: () => { setName(''); return done(); } });
  const rename = useMutation({ mutationFn: (v: { id: string; name: string }) => trpc.experiments.update.mutate({ experiment_id: v.id, new_name: v.name }), onSuccess: () => { setRenaming(undefined); return done(); } });
  const remove = useMutation({ mutationFn: (id: string) => trpc.experiments.delete.mutate({ experiment_id: id }), onSuccess: done });
  const restore = useMutation({ mutationFn: (id: string) => trpc.experiments.restore.mutate({ experiment_id: id }), onSuccess: done });
  const failure = create.error ?? rename.error ?? remove.error ?? restore.error;
  return (
    <section>
      <h1>Experiments</h1>
      <div className="row">
        <label>Search <input type="search" value={search} onChange={(e) => setQuery({ q: e.target.value || undefined })} placeholder="name contains…" /></label>
        <label><input type="checkbox" checked={deleted} onChange={(e) => setQuery({ deleted: e.target.checked ? '1' : undefined })} /> Show deleted</label>
      </div>
      {canWrite && (
        <form className="row" style={{ marginTop: '.75rem' }} onSubmit={(e) => { e.preventDefault(); if (name.trim()) create.mutate(name.trim()); }}>
          <label>New experiment <input value={name} onChange={(e) => setName(e.target.value)} /></label>
          <button type="submit" className="primary" disabled={!name.trim() || create.isPending}>Create</button>
        </form>
      )}
      {failure && <p role="alert" className="error">{errorMessage(failure)}</p>}
      {list.isPending ? <Loading what="experiments" /> : list.isError ? <Problem error={list.error} /> : list.data.length === 0 ? (
        <Empty>{search ? `No experiment matches “${search}”.` : deleted ? 'No deleted experiments.' : canWrite ? 'No experiments yet: create one above, or log a run with the MLflow client.' : 'No experiments yet.'}</Empty>
      ) : (
        <table className="plain" style={{ marginTop: '.75rem' }}>
          <caption className="visually-hidden">Experiments</caption>
          <thead><tr><th scope="col">ID</th><th scope="col">Name</th><th scope="col">Runs</th><th scope="col">Created</th>{canWrite && <th scope="col">Actions</th>}</tr></thead>
          <tbody>
            {list.data.map((e) => (
              <tr key={e.experimentId}>
                <td>{e.experimentId}</td>
                <td>
                  {renaming === e.experimentId ? (
                    <form className="row" onSubmit={(ev) => { ev.preventDefault(); rename.mutate({ id: e.experimentId, name: newName }); }}>
                      <input aria-label={`New name for ${e.name}`} value={newName} onChange={(ev) => setNewName(ev.target.value)} autoFocus />
                      <button type="submit">Save</button><button type="button" onClick={() => setRenaming(undefined)}>Cancel</button>
                    </form>
                  ) : deleted ? e.name : <a href={href(`/experiments/${e.experimentId}`)}>{e.name}</a>}
                </td>
                <td className="num">{e.runs}</td>
                <td>{fmtTime(e.creationTime)}</td>
                {canWrite && (
                  <td className="row">
                    {deleted ? <button type="button" onClick={() => restore.mutate(e.experimentId)}>Restore<span className="visually-hidden"> {e.name}</span></button> : (
                      <>
                        <button type="button" onClick={() => { setRenaming(e.experimentId); setNewName(e.name); }}>Rename<span className="visually-hidden"> {e.name}</span></button>
                        <button type="button" className="danger" onClick={() => remove.mutate(e.experimentId)}>Delete<span className="visually-hidden"> {e.name}</span></button>
                      </>
                    )}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
