// meterd's dashboard: tenants with this month's cost; per tenant, usage charts per meter,
// quota gauges and the invoice preview. Everything comes from meterd's own API; it refreshes
// every 10 seconds. Numbers stay the decimal strings the API sends, except for drawing charts.
"use strict";

const state = { tenant: null, charts: {} };
const month = new Date().toISOString().slice(0, 7);
const keyInput = document.getElementById("api-key");
keyInput.value = localStorage.getItem("meterd-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("meterd-api-key", keyInput.value); refresh(); });

async function api(path) {
  const headers = keyInput.value ? { Authorization: "Bearer " + keyInput.value } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function cell(row, text, numeric) {
  const td = row.insertCell();
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

async function loadTenants() {
  const data = await api("/v1/tenants?month=" + month);
  document.getElementById("month").textContent = data.month;
  const body = document.querySelector("#tenants tbody");
  body.replaceChildren();
  for (const t of data.tenants) {
    const row = body.insertRow();
    row.dataset.tenant = t.tenant_id;
    if (t.tenant_id === state.tenant) row.className = "selected";
    cell(row, t.tenant_id);
    cell(row, t.plan);
    cell(row, t.time_zone);
    cell(row, t.total + " " + t.currency, true);
    row.addEventListener("click", () => { state.tenant = t.tenant_id; refresh(); });
  }
  if (!state.tenant && data.tenants.length) state.tenant = data.tenants[0].tenant_id;
}

// One dataset per meter; buckets keyed by their start.
function chartData(usage) {
  const labels = [...new Set(usage.buckets.map(b => b.start))];
  const meters = [...new Set(usage.buckets.map(b => b.event_type))];
  const datasets = meters.map(meter => ({
    label: meter,
    data: labels.map(start => {
      const b = usage.buckets.find(x => x.start === start && x.event_type === meter);
      return b ? Number(b.quantity) : 0;
    }),
  }));
  return { labels: labels.map(l => l.slice(5, 16).replace("T", " ")), datasets };
}

function drawChart(id, usage) {
  const data = chartData(usage);
  const canvas = document.getElementById(id);
  canvas.dataset.totals = JSON.stringify(Object.fromEntries(usage.totals.map(t => [t.event_type, t.quantity])));
  if (state.charts[id]) {
    state.charts[id].data = data;
    state.charts[id].update("none");
    return;
  }
  state.charts[id] = new Chart(canvas, {
    type: id === "daily" ? "bar" : "line",
    data,
    options: { animation: false, responsive: true, scales: { y: { type: "logarithmic" } } },
  });
}

function drawQuotas(report) {
  const box = document.getElementById("quotas");
  box.replaceChildren();
  for (const [meter, q] of Object.entries(report.quotas)) {
    const div = document.createElement("div");
    div.className = "gauge" + (q.exceeded ? " over" : "");
    div.dataset.meter = meter;
    const share = q.limit ? Math.min(100, 100 * Number(q.used) / Number(q.limit)) : 0;
    div.innerHTML = `<strong></strong><div></div><div class="bar"><div style="width:${share}%"></div></div>`;
    div.querySelector("strong").textContent = meter + " today";
    div.children[1].textContent = q.used + " of " + (q.limit ?? "no limit");
    box.appendChild(div);
  }
}

function drawInvoice(invoice) {
  const body = document.querySelector("#invoice tbody");
  body.replaceChildren();
  for (const line of invoice.line_items) {
    const row = body.insertRow();
    cell(row, line.event_type + (line.group ? " (" + line.group + ")" : ""));
    cell(row, line.quantity, true);
    cell(row, line.priced ? line.model : "not priced");
    cell(row, line.amount, true);
  }
  document.getElementById("invoice-total").textContent = invoice.total + " " + invoice.currency;
}

async function loadTenant() {
  const t = state.tenant;
  if (!t) return;
  document.getElementById("tenant").hidden = false;
  document.getElementById("tenant-name").textContent = t;
  const from48h = new Date(Date.now() - 48 * 3600 * 1000).toISOString();
  const [hourly, daily, quotas, invoice] = await Promise.all([
    api(`/v1/usage?tenant_id=${t}&window=hour&from=${from48h}`),
    api(`/v1/usage?tenant_id=${t}&window=day&from=${month}-01`),
    api(`/v1/tenants/${t}/quotas`),
    api(`/v1/tenants/${t}/invoices/${month}`),
  ]);
  drawChart("hourly", hourly);
  drawChart("daily", daily);
  drawQuotas(quotas);
  drawInvoice(invoice);
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    await loadTenants();
    await loadTenant();
    status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (e) {
    status.textContent = "error: " + e.message;
  }
}

refresh();
setInterval(refresh, 10000);
