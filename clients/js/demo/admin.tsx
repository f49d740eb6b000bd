// The admin dashboard: webhook outcomes per day, subscriptions by plan and status, MRR, every
// user's recent billing events and a user lookup, for administrators (ADMIN_EMAILS).
// Charts are Chart.js's, registered piece by piece so the bundle holds only what is drawn.

import { useEffect, useRef, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip, type ChartConfiguration } from "chart.js";
import { formatPrice, unwrap, type Schemas } from "../src/index.js";
import { TollgateProvider, useLoaded, useTollgate } from "../src/react.js";
import { Account, Card, Problem, SignIn, apiBase, client, useMe, useSignedIn } from "./shared.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

/** A Chart.js bar chart, redrawn when its data changes; `data-series` says what it holds. */
function BarChart({ name, labels, series, stacked }: { name: string; labels: string[]; series: Record<string, number[]>; stacked?: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const config: ChartConfiguration<"bar"> = {
      type: "bar",
      data: {
        labels,
        datasets: Object.entries(series).map(([label, data], i) => ({ label, data, backgroundColor: PALETTE[i % PALETTE.length] })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { stacked }, y: { stacked, beginAtZero: true, ticks: { precision: 0 } } },
      },
    };
    const chart = new Chart(canvas.current, config);
    return () => chart.destroy();
  }, [labels.join(), JSON.stringify(series), stacked]);
  const total = Object.values(series).flat().reduce((a, b) => a + b, 0);
  return (
    <div className="chart" data-chart={name} data-series={Object.keys(series).join(",")} data-total={total}>
      <canvas ref={canvas} role="img" aria-label={`${name} chart`} />
    </div>
  );
}

type Metrics = Schemas["MetricsReport"];

/** Each day's outcomes as one series per outcome (`day` is the label; `received`, every
 * delivery whatever its outcome, would count each twice in a stack). */
function daily(days: Record<string, unknown>[]): { labels: string[]; series: Record<string, number[]> } {
  const labels = days.map((d) => String(d.day).slice(5));
  const names = [...new Set(days.flatMap((d) => Object.keys(d).filter((k) => k !== "day" && k !== "received")))];
  const series = Object.fromEntries(names.map((n) => [n, days.map((d) => Number(d[n] ?? 0))]));
  return { labels, series };
}

function Figures({ metrics }: { metrics: Metrics }) {
  const subs = metrics.subscriptions;
  const money = (per: Record<string, number>) =>
    Object.entries(per).map(([currency, amount]) => formatPrice(amount, currency)).join(" + ") || formatPrice(0, "usd");
  const figures: [string, string, string][] = [
    ["mrr", "MRR", money(subs.mrr)],
    ["arr", "ARR", money(subs.arr)],
    ["paying", "Paying subscribers", String(subs.paying)],
    ["trials", "Trials started", String(subs.trial_starts)],
    ["conversions", "Trial conversions", String(subs.conversions)],
    ["churned", "Churned (30 days)", String(subs.churned_30d)],
    ["credits", "Credits outstanding", String(metrics.credits.outstanding)],
    ["sign-ins", "Sign-ins", String(metrics.sign_ins.totals.total ?? Object.values(metrics.sign_ins.totals).reduce((a, b) => a + Number(b), 0))],
  ];
  return (
    <div className="figures">
      {figures.map(([key, label, value]) => (
        <div key={key} className="figure" data-figure={key}>
          <span>{label}</span>
          <b>{value}</b>
        </div>
      ))}
    </div>
  );
}

function Dashboard() {
  const metrics = useLoaded((c) => c.api.GET("/api/admin/metrics", {}).then(unwrap));
  if (metrics.error) return <Problem error={metrics.error} />;
  if (!metrics.data) return <p aria-busy="true">Loading metrics…</p>;
  const m = metrics.data;
  const webhooks = daily(m.webhooks.days);
  const plans = Object.keys(m.subscriptions.by_plan);
  const statuses = [...new Set(plans.flatMap((p) => Object.keys(m.subscriptions.by_plan[p])))];
  const byStatus = Object.fromEntries(statuses.map((s) => [s, plans.map((p) => m.subscriptions.by_plan[p][s] ?? 0)]));
  return (
    <>
      <Card title={`Revenue and subscribers (${m.from} to ${m.to})`} name="figures">
        <Figures metrics={m} />
      </Card>
      <div className="columns">
        <Card title="Webhook outcomes per day" name="webhooks">
          <BarChart name="webhooks" labels={webhooks.labels} series={webhooks.series} stacked />
        </Card>
        <Card title="Subscriptions by plan and status" name="subscriptions">
          {plans.length === 0 ? <p>No subscriptions yet.</p> : <BarChart name="subscriptions" labels={plans} series={byStatus} stacked />}
        </Card>
      </div>
    </>
  );
}

