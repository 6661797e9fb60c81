// The local console: polls api/state about once a second and redraws, never reloading the page.
// Read-only: it only ever GETs. Text from the cloud is set as text, never as HTML.
// While a poll fails, the page is marked stale (greyed, with a banner saying since when and why),
// so that data the cloud no longer confirms is never shown as live; the next good poll clears it.
"use strict";

const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 10000; // a cloud that accepts but does not answer is not answering
const COLORS = ["#0073bb", "#1d8102", "#d13212", "#8c4fff", "#b7740f", "#00a1c9"];
const plots = new Map(); // "endpoint/chart" -> {plot, labels}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function status(text) {
  return el("span", { class: `status ${text}` }, text);
}

function when(value) {
  if (value === undefined || value === null || value === "") return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleTimeString();
}

function table(headers, rows, attrs) {
  if (!rows.length) return el("p", { class: "muted" }, "None.");
  return el("table", attrs, el("tr", {}, headers.map((h) => el("th", {}, h))),
    rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c)))));
}

function phase(endpoint) {
  const pending = endpoint.PendingDeploymentSummary;
  if (!pending) return null;
  const policy = (endpoint.LastDeploymentConfig || {}).BlueGreenUpdatePolicy || {};
  const routing = (policy.TrafficRoutingConfiguration || {}).Type || "ALL_AT_ONCE";
  const step = ((pending.ProductionVariants || [])[0] || {}).VariantStatus || [];
  const latest = step[step.length - 1] || {};
  return el("p", { "data-testid": "update" }, "Blue/green update (", routing, ") to ",
    pending.EndpointConfigName, ": ", status(latest.Status || "Creating"), " ",
    latest.StatusMessage || "");
}

function variants(endpoint) {
  const rows = (endpoint.ProductionVariants || []).map((v) => [
    v.VariantName, String(v.CurrentWeight ?? ""), String(v.DesiredWeight ?? ""),
    el("span", { "data-testid": "current-count", "data-variant": v.VariantName },
      String(v.CurrentInstanceCount ?? "")),
    String(v.DesiredInstanceCount ?? ""),
  ]);
  return table(["Variant", "Weight", "Desired weight", "Instances", "Desired instances"], rows,
    { "data-testid": "variants" });
}

function serving(endpoint) {
  const rows = endpoint.Serving.map((s) => {
    const row = el("tr", { class: `fleet-${s.Fleet}`, "data-testid": "serving",
      "data-variant": s.VariantName, "data-fleet": s.Fleet },
      el("td", {}, s.VariantName), el("td", {}, s.Fleet),
      el("td", {}, `${Math.round(s.TrafficShare * 100)}%`),
      el("td", { "data-testid": "instance-count" }, String(s.Instances.length)),
      el("td", {}, s.Instances.map((i) => el("div", {}, i.Id, " ", status(i.Health)))));
    return row;
  });
  if (!rows.length) return el("p", { class: "muted" }, "No traffic served yet.");
  return el("table", {}, el("tr", {}, ["Serving now", "Fleet", "Traffic", "Instances", "Health"]
    .map((h) => el("th", {}, h))), rows);
}

function aligned(series, end, period) {
  // uPlot wants one x array and a y array per series: x in cloud minutes before the window's end
  const times = [...new Set(Object.values(series).flatMap((s) => s.points.map((p) => p[0])))]
    .sort((a, b) => a - b);
  const ys = Object.values(series).map((s) => {
    const byTime = new Map(s.points.map((p) => [p[0], p[1]]));
    return times.map((t) => (byTime.has(t) ? byTime.get(t) : null));
  });
  return [times.map((t) => (t - end) / period), ...ys];
}

function drawChart(holder, key, chart, charts) {
  const { window, period, minutes } = charts;
  const labels = Object.keys(chart.series);
  const end = Date.parse(window[1]) / 1000;
  const data = aligned(chart.series, end, period);
  const known = plots.get(key);
  if (known && known.labels.join() === labels.join() && holder.contains(known.plot.root)) {
    known.plot.setData(data);
    return;
  }
  if (known) known.plot.destroy();
  holder.replaceChildren(el("div", { class: "title" }, `${chart.title} (${chart.unit})`));
  const opts = {
    width: 340, height: 160,
    scales: { x: { time: false, range: () => [-minutes, 0] } },
    legend: { live: false },
    axes: [{ label: "cloud minutes ago" }, { size: 70 }],
    series: [{}, ...labels.map((label, i) => ({
      label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
    }))],
  };
  plots.set(key, { plot: new uPlot(opts, data, holder), labels });
}

