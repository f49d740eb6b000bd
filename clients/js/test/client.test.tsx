// The client against a running `tollgate dev` (TOLLGATE_URL; `cargo test --test js_client`
// starts one): sign-in, the catalog, buying Pro and a credit pack through the simulated
// Checkout and claiming, entitlements online and from the offline token, credits, usage, the
// error envelope, and the React hooks and paywall rendered with real data.

import assert from "node:assert/strict";
import { test } from "node:test";
import { renderToStaticMarkup } from "react-dom/server";
import { TollgateError, createClient, formatPrice, memoryStore, type Tollgate } from "../src/index.js";
import { Paywall, TollgateProvider, featureState, useCredits, useFeature } from "../src/react.js";

const url = process.env.TOLLGATE_URL;
if (!url) throw new Error("TOLLGATE_URL names the dev server to test against");
const baseUrl: string = url;

async function signedIn(email: string): Promise<Tollgate> {
  const client = createClient({ baseUrl, store: memoryStore() });
  const sent = await client.requestCode(email);
  assert.equal(sent.status, "sent");
  assert.ok(sent.debug_code, "the dev server answers the code");
  const changes: string[] = [];
  client.subscribe(() => changes.push("tokens"));
  const signed = await client.verifyCode(email, sent.debug_code!);
  assert.equal(signed.user.email, email);
  assert.deepEqual(changes, ["tokens"], "listeners hear the sign-in");
  assert.ok(client.signedIn);
  return client;
}

/** Pays a Checkout Session as the simulated page's button does; the success page's URL. */
async function pay(checkoutUrl: string, sessionId: string): Promise<string> {
  assert.ok(checkoutUrl.includes(sessionId), "the simulated Checkout page is the session's");
  const paid = await fetch(`${baseUrl}/dev/checkout/${sessionId}/pay`, { method: "POST", redirect: "manual" });
  assert.ok([302, 303].includes(paid.status), `paying redirects (${paid.status})`);
  return new URL(paid.headers.get("location")!, baseUrl).toString();
}

const unique = (name: string) => `${name}-${process.pid}-${Math.floor(Math.random() * 1e9)}@example.com`;

test("the catalog lists the plans in rank order with their prices", async () => {
  const catalog = await createClient({ baseUrl }).catalog();
  assert.deepEqual(
    catalog.plans.map((p) => p.key),
    ["free", "basic", "pro"],
  );
  const pro = catalog.plans.find((p) => p.key === "pro")!;
  assert.equal(pro.once?.amount, 4900);
  assert.equal(pro.subscription?.prices.month?.amount, 900);
  assert.equal(formatPrice(pro.once?.amount, pro.once!.currency), "$49.00");
  assert.equal(formatPrice(500, "jpy"), "¥500", "zero-decimal currencies");
  assert.equal(catalog.packs[0].credits, 100);
});

