// meterd's dashboard: the tenants of a month with their invoice totals; per tenant, usage charts
// in the tenant's own days, today's quota gauges and the month's invoice. Everything comes from
// meterd's API; it refreshes every 10 seconds. Quantities and money stay the API's exact decimal
// strings (only regrouped for the reader's locale); charts alone draw them as numbers.
"use strict";

// generation: each refresh's number; a refresh that a newer one overtook draws nothing.
const state = { tenant: null, month: new Date().toISOString().slice(0, 7), charts: {}, generation: 0 };
const locale = navigator.language || "en-US";
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
const picker = $("month-picker");

keyInput.value = localStorage.getItem("meterd-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("meterd-api-key", keyInput.value); refresh(); });
picker.max = state.month;
picker.value = state.month;
picker.addEventListener("change", () => { if (picker.value) { state.month = picker.value; refresh(); } });

class KeyNeeded extends Error {}

async function api(path) {
  const headers = keyInput.value ? { Authorization: "Bearer " + keyInput.value } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (response.status === 401) throw new KeyNeeded(body.detail || "an API key is needed");
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

// "1234567.5" -> "1,234,567.5" (en-US), "1.234.567,5" (de-DE), "12,34,567.5" (en-IN): the digits
// are the API's; the integer part goes through Intl as a BigInt, so nothing is rounded.
const decimalMark = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === "decimal").value;
function formatDecimal(text) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text ?? "");
  if (!m) return text ?? "";
  return m[1] + new Intl.NumberFormat(locale).format(BigInt(m[2])) + (m[3] ? decimalMark + m[3] : "");
}
const money = (amount, currency) => formatDecimal(amount) + " " + currency;

// The month after "YYYY-MM", as "YYYY-MM".
function nextMonth(month) {
  const [y, m] = month.split("-").map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
}

function cell(row, text, numeric) {
  const td = row.insertCell();
  td.textContent = text;
  if (numeric) td.className = "num";
  return td;
}

async function loadTenants(generation) {
  const data = await api("/v1/tenants?month=" + state.month);
  if (generation !== state.generation) return false;
  $("month").textContent = data.month;
  const body = document.querySelector("#tenants tbody");
  body.replaceChildren();
  for (const t of data.tenants) {
    const row = body.insertRow();
    row.dataset.tenant = t.tenant_id;
    if (t.tenant_id === state.tenant) row.className = "selected";
    cell(row, t.tenant_id);
    if (t.error) {
      cell(row, "error: " + t.error).colSpan = 4;
    } else {
      cell(row, t.plan);
      cell(row, t.time_zone);
      cell(row, money(t.total, t.currency), true);
      cell(row, t.status);
    }
    row.addEventListener("click", () => { state.tenant = t.tenant_id; refresh(); });
  }
  $("no-tenants").hidden = data.tenants.length > 0;
  if (!data.tenants.some((t) => t.tenant_id === state.tenant)) state.tenant = data.tenants[0]?.tenant_id ?? null;
  return true;
}

// One dataset per meter over the union of bucket starts, labelled in the tenant's zone.
function chartData(usage, labelFormat) {
  const starts = [...new Set(usage.buckets.map((b) => b.start))].sort();
  const meters = [...new Set(usage.buckets.map((b) => b.event_type))].sort();
  const datasets = meters.map((meter) => ({
    label: meter,
    data: starts.map((start) => {
      const b = usage.buckets.find((x) => x.start === start && x.event_type === meter);
      return b ? Number(b.quantity) : 0;
    }),
  }));
  return { labels: starts.map((s) => labelFormat.format(new Date(s))), datasets, starts };
}

function drawChart(id, usage, labelFormat) {
  const { starts, ...data } = chartData(usage, labelFormat);
  const canvas = $(id);
  canvas.dataset.totals = JSON.stringify(Object.fromEntries(usage.totals.map((t) => [t.event_type, t.quantity])));
  canvas.dataset.starts = JSON.stringify(starts);
  if (state.charts[id]) {
    state.charts[id].data = data;
    state.charts[id].update("none");
    return;
  }
  state.charts[id] = new Chart(canvas, {
    type: id === "daily" ? "bar" : "line",
    data,
    options: { animation: false, responsive: true, maintainAspectRatio: false, locale,
               scales: { y: { type: "logarithmic" } } },
  });
}

function drawQuotas(report) {
  const box = $("quotas");
  box.replaceChildren();
  for (const [meter, q] of Object.entries(report.quotas)) {
    const div = document.createElement("div");
    div.className = "gauge" + (q.exceeded ? " over" : "");
    div.dataset.meter = meter;
    const share = q.limit ? Math.min(100, 100 * Number(q.used) / Number(q.limit)) : 0;
    div.innerHTML = `<strong></strong><div></div><div class="bar"><div style="width:${share}%"></div></div>`;
    div.querySelector("strong").textContent = meter + " today";
    div.children[1].textContent = formatDecimal(q.used) + " of " + (q.limit === null ? "no limit" : formatDecimal(q.limit));
    box.appendChild(div);
  }
}