function charts(endpoint, state) {
  const name = endpoint.EndpointName;
  const mine = (state.charts.endpoints || {})[name];
  const holder = document.querySelector(`[data-charts="${CSS.escape(name)}"]`) ||
    el("div", { class: "charts", "data-charts": name });
  if (!mine) return holder;
  for (const [key, chart] of Object.entries(mine)) {
    let box = holder.querySelector(`[data-chart="${key}"]`);
    if (!box) {
      box = el("div", { class: "chart", "data-chart": key });
      holder.append(box);
    }
    drawChart(box, `${name}/${key}`, chart, state.charts);
  }
  return holder;
}

function endpointCard(endpoint, state) {
  const card = el("div", { class: "card", "data-endpoint": endpoint.EndpointName },
    el("h3", {}, endpoint.EndpointName, " ", status(endpoint.EndpointStatus)),
    el("p", { class: "muted" }, "Config ", endpoint.EndpointConfigName,
      endpoint.FailureReason ? ` · ${endpoint.FailureReason}` : ""),
    phase(endpoint) || "", variants(endpoint), serving(endpoint));
  card.append(charts(endpoint, state));
  return card;
}

function render(state) {
  const scale = state.time_scale;
  document.getElementById("clock").textContent =
    `updated ${new Date().toLocaleTimeString()} · time scale ${scale} (a cloud minute is ${60 / scale} s)`;
  const cards = state.endpoints.map((e) => endpointCard(e, state));
  document.getElementById("endpoints").replaceChildren(
    ...(cards.length ? cards : [el("p", { class: "muted" }, "No endpoints yet.")]));
  document.getElementById("scaling").replaceChildren(table(
    ["Started", "Resource", "Description", "Status"],
    state.scaling_activities.map((a) => [when(a.StartTime), a.ResourceId, a.Description,
      status(a.StatusCode)]), { "data-testid": "scaling" }));
  document.getElementById("alarms").replaceChildren(table(["Alarm", "Metric", "State"],
    state.alarms.map((a) => [a.AlarmName, a.MetricName, status(a.StateValue)])));
  document.getElementById("training").replaceChildren(table(
    ["Job", "Status", "Created", "Ended", "Final metrics"],
    state.training_jobs.map((j) => [j.TrainingJobName, status(j.TrainingJobStatus),
      when(j.CreationTime), when(j.TrainingEndTime),
      (j.FinalMetricDataList || []).map((m) => `${m.MetricName} = ${m.Value}`).join(", ")])));
  document.getElementById("stacks").replaceChildren(...(state.stacks.length
    ? state.stacks.map((s) => el("div", { class: "card" }, el("h3", {}, s.StackName, " ",
      status(s.StackStatus)), table(["Time", "Resource", "Status", "Reason"],
      s.StackEvents.map((e) => [when(e.Timestamp), e.LogicalResourceId,
        status(e.ResourceStatus), e.ResourceStatusReason || ""]))))
    : [el("p", { class: "muted" }, "None.")]));
}

let shownAt = null; // when the data on the page was fetched

function why(error) {
  const command = (name) => el("code", {}, name);
  if (error.status === 403) {
    return ["the local cloud refused this page's token: it was reset (",
      command("cdlab local reset"), ") since the page was opened; open the address ",
      command("cdlab console"), " prints"];
  }
  if (error.status) return [`the local cloud answered ${error.status}: ${error.message}`];
  if (error.starting) return ["the local cloud is starting"];
  return ["the local cloud is not answering (", command("cdlab local up"), ")"];
}

function stale(error) {
  const since = shownAt ? `showing data from ${shownAt.toLocaleTimeString()}` : "no data yet";
  const banner = document.getElementById("stale");
  banner.replaceChildren(since, " — ", ...why(error));
  banner.hidden = false;
  document.body.classList.add("stale");
  document.getElementById("clock").textContent = `not connected: ${error.message}`;
}

function fresh() {
  document.getElementById("stale").hidden = true;
  document.body.classList.remove("stale");
}

async function poll() {
  try {
    const response = await fetch("api/state", { credentials: "same-origin", cache: "no-store",
      signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
    if (!response.ok) {
      throw Object.assign(new Error(await response.text()), { status: response.status });
    }
    const state = await response.json();
    if (state.starting) throw Object.assign(new Error("starting"), { starting: true });
    render(state);
    shownAt = new Date();
    fresh();
  } catch (error) {
    stale(error);
  }
  setTimeout(poll, POLL_MS);
}

poll();
