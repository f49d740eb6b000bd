// The demo app: sign in with a code, buy from the catalog through Checkout, claim on the success
// page, then use what was bought (quota bars, credits, metronome sessions), the portal and the
// simulated mailbox. Everything goes through @tollgate/client.

import { useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { formatPrice, unwrap, type EntitlementsView } from "../src/index.js";
import { Paywall, TollgateProvider, featureState, useCredits, useEntitlements, useLoaded, useTollgate } from "../src/react.js";
import { Metronome } from "./metronome.js";
import { Account, Card, Problem, SignIn, apiBase, client, useMe, useSignedIn } from "./shared.js";

type Refresh = () => void;

/** Runs an action, keeping its error (or its success message) for the card to show. */
function useAction() {
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<string | void>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone((await action()) ?? undefined);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { error, done, busy, run };
}

/** The success page: Checkout sent the buyer back with `session_id`; claim it once. */
function Claim({ refresh }: { refresh: Refresh }) {
  const tollgate = useTollgate();
  const signedIn = useSignedIn();
  const session = new URLSearchParams(window.location.search).get("session_id");
  const [state, setState] = useState<{ plan?: string; error?: unknown }>();
  const started = useRef(false);
  useEffect(() => {
    if (!session || !signedIn || started.current) return;
    started.current = true;
    tollgate.claim(session).then(
      (claimed) => {
        setState({ plan: claimed.plan });
        window.history.replaceState(null, "", window.location.pathname);
        refresh();
      },
      (error) => setState({ error }),
    );
  }, [session, signedIn, tollgate, refresh]);
  if (!session && !state) return null;
  return (
    <Card title="Payment complete" name="claim">
      {!signedIn && <p>Sign in with the email you paid with to claim your purchase.</p>}
      {signedIn && !state && <p aria-busy="true">Claiming your purchase…</p>}
      {state?.plan && (
        <p className="ok" data-claimed={state.plan}>
          Thank you! Your purchase is claimed: you are on <b>{state.plan}</b>.
        </p>
      )}
      <Problem error={state?.error} />
    </Card>
  );
}

/** What the user holds: flags, and a bar for every capped or metered feature. */
function Entitlements({ held, refresh }: { held?: EntitlementsView; refresh: Refresh }) {
  const tollgate = useTollgate();
  const action = useAction();
  if (!held) return <Card title="Your plan" name="entitlements" />;
  const use = (feature: string) =>
    action.run(async () => {
      await tollgate.recordUsage(feature, { idempotencyKey: crypto.randomUUID() });
      refresh();
      return `Used one ${feature}.`;
    });
  return (
    <Card title="Your plan" name="entitlements">
      <p>
        Plan <b data-plan={held.plan}>{held.plan}</b>
        {held.plan_ends_at ? ` until ${new Date(held.plan_ends_at).toLocaleDateString()}` : ""}
        {held.subscription ? ` · subscription ${held.subscription.status}, ${held.subscription.interval ?? ""}ly` : ""}
        {held.subscription?.trial_end ? ` · trial ends ${new Date(held.subscription.trial_end).toLocaleDateString()}` : ""}
      </p>
      <ul className="features">
        {Object.entries(held.features).map(([name, value]) => {
          const state = featureState(held, name);
          if (typeof value === "boolean")
            return (
              <li key={name} data-feature={name} data-allowed={String(value)}>
                {value ? "✓" : "✗"} {name}
              </li>
            );
          const metered = state.resetsAt !== undefined;
          return (
            <li key={name} data-feature={name} data-used={state.used} data-limit={state.limit ?? "unlimited"}>
              <span className="name">{name}</span>
              {state.limit == null ? (
                <span className="unlimited">{state.used} used · unlimited</span>
              ) : (
                <>
                  <meter min={0} max={state.limit} value={state.used} high={state.limit * 0.8} optimum={0} />
                  <span>
                    {state.used} of {state.limit}
                    {metered ? ` · resets ${new Date(state.resetsAt!).toLocaleString()}` : ""}
                  </span>
                </>
              )}
              {metered && (
                <button type="button" className="small" disabled={action.busy} onClick={() => use(name)}>
                  Use one
                </button>
              )}
            </li>
          );
        })}
      </ul>
      <Problem error={action.error} />
    </Card>
  );
}

/** The catalog's plans (the client's Paywall) and credit packs, each bought through Checkout. */
function Plans({ held }: { held?: EntitlementsView }) {
  const tollgate = useTollgate();
  const catalog = useLoaded((c) => c.catalog());
  const action = useAction();
  const buy = (choice: { plan?: string; pack?: string; interval?: string }) =>
    action.run(async () => {
      await tollgate.redirectToCheckout(choice);
    });
  return (
    <Card title="Plans" name="plans">
      <Paywall catalog={catalog.data} entitlements={held} onChoose={buy} />
      {catalog.data && catalog.data.packs.length > 0 && (
        <div className="packs">
          <h3>Credit packs</h3>
          {catalog.data.packs.map((pack) => (
            <button key={pack.key} type="button" data-pack={pack.key} onClick={() => buy({ pack: pack.key })}>
              {pack.name}: {formatPrice(pack.price.amount, pack.price.currency)}
            </button>
          ))}
        </div>
      )}
      <Problem error={action.error ?? catalog.error} />
    </Card>
  );
}

function Credits({ refresh }: { refresh: Refresh }) {
  const credits = useCredits();
  const action = useAction();
  const spend = (amount: number) =>
    action.run(async () => {
      const spent = await credits.debit(amount, { reason: "demo", idempotencyKey: crypto.randomUUID() });
      refresh();
      return `Spent ${amount}; ${spent.balance} left.`;
    });
  return (
    <Card title="Credits" name="credits">
      <p className="balance">
        <b data-balance={credits.balance ?? ""}>{credits.balance ?? "…"}</b> credits
      </p>
      <button type="button" disabled={action.busy} onClick={() => spend(10)}>
        Spend 10 credits
      </button>
      {action.done && <p className="ok">{action.done}</p>}
      <Problem error={action.error} />
      <table>
        <tbody>
          {credits.entries.slice(0, 5).map((entry) => (
            <tr key={entry.id}>
              <td>{entry.delta > 0 ? `+${entry.delta}` : entry.delta}</td>
              <td>{entry.reason}</td>
              <td>{entry.balance_after}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

/** Pace to BPM, an audible click at that tempo, and the sessions logged (capped by plan). */
function Metronomes({ refresh }: { refresh: Refresh }) {
  const tollgate = useTollgate();
  const [pace, setPace] = useState("5:30");
  const [unit, setUnit] = useState<"km" | "mi">("km");
  const [bpm, setBpm] = useState<number>();
  const [clicks, setClicks] = useState(0);
  const [playing, setPlaying] = useState(false);
  const metronome = useRef<Metronome>(undefined);
  const sessions = useLoaded(async (c) =>
    c.signedIn ? unwrap(await c.api.GET("/api/sessions", { params: { query: { kind: "metronome", limit: 10 } } })) : undefined,
  );
  const action = useAction();
  useEffect(() => () => metronome.current?.stop(), []);

  const convert = () =>
    action.run(async () => {
      setBpm(unwrap(await tollgate.api.GET("/api/pace-to-bpm", { params: { query: { pace, unit } } })).bpm);
    });
  const toggle = () => {
    metronome.current ??= new Metronome(setClicks);
    if (playing) metronome.current.stop();
    else if (bpm) metronome.current.start(bpm);
    setPlaying(!playing);
  };
  const log = () =>
    action.run(async () => {
      unwrap(await tollgate.api.POST("/api/sessions", { body: { kind: "metronome", data: { bpm, pace, unit } } }));
      sessions.reload();
      refresh();
      return "Session logged.";
    });
  const remove = (id: string) =>
    action.run(async () => {
      unwrap(await tollgate.api.DELETE("/api/sessions/{id}", { params: { path: { id } } }));
      sessions.reload();
      refresh();
    });

  return (
    <Card title="Metronome" name="metronome">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void convert();
        }}
      >
        <label>
          Pace
          <input name="pace" value={pace} onChange={(e) => setPace(e.target.value)} size={6} />
        </label>
        <select name="unit" value={unit} onChange={(e) => setUnit(e.target.value as "km" | "mi")}>
          <option value="km">per km</option>
          <option value="mi">per mile</option>
        </select>
        <button type="submit">To BPM</button>
      </form>
      {bpm !== undefined && (
        <div className="tempo">
          <b data-bpm={bpm}>{bpm}</b> BPM
          <button type="button" onClick={toggle} data-playing={String(playing)}>
            {playing ? "Stop" : "Start"} click
          </button>
          <span className="clicks" data-clicks={clicks}>
            {clicks} clicks
          </span>
          <button type="button" disabled={action.busy} onClick={log}>
            Log session
          </button>
        </div>
      )}
      {action.done && <p className="ok">{action.done}</p>}
      <Problem error={action.error} />
      <ul className="sessions">
        {(sessions.data?.sessions ?? []).map((s) => (
          <li key={s.id} data-session={s.id}>
            {String(s.data.bpm ?? "?")} BPM ({String(s.data.pace ?? "")} /{String(s.data.unit ?? "km")}) ·{" "}
            {new Date(s.created_at).toLocaleString()}
            <button type="button" className="link" onClick={() => remove(s.id)}>
              delete
            </button>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function Billing() {
  const tollgate = useTollgate();
  const action = useAction();
  const open = () =>
    action.run(async () => {
      window.location.assign(await tollgate.portal());
    });
  return (
    <Card title="Billing" name="billing">
      <p>Cards, invoices, switching plan and cancelling are in Stripe's customer portal.</p>
      <button type="button" disabled={action.busy} onClick={open}>
        Manage billing
      </button>
      <Problem error={action.error} />
    </Card>
  );
}

type Mail = { to: string; subject: string; text: string };

/** The dev server's outbox (`GET /dev/mailbox`): sign-in codes and billing emails. Hidden where
 * there is none (a deployment sends real email). */
function Mailbox() {
  const [mails, setMails] = useState<Mail[] | null>([]);
  useEffect(() => {
    let live = true;
    const load = async () => {
      const answer = await fetch(`${apiBase()}/dev/mailbox`).catch(() => undefined);
      if (!live) return;
      if (!answer?.ok) return setMails(null);
      setMails(((await answer.json()) as Mail[]).reverse());
    };
    void load();
    const timer = setInterval(load, 1500);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  if (mails === null) return null;
  return (
    <Card title="Mailbox (development)" name="mailbox">
      {mails.length === 0 && <p>No email sent yet.</p>}
      {mails.slice(0, 8).map((mail, i) => (
        <details key={mails.length - i} open={i === 0} className="mail">
          <summary>
            <b>{mail.subject}</b> to {mail.to}
          </summary>
          <pre>{mail.text}</pre>
        </details>
      ))}
    </Card>
  );
}

function App() {
  const signedIn = useSignedIn();
  const held = useEntitlements({ fresh: true });
  const me = useMe();
  const refresh = () => held.reload();
  return (
    <>
      <header>
        <h1>Tollgate demo</h1>
        <nav>
          <a href="admin">Admin</a> · <a href={`${apiBase()}/docs`}>API reference</a>
        </nav>
        {signedIn && <Account me={me.data} />}
      </header>
      <main>
        <Claim refresh={refresh} />
        {!signedIn ? (
          <SignIn hint={<>In development the code is in the mailbox below.</>} />
        ) : (
          <>
            <Entitlements held={held.entitlements} refresh={refresh} />
            <Plans held={held.entitlements} />
            <Credits refresh={refresh} />
            <Metronomes refresh={refresh} />
            <Billing />
          </>
        )}
        <Mailbox />
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <TollgateProvider client={client}>
    <App />
  </TollgateProvider>,
);
