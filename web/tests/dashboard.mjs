// Opens meterd's dashboard in headless Chromium (Debian's) with playwright-core and checks it
// against the API: the tenants of a month with totals and invoice status, a month picked in the
// past (finalized and draft), charts drawn in the tenant's own days that add up to its invoice,
// numbers grouped for the reader's locale, a layout that fills the window; saves a screenshot.
//   node web/tests/dashboard.mjs http://127.0.0.1:PORT SCREENSHOT.png
// With a key (meterd started with keys): first checks the page explains the missing key.
//   node web/tests/dashboard.mjs http://127.0.0.1:PORT SCREENSHOT.png --key mk_...
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [url, screenshot, keyFlag, key] = process.argv.slice(2);
const auth = keyFlag === "--key" ? { Authorization: "Bearer " + key } : {};
const api = async (path, method = "GET", body = undefined, headers = {}) => (await fetch(url + path, {
  method, body: body && JSON.stringify(body),
  headers: { ...auth, ...headers, ...(body ? { "Content-Type": "application/json" } : {}) },
})).json();
const thisMonth = new Date().toISOString().slice(0, 7);
const monthBefore = (m) => {
  const [y, mo] = m.split("-").map(Number);
  return mo === 1 ? `${y - 1}-12` : `${y}-${String(mo - 1).padStart(2, "0")}`;
};
// What the page should print for a decimal string, built independently of dashboard.js.
const grouped = (text, loc) => {
  const [int, frac] = text.split(".");
  const mark = loc.startsWith("de") ? "," : ".";
  const sep = loc.startsWith("de") ? "." : ",";
  return int.replace(/\B(?=(\d{3})+(?!\d))/g, sep) + (frac ? mark + frac : "");
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});

async function open(locale, viewport = { width: 1400, height: 1000 }) {
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(e.message));
  await page.goto(url + "/");
  return page;
}

const texts = (page, selector) => page.$$eval(selector, (cells) => cells.map((c) => c.textContent));

