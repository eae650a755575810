import { useQuery } from '@tanstack/react-query';
import { instanceTrpc } from '../api.ts';
import { Empty, Loading, Problem } from './common.tsx';

export function Projects() {
  const q = useQuery({ queryKey: ['projects'], queryFn: () => instanceTrpc.ui.projects.query() });
  if (q.isPending) return <Loading what="projects" />;
  if (q.isError) return <Problem error={q.error} />;
  return (
    <section>
      <h1>Projects</h1>
      {q.data.length === 0 ? <Empty>You are not a member of any project yet. Ask an administrator to add you.</Empty> : (
        <ul>
          {q.data.map((p) => (
            <li key={p.id}><a href={`/api/v4/projects/${p.id}/ml/mlflow/`}>{p.path}</a> <span className="muted">({p.visibility})</span></li>
          ))}
        </ul>
      )}
    </section>
  );
}
