// The whole journey through the pages a new user sees: sign in with the emailed code, the
// catalog, Pro, a credit pack and a trial subscription bought through the simulated Checkout
// page, the success page's claim, quota bars, credits, metronome sessions, the portal, the
// mailbox; then the admin dashboard's charts, figures, events and lookup.
import { expect, test, type Page } from "@playwright/test";

const run = Date.now().toString(36);
const buyer = `buyer-${run}@example.com`;
const subscriber = `subscriber-${run}@example.com`;
const admin = process.env.ADMIN_EMAIL ?? "admin@example.com";
const shots = process.env.SCREENSHOTS;

async function shoot(page: Page, name: string) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

/** Signs in on the page shown, reading the code from the mailbox card as a person would. */
async function signIn(page: Page, email: string) {
  const card = page.locator('[data-card="sign-in"]');
  await card.getByLabel("Email").fill(email);
  await card.getByRole("button", { name: "Email me a code" }).click();
  await expect(card).toContainText(`on its way to ${email}`);
  const code = await codeFor(page, email);
  await card.getByLabel("Code").fill(code);
  await card.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(`[data-account="${email}"]`)).toBeVisible();
}

/** The newest sign-in code mailed to `email`: the mailbox card where it is shown (the demo
 * app), else the dev server's mailbox itself (the dashboard has no mailbox card). */
async function codeFor(page: Page, email: string): Promise<string> {
  const mail = page.locator('[data-card="mailbox"] details', { hasText: email }).first();
  if (await page.locator('[data-card="mailbox"]').count()) {
    await expect(mail).toBeVisible();
    const text = await mail.locator("pre").textContent({ timeout: 10_000 });
    return /\b(\d{6})\b/.exec(text ?? "")![1];
  }
  const mails = (await (await page.request.get("/dev/mailbox")).json()) as { to: string; text: string }[];
  const last = mails.filter((m) => m.to === email).pop()!;
  return /\b(\d{6})\b/.exec(last.text)![1];
}

function feature(page: Page, name: string) {
  return page.locator(`[data-card="entitlements"] [data-feature="${name}"]`);
}

/** Buys through the simulated Checkout page: checks what it shows, pays, lands on the success page. */
async function checkout(
  page: Page,
  shows: { product: string; amount: RegExp; interval: string; button: string; email: string },
  shot?: string,
) {
  await page.waitForURL(/\/dev\/checkout\/cs_/);
  await expect(page.locator("[data-product]")).toHaveText(shows.product);
  await expect(page.locator("#email")).toHaveValue(shows.email);
  await expect(page.locator("[data-amount]")).toHaveText(shows.amount);
  await expect(page.locator("[data-interval]")).toHaveAttribute("data-interval", shows.interval);
  if (shot) await shoot(page, shot);
  await page.getByRole("button", { name: shows.button }).click();
  await page.waitForURL(/\/success/);
  await expect(page.locator('[data-card="claim"] [data-claimed]')).toBeVisible();
}

