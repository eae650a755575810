import { lazy, Suspense, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { errorCode, errorMessage, getSession, preloadedOr, signIn, signOut, trpc } from './api.ts';
import { href, parseHash, useHash } from './router.ts';
import { Experiments } from './views/Experiments.tsx';
import { Projects } from './views/Projects.tsx';
import { Runs } from './views/Runs.tsx';
import { Loading, Problem } from './views/common.tsx';

const RunPage = lazy(() => import('./views/Run.tsx'));
const Compare = lazy(() => import('./views/Compare.tsx'));
// models section (issue 10 item 6)
const Models = lazy(() => import('./views/Models.tsx').then((m) => ({ default: m.Models })));
const ModelPage = lazy(() => import('./views/Model.tsx'));

export function App() {
  const session = useQuery({ queryKey: ['session'], queryFn: getSession, staleTime: Infinity });
  if (session.isPending) return <Loading what="session" />;
  if (session.isError) return <main><Problem error={session.error} /></main>;
  if (!session.data) return <SignIn />;
  return <Shell username={session.data.user.username} />;
}

function SignIn() {
  const qc = useQueryClient();
  const [mode, setMode] = useState<'token' | 'password'>('token');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      await signIn(mode === 'token' ? { token: String(f.get('token')) } : { username: String(f.get('username')), password: String(f.get('password')) });
      await qc.invalidateQueries();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin">
      <h1>Sign in to mltrack</h1>
      <div className="row" role="group" aria-label="Sign-in method">
        <label><input type="radio" name="mode" checked={mode === 'token'} onChange={() => setMode('token')} /> Access token</label>
        <label><input type="radio" name="mode" checked={mode === 'password'} onChange={() => setMode('password')} /> Username and password</label>
      </div>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        {mode === 'token' ? (
          <>
            <label htmlFor="token">Personal access token</label>
            <input id="token" name="token" type="password" autoComplete="off" required />
            <p className="muted">The token printed at the first start works, or one from <code>npm run admin -- token create</code>.</p>
          </>
        ) : (
          <>
            <label htmlFor="username">Username</label>
            <input id="username" name="username" autoComplete="username" required />
            <label htmlFor="password">Password</label>
            <input id="password" name="password" type="password" autoComplete="current-password" required />
            <p className="muted">An administrator sets passwords with <code>npm run admin -- user password --user NAME</code>.</p>
          </>
        )}
        <button className="primary" type="submit" disabled={busy}>Sign in</button>
        {error && <p id="signin-error" role="alert" className="error">{error}</p>}
      </form>
    </main>
  );
}

function Shell({ username }: { username: string }) {
  const qc = useQueryClient();
  const hash = useHash();
  const { route, query } = parseHash(hash);
  const project = useQuery({ queryKey: ['project'], queryFn: () => preloadedOr('ui.project', undefined, () => trpc.ui.project.query()) });
  async function out() {
    await signOut();
    // forget everything the signed-in user saw, then show the sign-in page
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'session' });
    qc.setQueryData(['session'], null);
  }
  let body;
  if (project.isError) {
    const code = errorCode(project.error);
    body = code === 'RESOURCE_DOES_NOT_EXIST'
      ? <Problem title="Project not found" error="This project does not exist, or you are not a member of it. Pick one of your projects, or ask its owner to add you." action={<a href={href('/projects')}>Your projects</a>} />
      : code === 'UNAUTHENTICATED' ? <Problem title="Signed out" error="Your session has ended. Reload the page to sign in again." /> : <Problem error={project.error} />;
  } else if (project.isPending) body = <Loading what="project" />;
  else {
    const canWrite = project.data.canWrite;
    body = (
      <Suspense fallback={<Loading what="page" />}>
        {route.name === 'experiments' && <Experiments canWrite={canWrite} query={query} />}
        {route.name === 'projects' && <Projects />}
        {route.name === 'runs' && <Runs experimentId={route.experimentId} query={query} canWrite={canWrite} />}
        {route.name === 'run' && <RunPage experimentId={route.experimentId} runId={route.runId} query={query} canWrite={canWrite} />}
        {route.name === 'compare' && <Compare experimentId={route.experimentId} query={query} />}
        {/* models section (issue 10 item 6) */}
        {route.name === 'models' && <Models query={query} />}
        {route.name === 'model' && <ModelPage name={route.modelName} canWrite={canWrite} />}
        {route.name === 'notFound' && <Problem title="Page not found" error="There is no page at this address." action={<a href={href('/')}>Experiments</a>} />}
      </Suspense>
    );
  }
  return (
    <>
      <header className="top">
        <a className="brand" href={href('/')}>mltrack</a>
        {project.data && <span className="muted">{project.data.path}</span>}
        <a href={href('/projects')}>Projects</a>
        <a href={href('/models')}>Models</a>{/* models section (issue 10 item 6) */}
        <span className="spacer" />
        <span>Signed in as <strong>{username}</strong>{project.data && !project.data.canWrite ? ' (read only)' : ''}</span>
        <button type="button" onClick={out}>Sign out</button>
      </header>
      <main>{body}</main>
    </>
  );
}