// The tenant's prepaid credit, when it has any: what is usable now, top-ups awaiting payment, and
// the last 7 days' burn rate with the whole days the credit lasts at it.
function drawCredit(balance, burn) {
  const box = $("credit");
  box.hidden = !balance || balance.grants.length === 0;
  if (box.hidden) return;
  $("credit-available").textContent = money(balance.available, balance.currency);
  $("credit-pending").textContent = Number(balance.pending) > 0
    ? ", " + money(balance.pending, balance.currency) + " awaiting payment" : "";
  $("credit-rate").textContent = burn === null ? "" : "burning " + money(burn.per_day, burn.currency) +
    " a day over the last " + burn.days + " days" +
    (burn.days_left === null ? "" : ", about " + burn.days_left + " days left");
}

function drawInvoice(invoice, month) {
  const body = document.querySelector("#invoice tbody");
  body.replaceChildren();
  for (const line of invoice.line_items) {
    const row = body.insertRow();
    row.dataset.meter = line.event_type + (line.group ? "/" + line.group : "");
    cell(row, line.event_type + (line.group ? " (" + line.group + ")" : ""));
    cell(row, formatDecimal(line.quantity), true);
    cell(row, line.priced ? line.model : "not priced");
    cell(row, formatDecimal(line.amount), true);
  }
  $("invoice-month").textContent = month;
  const status = $("invoice-status");
  status.textContent = invoice.status === "finalized"
    ? "finalized " + new Date(invoice.finalized_at).toLocaleString(locale, { timeZone: invoice.time_zone })
    : "draft";
  status.dataset.status = invoice.status;
  $("invoice-total").textContent = money(invoice.total, invoice.currency);
}

async function loadTenant(generation) {
  const t = state.tenant;
  $("tenant").hidden = !t;
  if (!t) return;
  const month = state.month;
  const id = encodeURIComponent(t);
  // Credit is optional (not served on every store): without it the panel stays hidden.
  const optional = (path) => api(path).catch((e) => { if (e instanceof KeyNeeded) throw e; return null; });
  const [invoice, quotas, balance, burn] = await Promise.all([
    api(`/v1/tenants/${id}/invoices/${month}`), api(`/v1/tenants/${id}/quotas`),
    optional(`/v1/tenants/${id}/credits/balance`), optional(`/v1/tenants/${id}/credits/burn_rate`)]);
  const zone = invoice.time_zone;
  // The month's days in the tenant's zone (what its invoice bills); the last 48 hours of it.
  const end = Math.min(Date.now(), Date.parse(invoice.period_end));
  const from48h = new Date(end - 48 * 3600 * 1000).toISOString();
  const [daily, hourly] = await Promise.all([
    api(`/v1/usage?tenant_id=${id}&window=day&time_zone=tenant&from=${month}-01&to=${nextMonth(month)}-01`),
    api(`/v1/usage?tenant_id=${id}&window=hour&from=${from48h}&to=${new Date(end).toISOString()}`),
  ]);
  if (generation !== state.generation) return;
  $("tenant-name").textContent = t;
  $("tenant-zone").textContent = "days in " + zone;
  $("daily-caption").textContent = `daily, ${month} (${zone})`;
  $("hourly-caption").textContent = `hourly, the last 48 hours${end < Date.now() ? " of " + month : ""} (${zone})`;
  drawChart("daily", daily, new Intl.DateTimeFormat(locale, { timeZone: zone, month: "short", day: "numeric" }));
  drawChart("hourly", hourly, new Intl.DateTimeFormat(locale, { timeZone: zone, day: "numeric", hour: "2-digit", minute: "2-digit" }));
  drawQuotas(quotas);
  drawCredit(balance, burn);
  drawInvoice(invoice, month);
}

async function refresh() {
  const status = $("status");
  const generation = ++state.generation;
  try {
    if (!(await loadTenants(generation))) return;
    await loadTenant(generation);
    if (generation !== state.generation) return;
    $("key-needed").hidden = true;
    $("content").hidden = false;
    keyInput.classList.remove("needed");
    status.textContent = "updated " + new Date().toLocaleTimeString(locale);
    document.body.dataset.loaded = "true";
  } catch (e) {
    if (generation !== state.generation) return;
    if (e instanceof KeyNeeded) {
      $("content").hidden = true;
      $("key-needed").hidden = false;
      keyInput.classList.add("needed");
      keyInput.focus();
      status.textContent = keyInput.value ? "that API key was refused: " + e.message : "API key needed";
      document.body.dataset.loaded = "key-needed";
    } else {
      status.textContent = "error: " + e.message;
    }
  }
}

refresh();
setInterval(refresh, 10000);
