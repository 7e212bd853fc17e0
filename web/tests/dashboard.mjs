// Opens meterd's dashboard in headless Chromium (Debian's) with playwright-core and checks it
// shows what the API says: every tenant with its month total, a tenant's charts with the usage
// totals, and the invoice preview's total. Saves a screenshot.
//   node web/tests/dashboard.mjs http://127.0.0.1:PORT SCREENSHOT.png
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const api = async (path) => (await fetch(url + path)).json();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url + "/");
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });

  const listed = await page.$$eval("#tenants tbody tr", (rows) =>
    rows.map((r) => [r.dataset.tenant, r.cells[3].textContent]));
  const tenants = (await api("/v1/tenants")).tenants;
  assert.deepEqual(listed, tenants.map((t) => [t.tenant_id, `${t.total} ${t.currency}`]));
  assert.ok(tenants.length >= 4, "the demo's tenants are listed");

  await page.click('tr[data-tenant="tenant_globex"]');
  await page.waitForFunction(() => document.getElementById("tenant-name").textContent === "tenant_globex");
  await page.waitForFunction(() => document.querySelector('#tenants tr.selected')?.dataset.tenant === "tenant_globex");
  const month = new Date().toISOString().slice(0, 7);
  const invoice = await api(`/v1/tenants/tenant_globex/invoices/${month}`);
  await page.waitForFunction((total) => document.getElementById("invoice-total").textContent === total,
                             `${invoice.total} ${invoice.currency}`);

  const daily = await api(`/v1/usage?tenant_id=tenant_globex&window=day&from=${month}-01`);
  const chart = await page.evaluate(() => {
    const c = Chart.getChart("daily");
    return { meters: c.data.datasets.map((d) => d.label).sort(), points: c.data.datasets[0].data.length,
             totals: JSON.parse(document.getElementById("daily").dataset.totals) };
  });
  assert.deepEqual(chart.meters, [...new Set(daily.buckets.map((b) => b.event_type))].sort());
  assert.ok(chart.points > 0, "the daily chart has points");
  assert.deepEqual(chart.totals, Object.fromEntries(daily.totals.map((t) => [t.event_type, t.quantity])));
  const gauges = await page.$$eval("#quotas .gauge", (g) => g.map((x) => x.dataset.meter));
  assert.deepEqual(gauges.sort(), ["queries", "storage_gb", "tokens"]);
  assert.deepEqual(errors, []);

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`dashboard ok: ${tenants.length} tenants, invoice total ${invoice.total}; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
