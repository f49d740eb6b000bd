// React bindings: a provider, hooks that follow the signed-in user's tokens, and a paywall
// that renders what the catalog sells.

import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import {
  formatPrice,
  type Catalog,
  type CreditHistory,
  type EntitlementsView,
  type Plan,
  type Tollgate,
} from "./index.js";

const Context = createContext<Tollgate | null>(null);

export function TollgateProvider({ client, children }: { client: Tollgate; children?: ReactNode }) {
  return <Context.Provider value={client}>{children}</Context.Provider>;
}

export function useTollgate(): Tollgate {
  const client = useContext(Context);
  if (!client) throw new Error("useTollgate needs a <TollgateProvider client={...}> above it");
  return client;
}

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** Loads `load` now, again on `reload`, and again whenever the tokens change. `initial` is what
 * the first render shows (data loaded before rendering, e.g. on a server). */
export function useLoaded<T>(load: (client: Tollgate) => Promise<T>, initial?: T): Loaded<T> {
  const client = useTollgate();
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    data: initial,
    loading: initial === undefined,
  });
  const [round, setRound] = useState(0);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  useEffect(() => client.subscribe(reload), [client, reload]);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load(client).then(
      (data) => current && setState({ data, loading: false }),
      (error) => current && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      current = false;
    };
    // `load` is the caller's; a new function each render must not reload.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, round]);
  return { ...state, reload };
}

/** What the user holds (the offline token while valid; `fresh` asks the API). */
export function useEntitlements(options: { fresh?: boolean; initial?: EntitlementsView } = {}) {
  const loaded = useLoaded((c) => (c.signedIn ? c.entitlements({ fresh: options.fresh }) : Promise.resolve(undefined)), options.initial);
  return { ...loaded, entitlements: loaded.data };
}

/** The credits balance and its recent ledger, and a debit that reloads them. */
export function useCredits(options: { initial?: CreditHistory } = {}) {
  const client = useTollgate();
  const loaded = useLoaded((c) => (c.signedIn ? c.credits() : Promise.resolve(undefined)), options.initial);
  const debit = useCallback(
    async (amount: number, opts: { reason?: string; idempotencyKey?: string } = {}) => {
      const spent = await client.debit(amount, opts);
      loaded.reload();
      return spent;
    },
    [client, loaded.reload],
  );
  return { ...loaded, balance: loaded.data?.balance, entries: loaded.data?.entries ?? [], debit };
}

export interface FeatureState {
  /** The flag is on, or there is room left under the cap or quota. */
  allowed: boolean;
  used?: number;
  /** null: unlimited. */
  limit?: number | null;
  remaining?: number | null;
  resetsAt?: string;
  loading: boolean;
}

/** One feature as the user's plan allows it. */
export function featureState(entitlements: EntitlementsView | undefined, name: string): FeatureState {
  const value = entitlements?.features?.[name];
  if (value === undefined) return { allowed: false, loading: entitlements === undefined };
  if (typeof value === "boolean") return { allowed: value, loading: false };
  const remaining = value.limit == null ? null : Math.max(0, value.limit - value.used);
  return {
    allowed: remaining === null || remaining > 0,
    used: value.used,
    limit: value.limit,
    remaining,
    resetsAt: "resets_at" in value ? value.resets_at : undefined,
    loading: false,
  };
}

export function useFeature(name: string, options: { initial?: EntitlementsView } = {}): FeatureState {
  const { entitlements, loading } = useEntitlements({ fresh: true, initial: options.initial });
  const state = featureState(entitlements, name);
  return { ...state, loading: loading && entitlements === undefined };
}

/** A plan's prices as labels: `$49.00 once`, `$9.00 / month`, and its trial. */
export function planPrices(plan: Plan): { label: string; buy: { plan: string; interval?: string } }[] {
  const labels: { label: string; buy: { plan: string; interval?: string } }[] = [];
  if (plan.once) labels.push({ label: `${formatPrice(plan.once.amount, plan.once.currency)} once`, buy: { plan: plan.key } });
  for (const [interval, price] of Object.entries(plan.subscription?.prices ?? {})) {
    const trial = plan.subscription?.trial_days ? ` (${plan.subscription.trial_days}-day trial)` : "";
    labels.push({ label: `${formatPrice(price.amount, price.currency)} / ${interval}${trial}`, buy: { plan: plan.key, interval } });
  }
  return labels;
}

export interface PaywallProps {
  /** With a feature: its children while the user has it, the plans that sell it otherwise. */
  feature?: string;
  /** The catalog to show (loaded when not given). */
  catalog?: Catalog;
  entitlements?: EntitlementsView;
  /** What a buy button does (default: Checkout, then the page Checkout returns to). */
  onChoose?: (choice: { plan: string; interval?: string }) => void;
  children?: ReactNode;
}

/** What the catalog sells, each price with a buy button; or, for a `feature` the user has,
 * the children. */
export function Paywall({ feature, catalog, entitlements, onChoose, children }: PaywallProps) {
  const client = useTollgate();
  const sold = useLoaded((c) => c.catalog(), catalog);
  const held = useEntitlements({ fresh: true, initial: entitlements });
  if (feature && featureState(held.entitlements, feature).allowed) return <>{children}</>;
  if (!sold.data) return <div className="tollgate-paywall" aria-busy="true" />;
  const choose = onChoose ?? ((choice) => void client.redirectToCheckout(choice));
  const plans = sold.data.plans.filter((p) => !p.default);
  return (
    <div className="tollgate-paywall">
      {plans.map((plan) => (
        <section key={plan.key} className="tollgate-plan" data-plan={plan.key}>
          <h3>
            {plan.name}
            {held.entitlements?.plan === plan.key ? " (your plan)" : ""}
          </h3>
          <ul>
            {Object.entries(plan.features).map(([name, grant]) => (
              <li key={name}>{describe(name, grant)}</li>
            ))}
          </ul>
          {planPrices(plan).map(({ label, buy }) => (
            <button key={label} type="button" onClick={() => choose(buy)} data-interval={buy.interval ?? "once"}>
              {label}
            </button>
          ))}
        </section>
      ))}
    </div>
  );
}

function describe(name: string, grant: unknown): string {
  if (grant === true) return name;
  if (grant === false) return `no ${name}`;
  if (grant === "unlimited") return `${name}: unlimited`;
  if (typeof grant === "number") return `${name}: ${grant}`;
  const quota = grant as { limit: number; per: string };
  return `${name}: ${quota.limit} a ${quota.per}`;
}