test.describe.serial("the demo app and the dashboard", () => {
  test("a buyer signs in, uses the free plan, buys Pro and a pack, spends credits", async ({ page }) => {
    await page.goto("/");
    await signIn(page, buyer);
    await expect(feature(page, "sessions")).toHaveAttribute("data-limit", "5");
    await expect(feature(page, "pro")).toHaveAttribute("data-allowed", "false");

    // The catalog, rendered by the client's Paywall.
    const plans = page.locator('[data-card="plans"]');
    await expect(plans.locator('[data-plan="pro"]')).toContainText("$49.00 once");
    await expect(plans.locator('[data-plan="basic"]')).toContainText("$5.00 / month (14-day trial)");

    // Metronome: pace to BPM, an audible click, a session logged against the cap.
    const metronome = page.locator('[data-card="metronome"]');
    await metronome.getByLabel("Pace").fill("5:30");
    await metronome.getByRole("button", { name: "To BPM" }).click();
    await expect(metronome.locator("[data-bpm]")).toHaveAttribute("data-bpm", "162");
    await metronome.getByRole("button", { name: "Start click" }).click();
    await expect.poll(async () => Number(await metronome.locator("[data-clicks]").getAttribute("data-clicks"))).toBeGreaterThan(3);
    await metronome.getByRole("button", { name: "Stop click" }).click();
    await metronome.getByRole("button", { name: "Log session" }).click();
    await expect(metronome.locator("[data-session]")).toHaveCount(1);
    await expect(feature(page, "sessions")).toHaveAttribute("data-used", "1");

    // A metered feature's quota bar.
    await feature(page, "ai_chat").getByRole("button", { name: "Use one" }).click();
    await expect(feature(page, "ai_chat")).toHaveAttribute("data-used", "1");
    await expect(feature(page, "ai_chat").locator("meter")).toHaveAttribute("max", "5");

    // Pro, once, through Checkout, claimed on the success page.
    await plans.locator('[data-plan="pro"] button[data-interval="once"]').click();
    await checkout(page, { product: "Pro", amount: /49\.00 USD/, interval: "once", button: "Pay", email: buyer });
    await expect(page.locator('[data-card="claim"]')).toContainText("you are on pro");
    await expect(feature(page, "sessions")).toHaveAttribute("data-limit", "50");
    await expect(feature(page, "pro")).toHaveAttribute("data-allowed", "true");
    await expect(page.locator("[data-balance]")).toHaveAttribute("data-balance", "0");

    // Credits: never overdrawn; a pack bought, then spent from.
    const credits = page.locator('[data-card="credits"]');
    await credits.getByRole("button", { name: "Spend 10 credits" }).click();
    await expect(credits.getByRole("alert")).toContainText("insufficient_credits");
    await page.locator('[data-pack="credits_100"]').click();
    await checkout(page, { product: "100 credits (credit pack)", amount: /5\.00 USD/, interval: "once", button: "Pay", email: buyer });
    await expect(page.locator("[data-balance]")).toHaveAttribute("data-balance", "100");
    await credits.getByRole("button", { name: "Spend 10 credits" }).click();
    await expect(page.locator("[data-balance]")).toHaveAttribute("data-balance", "90");
    await shoot(page, "demo");
  });

  test("a subscriber starts a trial, sees it, and opens the portal", async ({ page }) => {
    await page.goto("/");
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await signIn(page, subscriber);
    await page.locator('[data-card="plans"] [data-plan="basic"] button[data-interval="month"]').click();
    await checkout(page, { product: "Basic", amount: /14 days free/, interval: "month", button: "Start trial", email: subscriber }, "checkout");
    await expect(page.locator("[data-card=\"entitlements\"] [data-plan]")).toHaveText("basic");
    await expect(page.locator('[data-card="entitlements"]')).toContainText("subscription trialing");
    await expect(feature(page, "sessions")).toHaveAttribute("data-limit", "20");

    await page.getByRole("button", { name: "Manage billing" }).click();
    await page.waitForURL(/\/dev\/portal\/cus_/);
    await expect(page.locator("body")).toContainText("Basic");
    await page.getByRole("button", { name: "Cancel now" }).click();
    await expect(page.locator("body")).toContainText("canceled");

    // Back in the app: the plan is free again, and the mailbox has the email the webhook queued.
    await page.goto("/");
    await expect(page.locator('[data-card="entitlements"] [data-plan]')).toHaveText("free");
    await expect(page.locator('[data-card="mailbox"] details', { hasText: "subscription has ended" })).toBeVisible();

    // And back again, on Pro by the year: a customer's second subscription has no trial.
    await page.locator('[data-card="plans"] [data-plan="pro"] button[data-interval="year"]').click();
    await checkout(page, { product: "Pro", amount: /^90\.00 USD per year$/, interval: "year", button: "Subscribe", email: subscriber });
    await expect(page.locator('[data-card="entitlements"] [data-plan]')).toHaveText("pro");
  });

  test("the admin dashboard draws its charts and finds users", async ({ page }) => {
    await page.goto("/admin");
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await signIn(page, admin);
    const webhooks = page.locator('[data-chart="webhooks"]');
    await expect(webhooks.locator("canvas")).toBeVisible();
    await expect.poll(async () => Number(await webhooks.getAttribute("data-total"))).toBeGreaterThan(0);
    const subscriptions = page.locator('[data-chart="subscriptions"]');
    await expect(subscriptions.locator("canvas")).toBeVisible();
    await expect(subscriptions).toHaveAttribute("data-series", "canceled,active");
    // A chart is drawn: its canvas holds pixels that are not blank.
    const inked = await webhooks.locator("canvas").evaluate((canvas: HTMLCanvasElement) => {
      const pixels = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      return pixels.some((value, i) => i % 4 === 3 && value > 0);
    });
    expect(inked).toBe(true);
    // Pro at 90.00 a year is 7.50 a month; the canceled trial adds nothing.
    await expect(page.locator('[data-figure="mrr"] b')).toHaveText("$7.50");
    await expect(page.locator('[data-figure="paying"] b')).toHaveText("1");
    await expect(page.locator('[data-figure="trials"] b')).not.toHaveText("0");

    const events = page.locator('[data-card="events"] tbody tr');
    await expect(events.first()).toBeVisible();
    await expect(page.locator('[data-card="events"]')).toContainText("invoice.paid");
    await shoot(page, "admin");

    const lookup = page.locator('[data-card="lookup"]');
    await lookup.locator('input[name="user"]').fill(buyer);
    await lookup.getByRole("button", { name: "Look up" }).click();
    await expect(lookup.locator("[data-plan]")).toHaveText("pro");
    await expect(lookup.locator("[data-credits]")).toHaveText("90");
    await events.first().getByRole("button").click();
    await expect(lookup.locator("[data-user]")).toBeVisible();
  });

  test("someone who does not administer is told so", async ({ page }) => {
    await page.goto("/admin");
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await signIn(page, `visitor-${run}@example.com`);
    await expect(page.locator('[data-card="forbidden"]')).toBeVisible();
    await expect(page.locator('[data-chart]')).toHaveCount(0);
  });
});
