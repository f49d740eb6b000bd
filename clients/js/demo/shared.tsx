// What the demo's two pages share: the client (its API base from the page's
// `<meta name="tollgate-url">`, else this page's origin), sign-in and error messages.

import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { createClient, localStorageStore, TollgateError, type Schemas } from "../src/index.js";
import { useLoaded, useTollgate } from "../src/react.js";

/** Where Tollgate answers: the meta tag's URL when the page is hosted elsewhere. */
export function apiBase(): string {
  const configured = document.querySelector('meta[name="tollgate-url"]')?.getAttribute("content");
  return configured || window.location.origin;
}

export const client = createClient({ baseUrl: apiBase(), store: localStorageStore() });

/** An error as a person reads it, with the API's code. */
function explain(error: unknown): string {
  if (error instanceof TollgateError) return `${error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}

/** Re-renders when the tokens change. */
export function useSignedIn(): boolean {
  const tollgate = useTollgate();
  const [signedIn, setSignedIn] = useState(tollgate.signedIn);
  useEffect(() => tollgate.subscribe(() => setSignedIn(tollgate.signedIn)), [tollgate]);
  return signedIn;
}

export function Card({ title, name, children }: { title: string; name: string; children?: ReactNode }) {
  return (
    <section className="card" data-card={name} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="problem" role="alert">
      {explain(error)}
    </p>
  );
}

/** Sign-in with an emailed one-time code, in two steps. */
export function SignIn({ hint }: { hint?: ReactNode }) {
  const tollgate = useTollgate();
  const [email, setEmail] = useState("");
  const [code, setCode] = useState("");
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const run = (step: () => Promise<unknown>) => async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await step();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const send = run(async () => {
    await tollgate.requestCode(email);
    setSent(true);
  });
  const verify = run(() => tollgate.verifyCode(email, code.trim()));

  return (
    <Card title="Sign in" name="sign-in">
      {!sent ? (
        <form onSubmit={send}>
          <label>
            Email
            <input type="email" name="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <button type="submit" disabled={busy}>
            Email me a code
          </button>
        </form>
      ) : (
        <form onSubmit={verify}>
          <p>
            A six-digit code is on its way to <b>{email}</b>. {hint}
          </p>
          <label>
            Code
            <input name="code" inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} />
          </label>
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <button type="button" className="link" onClick={() => setSent(false)}>
            Use another email
          </button>
        </form>
      )}
      <Problem error={error} />
    </Card>
  );
}

/** Who is signed in (`GET /api/me`), again whenever the tokens change. Tokens the API no
 * longer accepts (expired, revoked, another deployment's) are dropped. */
export function useMe() {
  return useLoaded(async (c) => {
    if (!c.signedIn) return undefined;
    try {
      return await c.me();
    } catch (e) {
      if (e instanceof TollgateError && e.status === 401) c.signOut();
      throw e;
    }
  });
}

/** The signed-in user and a way out. */
export function Account({ me }: { me?: Schemas["Me"] }) {
  const tollgate = useTollgate();
  return (
    <div className="account">
      {me && (
        <span data-account={me.user.email}>
          {me.user.email} · <b data-plan={me.plan}>{me.plan}</b>
          {me.admin ? " · administrator" : ""}
        </span>
      )}
      <button type="button" className="link" onClick={() => tollgate.signOut()}>
        Sign out
      </button>
    </div>
  );
}
