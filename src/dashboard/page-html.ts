/**
 * The dashboard's two pages. Neither holds data: the dashboard page fetches it from /api/* with the
 * key, and writes it with textContent only (never as HTML).
 */

const HEAD = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vpb-db dashboard</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
</head>`;

export function loginPage(failed: boolean): string {
  return `${HEAD}
<body>
<main class="login">
<h1>vpb-db dashboard</h1>
<form method="post" action="/login">
<label for="key">Service key (serviceRoleKey in the data folder's api.json)</label>
<input id="key" name="key" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form>
${failed ? '<p class="error" role="alert">That is not the service key.</p>' : ""}
</main>
</body>
</html>
`;
}

/** The JSON the page loads, for a window of `hours`: client-script.ts asks for exactly these. */
export function dataPaths(hours: number): string[] {
  return [
    `/api/queries/series?hours=${hours}`,
    `/api/queries/top?hours=${hours}`,
    "/api/storage/users",
    "/api/cost/daily",
    `/api/errors/rate?hours=${hours}`,
    "/api/alerts",
  ];
}

/**
 * The dashboard for a window of `hours` (a validated number). Its data requests are preloaded from
 * the head: the server runs the panels' queries while the browser fetches and runs uPlot and the
 * page's script, instead of after (the script's fetches take the preloaded responses).
 */
export function dashboardPage(refreshMs: number, hours: number): string {
  const preloads = dataPaths(hours)
    .map((p) => `<link rel="preload" as="fetch" crossorigin href="${p}">`)
    .join("\n");
  return `${HEAD.replace("</head>", `${preloads}\n</head>`)}
<body data-refresh-ms="${refreshMs}" data-hours="${hours}">
<header>
<h1>vpb-db dashboard</h1>
<span id="status" role="status">loading…</span>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>
<main>
<section class="panel" aria-labelledby="h-alerts"><h2 id="h-alerts">Alerts</h2>
<table id="alerts"><thead><tr><th>state</th><th>severity</th><th>rule</th><th>subject</th><th>summary</th><th>fired</th><th>last seen</th></tr></thead><tbody></tbody></table>
<p class="note" id="alerts-note"></p></section>
<section class="panel" aria-labelledby="h-latency"><h2 id="h-latency">Query latency (mean, ms)</h2><figure class="chart" id="chart-latency"></figure></section>
<section class="panel" aria-labelledby="h-calls"><h2 id="h-calls">Query calls</h2><figure class="chart" id="chart-calls"></figure></section>
<section class="panel wide" aria-labelledby="h-top"><h2 id="h-top">Top queries by total time</h2>
<table id="top-queries"><thead><tr><th>time %</th><th>calls</th><th>mean ms</th><th>max ms</th><th>rows</th><th>cache hit</th><th>query</th></tr></thead><tbody></tbody></table></section>
<section class="panel" aria-labelledby="h-storage"><h2 id="h-storage">Storage per user vs quota</h2>
<table id="storage-users"><thead><tr><th>user</th><th>used</th><th>quota</th><th>of quota</th></tr></thead><tbody></tbody></table></section>
<section class="panel" aria-labelledby="h-cost"><h2 id="h-cost">API cost per day (USD)</h2><figure class="chart" id="chart-cost"></figure></section>
<section class="panel" aria-labelledby="h-errors"><h2 id="h-errors">Errors per minute</h2><figure class="chart" id="chart-errors"></figure></section>
</main>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/dashboard.js"></script>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1c1e21; }
header { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; background: #1c1e21; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; padding: 1rem; }
.panel { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: .5rem 1rem; min-width: 0; }
.panel.wide, .panel:first-child { grid-column: 1 / -1; }
h2 { font-size: 1rem; margin: .25rem 0 .5rem; }
.chart { margin: 0; min-height: 220px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eef0f2; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.query { font-family: ui-monospace, monospace; word-break: break-all; }
tr.firing td { background: #fdecea; }
tr.firing.critical td:first-child { font-weight: bold; color: #b3261e; }
.bar { background: #e6e9ee; height: 10px; width: 120px; border-radius: 3px; overflow: hidden; display: inline-block; }
.bar > span { display: block; height: 100%; background: #2f6fde; }
.bar.over > span { background: #b3261e; }
.note { color: #5f6368; font-size: 12px; }
.login { max-width: 420px; margin: 10vh auto; background: #fff; padding: 1.5rem; border-radius: 6px; }
.login input { width: 100%; margin: .5rem 0; padding: .4rem; box-sizing: border-box; }
.error { color: #b3261e; }
`;