function Events({ onUser }: { onUser: (user: string) => void }) {
  const recent = useLoaded((c) => c.api.GET("/api/admin/billing-events/recent", { params: { query: { limit: 20 } } }).then(unwrap));
  return (
    <Card title="Recent billing events" name="events">
      <Problem error={recent.error} />
      {recent.data && recent.data.events.length === 0 && <p>No billing events in the last {recent.data.days} days.</p>}
      {recent.data && recent.data.events.length > 0 && (
        <table className="events">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th>Amount</th>
              <th>Status</th>
              <th>User</th>
            </tr>
          </thead>
          <tbody>
            {recent.data.events.map((e) => (
              <tr key={e.event_id} data-event={e.type}>
                <td>{new Date(e.created).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" })}</td>
                <td>
                  <code>{e.type}</code>
                </td>
                <td>{e.amount != null && e.currency ? formatPrice(e.amount, e.currency) : ""}</td>
                <td>{e.status ?? ""}</td>
                <td>
                  <button type="button" className="link" title={e.user_id} onClick={() => onUser(e.user_id)}>
                    {e.user_id}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

function Lookup({ wanted }: { wanted?: string }) {
  const tollgate = useTollgate();
  const [query, setQuery] = useState("");
  const [report, setReport] = useState<Schemas["UserReportView"]>();
  const [error, setError] = useState<unknown>();
  const find = async (user: string) => {
    setError(undefined);
    setReport(undefined);
    try {
      setReport(unwrap(await tollgate.api.GET("/api/admin/users/{user}", { params: { path: { user } } })));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (wanted) {
      setQuery(wanted);
      void find(wanted);
    }
  }, [wanted]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void find(query.trim());
  };
  return (
    <Card title="User lookup" name="lookup">
      <form onSubmit={submit}>
        <input name="user" placeholder="email or usr_..." value={query} onChange={(e) => setQuery(e.target.value)} required />
        <button type="submit">Look up</button>
      </form>
      <Problem error={error} />
      {report && (
        <div className="report" data-user={report.user.id}>
          <p>
            <b>{report.user.email}</b> <code>{report.user.id}</code> · plan <b data-plan={report.plan}>{report.plan}</b>
            {report.plan_ends_at ? ` until ${new Date(report.plan_ends_at).toLocaleDateString()}` : ""} · credits{" "}
            <b data-credits={report.credits.balance}>{report.credits.balance}</b>
          </p>
          <ul>
            {report.subscriptions.map((s) => (
              <li key={s.id}>
                subscription <code>{s.id}</code> {s.plan} {s.interval ?? ""} · {s.status}
              </li>
            ))}
            {report.grants.map((g) => (
              <li key={g.order_id}>
                {g.plan ? `plan ${g.plan}` : `${g.credits ?? 0} credits`} from <code>{g.order_id}</code>
                {g.revoked_at ? " (revoked)" : ""}
              </li>
            ))}
          </ul>
          <p>
            {report.billing_events.length} billing events · {report.emails.length} emails
          </p>
        </div>
      )}
    </Card>
  );
}

function Admin() {
  const signedIn = useSignedIn();
  const me = useMe();
  const admin = me.data?.admin;
  const [wanted, setWanted] = useState<string>();
  return (
    <>
      <header>
        <h1>Tollgate admin</h1>
        <nav>
          <a href="./">Demo app</a> · <a href={`${apiBase()}/docs`}>API reference</a>
        </nav>
        {signedIn && <Account me={me.data} />}
      </header>
      <main>
        {!signedIn && <SignIn hint={<>Administrators are the addresses in ADMIN_EMAILS.</>} />}
        {signedIn && admin === false && (
          <Card title="Not an administrator" name="forbidden">
            <p>This account does not administer this deployment: add its email to ADMIN_EMAILS.</p>
          </Card>
        )}
        {signedIn && <Problem error={me.error} />}
        {signedIn && admin === true && (
          <>
            <Dashboard />
            <Lookup wanted={wanted} />
            <Events onUser={setWanted} />
          </>
        )}
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <TollgateProvider client={client}>
    <Admin />
  </TollgateProvider>,
);
