/**
 * The page's script, served as /assets/dashboard.js (plain browser JavaScript, no build step). It
 * fetches every panel's data, draws the charts with uPlot (served from the npm package, no CDN),
 * and refreshes on its own. Each panel exposes what it drew in `data-series` (JSON), so a test can
 * compare the page with the database; `body[data-refreshes]` counts completed loads and
 * `body[data-first-paint-ms]` is the time from navigation to the first complete render.
 */
export const CLIENT_SCRIPT = `(function () {
  "use strict";
  var body = document.body;
  var refreshMs = Number(body.getAttribute("data-refresh-ms")) || 30000;
  // The window the server validated (and preloaded the data of).
  var hours = body.getAttribute("data-hours") || "6";
  var charts = {};
  var refreshes = 0;

  function get(path) {
    // No custom header: a request must match the page's preload to take its response.
    return fetch(path, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { location.href = "/"; throw new Error("signed out"); }
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "-" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function fixed(n, digits) { return n === null || n === undefined ? null : Number(n).toFixed(digits); }
  function bytes(n) {
    if (n === null || n === undefined) return "unlimited";
    var units = ["B", "kB", "MB", "GB", "TB"], i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v : v.toFixed(1)) + " " + units[i];
  }
  function time(iso) { return iso ? new Date(iso).toISOString().replace("T", " ").slice(0, 19) + "Z" : null; }

  function fillTable(id, rows, draw) {
    var table = document.getElementById(id);
    var tbody = table.tBodies[0];
    tbody.textContent = "";
    rows.forEach(function (row) { var tr = document.createElement("tr"); draw(tr, row); tbody.appendChild(tr); });
    table.setAttribute("data-series", JSON.stringify(rows));
  }

  function chart(id, label, color, data, bars) {
    var el = document.getElementById(id);
    el.setAttribute("data-series", JSON.stringify(data));
    if (charts[id]) { charts[id].setData(data); return; }
    var series = { label: label, stroke: color, width: 2, points: { show: true, size: 4 } };
    if (bars) { series.fill = color; series.paths = uPlot.paths.bars({ size: [0.6, 40] }); series.points = { show: false }; }
    charts[id] = new uPlot({
      width: Math.max(el.clientWidth, 300),
      height: 220,
      series: [{}, series],
      // Counts, times and costs are never negative: the axis starts at 0, so bars and lines read true.
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
    }, data, el);
  }

  function load() {
    var q = "?hours=" + encodeURIComponent(hours);
    return Promise.all([
      get("/api/queries/series" + q),
      get("/api/queries/top" + q),
      get("/api/storage/users"),
      get("/api/cost/daily"),
      get("/api/errors/rate" + q),
      get("/api/alerts"),
    ]).then(function (r) {
      var series = r[0].points;
      chart("chart-latency", "mean ms", "#2f6fde",
        [series.map(function (p) { return p.t; }), series.map(function (p) { return p.mean_ms; })]);
      chart("chart-calls", "calls", "#1e8e3e",
        [series.map(function (p) { return p.t; }), series.map(function (p) { return p.calls; })]);
      fillTable("top-queries", r[1].queries, function (tr, x) {
        cell(tr, fixed(x.time_pct, 1), "num"); cell(tr, x.calls, "num"); cell(tr, fixed(x.mean_ms, 2), "num");
        cell(tr, fixed(x.max_ms, 2), "num"); cell(tr, x.rows, "num"); cell(tr, fixed(x.cache_hit_pct, 1), "num");
        cell(tr, x.query, "query");
      });
      fillTable("storage-users", r[2].users, function (tr, u) {
        cell(tr, u.user_id); cell(tr, bytes(u.bytes), "num"); cell(tr, bytes(u.quota_bytes), "num");
        var td = cell(tr, "");
        var bar = document.createElement("span");
        bar.className = "bar" + (u.used_pct !== null && u.used_pct >= 100 ? " over" : "");
        var fill = document.createElement("span");
        fill.style.width = Math.min(u.used_pct === null ? 0 : u.used_pct, 100) + "%";
        bar.appendChild(fill);
        td.appendChild(bar);
        td.appendChild(document.createTextNode(" " + (u.used_pct === null ? "-" : u.used_pct.toFixed(1) + "%")));
      });
      var cost = r[3].days;
      chart("chart-cost", "USD", "#e37400",
        [cost.map(function (d) { return d.t; }), cost.map(function (d) { return d.usd; })], true);
      var errors = r[4].points;
      chart("chart-errors", "errors/min", "#b3261e",
        [errors.map(function (p) { return p.t; }), errors.map(function (p) { return p.per_minute; })]);
      fillTable("alerts", r[5].alerts, function (tr, a) {
        tr.className = a.state + " " + a.severity;
        cell(tr, a.state); cell(tr, a.severity); cell(tr, a.rule); cell(tr, a.subject); cell(tr, a.summary);
        cell(tr, time(a.fired_at)); cell(tr, time(a.last_seen_at));
      });
      document.getElementById("alerts-note").textContent = r[5].note || "";
      refreshes++;
      if (refreshes === 1) body.setAttribute("data-first-paint-ms", String(Math.round(performance.now())));
      body.setAttribute("data-refreshes", String(refreshes));
      document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
    }).catch(function (e) {
      document.getElementById("status").textContent = "update failed: " + e.message;
    });
  }

  function loop() { load().then(function () { setTimeout(loop, refreshMs); }); }
  loop();
})();
`;