try {
  if (key) {
    // No key yet: the page says how to get one and points at the box, instead of a raw error.
    const page = await open("en-US");
    await page.waitForSelector('body[data-loaded="key-needed"]', { timeout: 30000 });
    assert.equal(await page.isVisible("#key-needed"), true);
    assert.match(await page.textContent("#key-needed"), /API key.*meterd keys create --admin/s);
    assert.equal(await page.isVisible("#tenants-section"), false, "no empty tenant list without a key");
    assert.equal(await page.$eval("#api-key", (i) => i.classList.contains("needed") && document.activeElement === i), true);
    await page.fill("#api-key", key);
    await page.press("#api-key", "Enter");
    await page.dispatchEvent("#api-key", "change");
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
    assert.equal(await page.isVisible("#key-needed"), false);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  }

  // Two months back has ended in every zone: finalize it for one tenant.
  const older = monthBefore(monthBefore(thisMonth));
  const lastMonth = monthBefore(thisMonth);
  const finalized = await api(`/v1/tenants/tenant_globex/invoices/${lastMonth}/finalize`, "POST");
  assert.equal(finalized.status, "finalized", JSON.stringify(finalized));

  // Prepaid credit for globex, partly burnt by this month's queries.
  const grant = await api("/v1/tenants/tenant_globex/credits/grants", "POST", { amount: "50", category: "paid" },
    { "Idempotency-Key": "dashboard-1" });
  assert.equal(grant.amount, "50", JSON.stringify(grant));
  for (let i = 0; i < 3; i++) await api("/track", "POST", { tenant_id: "tenant_globex", event_type: "query" });

  const page = await open("en-US");
  if (key) await page.evaluate((k) => localStorage.setItem("meterd-api-key", k), key), await page.reload();
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });

  // This month's tenants, totals grouped en-US style, with their invoice status.
  const tenants = (await api(`/v1/tenants?month=${thisMonth}`)).tenants;
  assert.ok(tenants.length >= 4, "the demo's tenants are listed");
  const listed = await page.$$eval("#tenants tbody tr", (rows) =>
    rows.map((r) => [r.dataset.tenant, r.cells[3].textContent, r.cells[4].textContent]));
  assert.deepEqual(listed, tenants.map((t) => [t.tenant_id, `${grouped(t.total, "en")} ${t.currency}`, t.status]));

  // Last month, picked: globex is finalized there, the list and the invoice say so.
  await page.fill("#month-picker", lastMonth);
  await page.dispatchEvent("#month-picker", "change");
  await page.waitForFunction((m) => document.getElementById("month").textContent === m, lastMonth);
  const last = (await api(`/v1/tenants?month=${lastMonth}`)).tenants;
  const rows = await page.$$eval("#tenants tbody tr", (r) => r.map((x) => [x.dataset.tenant, x.cells[4].textContent]));
  assert.deepEqual(rows, last.map((t) => [t.tenant_id, t.status]));
  assert.deepEqual(rows.find((r) => r[0] === "tenant_globex"), ["tenant_globex", "finalized"]);
  assert.ok(rows.some((r) => r[1] === "draft"));

  // globex (Asia/Kolkata): the chart's days are its own days, and they add up to the invoice.
  await page.click('tr[data-tenant="tenant_globex"]');
  await page.waitForFunction((m) => document.getElementById("invoice-month").textContent === m &&
    document.getElementById("tenant-name").textContent === "tenant_globex", lastMonth);
  await page.waitForFunction(() => document.getElementById("invoice-status").dataset.status === "finalized");
  assert.match(await page.textContent("#invoice-status"), /^finalized /);
  await page.waitForFunction((total) => document.getElementById("invoice-total").textContent === total,
                             `${grouped(finalized.total, "en")} ${finalized.currency}`);
  const daily = await page.evaluate(() => ({
    meters: Chart.getChart("daily").data.datasets.map((d) => d.label),
    totals: JSON.parse(document.getElementById("daily").dataset.totals),
    starts: JSON.parse(document.getElementById("daily").dataset.starts),
  }));
  assert.equal(daily.starts[0], finalized.period_start, "the first day starts at the tenant's midnight");
  assert.ok(daily.starts.every((s) => s.endsWith("T18:30:00.000Z")), "Kolkata days start at 18:30 UTC");
  assert.ok(daily.starts.length >= 28, `a whole month of days: ${daily.starts.length}`);
  for (const line of finalized.line_items.filter((l) => l.event_type !== "storage_gb")) {
    assert.equal(daily.totals[line.event_type], line.quantity, `${line.event_type}: chart days = invoice`);
  }
  const quantities = await texts(page, "#invoice tbody td:nth-child(2)");
  assert.deepEqual(quantities, finalized.line_items.map((l) => grouped(l.quantity, "en")));
  assert.ok(quantities.some((q) => q.includes(",")), "thousands are grouped");

  // The layout uses the window: the page is as wide as it, the daily chart is tall.
  const box = await page.evaluate(() => {
    const r = (id) => document.getElementById(id).getBoundingClientRect();
    return { right: r("tenant").right, chart: r("daily").height, width: innerWidth, height: innerHeight,
             list: r("tenants").right, panel: r("tenant").left };
  });
  assert.ok(box.list <= box.panel, `the tenant list does not run under the tenant panel: ${JSON.stringify(box)}`);
  assert.ok(box.right > 0.95 * box.width, `the tenant panel reaches the right edge: ${JSON.stringify(box)}`);
  assert.ok(box.chart >= 0.3 * box.height, `the daily chart is tall: ${JSON.stringify(box)}`);
  // The credit panel: the API's balance and burn rate, grouped for the reader.
  const credit = await api("/v1/tenants/tenant_globex/credits/balance");
  const burn = await api("/v1/tenants/tenant_globex/credits/burn_rate");
  assert.ok(Number(burn.consumed) > 0, JSON.stringify(burn));
  await page.waitForFunction(() => !document.getElementById("credit").hidden);
  assert.equal(await page.textContent("#credit-available"), `${grouped(credit.available, "en")} ${credit.currency}`);
  assert.ok((await page.textContent("#credit-rate")).startsWith(
    `burning ${grouped(burn.per_day, "en")} ${burn.currency} a day over the last 7 days, about ${burn.days_left} days left`));
  const gauges = await page.$$eval("#quotas .gauge", (g) => g.map((x) => x.dataset.meter));
  assert.deepEqual(gauges.sort(), ["queries", "storage_gb", "tokens"]);
  assert.deepEqual(page.errors, []);
  await page.screenshot({ path: screenshot, fullPage: true });

  // A German reader: the same invoice, grouped with dots and a decimal comma.
  const de = await open("de-DE");
  if (key) await de.evaluate((k) => localStorage.setItem("meterd-api-key", k), key), await de.reload();
  await de.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
  await de.fill("#month-picker", lastMonth);
  await de.dispatchEvent("#month-picker", "change");
  await de.waitForFunction((m) => document.getElementById("month").textContent === m, lastMonth);
  await de.click('tr[data-tenant="tenant_globex"]');
  await de.waitForFunction((total) => document.getElementById("invoice-total").textContent === total,
                           `${grouped(finalized.total, "de")} ${finalized.currency}`);
  assert.deepEqual(await texts(de, "#invoice tbody td:nth-child(2)"),
                   finalized.line_items.map((l) => grouped(l.quantity, "de")));
  assert.deepEqual(de.errors, []);

  // Months before the demo's data: an empty month says so rather than showing a stale tenant.
  await de.fill("#month-picker", monthBefore(older));
  await de.dispatchEvent("#month-picker", "change");
  await de.waitForFunction(() => !document.getElementById("no-tenants").hidden);
  assert.equal(await de.isVisible("#tenant"), false);

  console.log(`dashboard ok: ${tenants.length} tenants, ${lastMonth} finalized total ${finalized.total}; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
