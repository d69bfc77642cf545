import { useEffect, useState, type FormEvent, type MouseEvent } from 'react';
import { api, storedToken, storeToken, whenUnauthorized, type Me } from './api.ts';
import { completeSignIn, isSignInResponse, loginOptions, startSignIn, type LoginOptions } from './oidc.ts';
import { useHashRoute } from './hooks.ts';
import { Technical } from './views/Technical.tsx';
import { Messages } from './views/Messages.tsx';
import { MessageDetail } from './views/MessageDetail.tsx';
import { Transaction } from './views/Transaction.tsx';
import { Exceptions } from './views/Exceptions.tsx';
import { MappingFailures } from './views/MappingFailures.tsx';
import { Executive } from './views/Executive.tsx';
import { Configuration } from './views/Configuration.tsx';

const SECTIONS = [
  { path: '/ops', label: 'Technical' },
  { path: '/messages', label: 'Messages' },
  { path: '/exceptions', label: 'Exceptions' },
  { path: '/mappings', label: 'Mapping failures' },
  { path: '/executive', label: 'Executive' },
  { path: '/config', label: 'Configuration' },
] as const;

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [returning] = useState(isSignInResponse);
  const [checking, setChecking] = useState(returning || storedToken() !== null);
  const [signInError, setSignInError] = useState<string>();

  useEffect(() => {
    whenUnauthorized(() => {
      storeToken(null);
      setMe(null);
    });
    if (returning) {
      // back from the identity provider: finish the sign-in this tab started
      completeSignIn()
        .then(async (signedIn) => {
          const who = await api<Me>('/api/v1/me', { token: signedIn.token });
          storeToken(signedIn.token);
          setMe(who);
        })
        .catch((caught: Error) => setSignInError(caught.message))
        .finally(() => setChecking(false));
      return;
    }
    if (!storedToken()) return;
    api<Me>('/api/v1/me')
      .then(setMe)
      .catch(() => storeToken(null))
      .finally(() => setChecking(false));
  }, [returning]);

  if (checking) return <p className="loading">{returning ? 'Completing sign-in…' : 'Checking your session…'}</p>;
  if (!me) return <Login onLogin={setMe} initialError={signInError} />;
  return <Shell me={me} onLogout={() => (storeToken(null), setMe(null))} />;
}

function Login(props: { onLogin: (me: Me) => void; initialError?: string | undefined }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(props.initialError);
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState<{ options?: LoginOptions; unavailable?: string }>();
  useEffect(() => {
    loginOptions()
      .then(setOidc)
      .catch((caught: Error) => setOidc({ unavailable: caught.message }));
  }, []);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await api<Me>('/api/v1/me', { token: token.trim() });
      storeToken(token.trim());
      props.onLogin(me);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const redirect = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await startSignIn(oidc!.options!);
    } catch (caught) {
      setError((caught as Error).message);
      setBusy(false);
    }
  };
  return (
    <main className="login">
      <h1>Carelane</h1>
      <p className="muted">Integration console</p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {oidc?.options && (
        <div className="sso">
          <button type="button" onClick={redirect} disabled={busy} aria-describedby="sso-help">
            Sign in with your organisation account
          </button>
          <p id="sso-help" className="muted small">
            at {new URL(oidc.options.issuer).host}
          </p>
        </div>
      )}
      {oidc?.unavailable && <p className="notice small">Sign-in with your organisation account is unavailable: {oidc.unavailable}</p>}
      <form onSubmit={submit} aria-describedby="login-help">
        <label htmlFor="token">API token or OpenID Connect access token</label>
        <input id="token" name="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} required autoFocus={!oidc?.options} />
        <button type="submit" className={oidc?.options ? 'secondary' : undefined} disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p id="login-help" className="muted small">
        The token stays in this browser tab only (session storage) and is sent to this server's API with each request; signing out removes it.
        {oidc?.options
          ? ' Your organisation account decides your role here.'
          : ' With auth.oidc configured, paste an access token issued by your identity provider; its roles claim decides what you may do.'}{' '}
        See docs/console.md.
      </p>
    </main>
  );
}

function Shell(props: { me: Me; onLogout: () => void }) {
  const route = useHashRoute();
  const section = SECTIONS.find((s) => route.path === s.path || route.path.startsWith(`${s.path}/`)) ?? (route.path.startsWith('/transactions') ? SECTIONS[1] : SECTIONS[0]);
  const can = (permission: string) => props.me.permissions.includes(permission);
  useEffect(() => {
    document.title = `${section.label} · Carelane`;
  }, [section.label]);
  return (
    <div className="shell">
      {/* the hash holds the route: following #main would leave this screen, so the link moves focus itself */}
      <a className="skip" href="#main" onClick={skipToContent}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Carelane</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((s) => (
              <li key={s.path}>
                <a href={`#${s.path}`} aria-current={s === section ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who" title={`${props.me.kind} ${props.me.name}`}>
          {props.me.name} · <strong>{props.me.role}</strong>
        </span>
        <button type="button" className="secondary" onClick={props.onLogout}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <View path={route.path} params={route.params} can={can} />
      </main>
    </div>
  );
}

function View(props: { path: string; params: URLSearchParams; can: (permission: string) => boolean }) {
  const { path, params, can } = props;
  const message = /^\/messages\/(\d+)$/.exec(path);
  if (message) return <MessageDetail id={Number(message[1])} can={can} />;
  const transaction = /^\/transactions\/(.+)$/.exec(path);
  if (transaction) return <Transaction id={decodeURIComponent(transaction[1]!)} />;
  switch (path) {
    case '/messages':
      return <Messages params={params} can={can} />;
    case '/exceptions':
      return <Exceptions params={params} can={can} />;
    case '/mappings':
      return <MappingFailures can={can} />;
    case '/executive':
      return <Executive />;
    case '/config':
      return <Configuration can={can} />;
    default:
      return <Technical />;
  }
}

function skipToContent(event: MouseEvent<HTMLAnchorElement>) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

export function Forbidden(props: { what: string; permission: string }) {
  return (
    <p className="notice">
      Your role may not {props.what} (needs <code>{props.permission}</code>).
    </p>
  );
}