test("a wrong code is refused in the error envelope", async () => {
  const client = createClient({ baseUrl });
  const email = unique("wrong");
  const sent = await client.requestCode(email);
  const wrong = sent.debug_code === "000000" ? "000001" : "000000";
  await assert.rejects(client.verifyCode(email, wrong), (e: unknown) => {
    assert.ok(e instanceof TollgateError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_code");
    return true;
  });
  assert.equal(client.signedIn, false);
});

test("buying Pro: checkout, pay, the success page's claim, entitlements from the offline token", async () => {
  const email = unique("pro");
  const client = await signedIn(email);
  const before = await client.entitlements({ fresh: true });
  assert.equal(before.source, "api");
  assert.equal(before.plan, "free");
  assert.deepEqual(featureState(before, "sessions"), { allowed: true, used: 0, limit: 5, remaining: 5, resetsAt: undefined, loading: false });

  const assigned: string[] = [];
  const started = await client.redirectToCheckout({ plan: "pro" }, { assign: (u) => assigned.push(u) });
  assert.deepEqual(assigned, [started.url], "the browser is sent to Checkout");
  const success = await pay(started.url, started.session_id);
  assert.ok(success.includes(`session_id=${started.session_id}`), success);
  const claimed = await client.claimFromUrl(success);
  assert.equal(claimed.plan, "pro");
  assert.ok(claimed.entitlement_token, "the dev server signs entitlement tokens");

  const offline = await client.entitlements();
  assert.equal(offline.source, "token", "no call while the offline token is valid");
  assert.equal(offline.plan, "pro");
  assert.equal(offline.pro, true);
  assert.equal((await client.entitlements({ fresh: true })).plan, "pro");
  assert.equal((await client.me()).plan, "pro");

  // A token that does not verify is never believed: the API answers.
  client.tokens!.entitlementToken = claimed.entitlement_token!.slice(0, -4) + "AAAA";
  const checked = await client.entitlements();
  assert.equal(checked.source, "api");
  assert.equal(checked.plan, "pro");
});

test("credits: a pack bought and spent once per key, never below zero", async () => {
  const client = await signedIn(unique("credits"));
  const started = await client.checkout({ pack: "credits_100" });
  await pay(started.url, started.session_id);
  assert.equal((await client.credits()).balance, 100);
  const first = await client.debit(30, { reason: "export", idempotencyKey: "job-1" });
  const again = await client.debit(30, { reason: "export", idempotencyKey: "job-1" });
  assert.equal(first.balance, 70);
  assert.deepEqual(again, first, "a repeated key spends once");
  await assert.rejects(client.debit(500), (e: unknown) => {
    assert.ok(e instanceof TollgateError);
    assert.equal(e.status, 402);
    assert.equal(e.code, "insufficient_credits");
    assert.equal(e.details.balance, 70);
    return true;
  });
  const history = await client.credits({ limit: 10 });
  assert.deepEqual(
    history.entries.map((e) => [e.reason, e.delta]),
    [
      ["debit", -30],
      ["purchase", 100],
    ],
  );
});

test("usage counts against the plan's quota, a repeated key once", async () => {
  const client = await signedIn(unique("usage"));
  const first = await client.recordUsage("quizzes", { idempotencyKey: "quiz-1" });
  const again = await client.recordUsage("quizzes", { idempotencyKey: "quiz-1" });
  assert.equal(first.used, 1);
  assert.equal(again.used, 1);
  assert.equal(first.limit, 2);
  await client.recordUsage("quizzes");
  await assert.rejects(client.recordUsage("quizzes"), (e: unknown) => e instanceof TollgateError && e.code === "quota_exceeded" && e.status === 402);
  const state = featureState(await client.entitlements({ fresh: true }), "quizzes");
  assert.equal(state.allowed, false);
  assert.equal(state.remaining, 0);
  await assert.rejects(client.recordUsage("no_such_feature"), (e: unknown) => e instanceof TollgateError && e.code === "unknown_feature");
});

test("the hooks and the paywall render what the user holds and what the catalog sells", async () => {
  const client = await signedIn(unique("react"));
  const [catalog, entitlements, credits] = await Promise.all([client.catalog(), client.entitlements({ fresh: true }), client.credits()]);

  function Sessions() {
    const sessions = useFeature("sessions", { initial: entitlements });
    const pro = useFeature("pro", { initial: entitlements });
    const wallet = useCredits({ initial: credits });
    return (
      <p>
        {sessions.remaining} of {sessions.limit} sessions left; pro {String(pro.allowed)}; {wallet.balance} credits
      </p>
    );
  }
  const html = renderToStaticMarkup(
    <TollgateProvider client={client}>
      <Sessions />
      <Paywall feature="pro" catalog={catalog} entitlements={entitlements}>
        <p>pro content</p>
      </Paywall>
    </TollgateProvider>,
  );
  assert.match(html, /5 of 5 sessions left; pro false; 0 credits/);
  assert.doesNotMatch(html, /pro content/, "a free user sees the paywall");
  assert.match(html, /data-plan="pro"/);
  assert.match(html, /\$49\.00 once/);
  assert.match(html, /\$9\.00 \/ month \(30-day trial\)/);
  assert.match(html, /\$50\.00 \/ year \(14-day trial\)/);
  assert.doesNotMatch(html, /data-plan="free"/, "the free plan is not sold");

  const proHolder = { ...entitlements, plan: "pro", pro: true, features: { ...entitlements.features, pro: true } };
  const unlocked = renderToStaticMarkup(
    <TollgateProvider client={client}>
      <Paywall feature="pro" catalog={catalog} entitlements={proHolder}>
        <p>pro content</p>
      </Paywall>
    </TollgateProvider>,
  );
  assert.equal(unlocked, "<p>pro content</p>", "the feature's holder sees the children");
});
