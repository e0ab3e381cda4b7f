import type { IntegrationStatus, StatusReport } from './status';
import { percent } from './rules';

/**
 * The status page's HTML, rendered on the server: no framework, no script, every value escaped. It reloads
 * itself (`<meta http-equiv="refresh">`); the same data is `GET /api/status`.
 */

export interface PageOptions {
  refreshSeconds: number;
  /** Show the "resolve all parked" form (a bulk-resolve function is configured). */
  bulkResolve: boolean;
  /** The token field is shown when action routes require one (served beyond loopback). */
  tokenRequired: boolean;
}

/** Escapes text and attribute values alike. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

const colours: Record<IntegrationStatus['health'], string> = {
  operational: '#1a7f37',
  degraded: '#9a6700',
  down: '#cf222e',
  unknown: '#57606a',
};

export function renderStatusPage(report: StatusReport, options: PageOptions): string {
  const e = escapeHtml;
  const summary = (['down', 'degraded', 'unknown', 'operational'] as const)
    .map((h) => [h, report.integrations.filter((i) => i.health === h).length] as const)
    .filter(([, n]) => n > 0)
    .map(([h, n]) => `<span class="badge" style="background:${colours[h]}">${n} ${h}</span>`)
    .join(' ');
  const temporal = report.temporal.reachable
    ? `Temporal namespace <code>${e(report.temporal.namespace)}</code>, UI <a href="${e(report.temporal.uiUrl)}">${e(report.temporal.uiUrl)}</a>`
    : `<strong>Temporal is unreachable</strong>: ${e(report.temporal.error ?? 'every read failed')}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${options.refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Integrations status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { text-align: left; vertical-align: top; padding: .5rem; border-bottom: 1px solid #d0d7de; }
th { background: #f6f8fa; }
.badge { color: #fff; border-radius: 1rem; padding: .1rem .6rem; font-weight: 600; white-space: nowrap; }
.muted { color: #57606a; font-size: .9em; }
.rule { background: #f6f8fa; padding: .5rem .75rem; border-radius: .4rem; max-width: 70rem; }
ul { margin: .25rem 0; padding-left: 1.1rem; }
form { margin-top: .5rem; display: grid; gap: .25rem; max-width: 18rem; }
code { font-size: .9em; }
</style>
</head>
<body>
<h1>Integrations status</h1>
<p>${summary} <span class="muted">as of ${e(report.generatedAt)}; reloads every ${options.refreshSeconds} s; JSON at <a href="/api/status">/api/status</a></span></p>
<p class="muted">${temporal}. Error rate: ${e(report.errorRateSource)}.</p>
<p class="rule"><strong>How the status is decided.</strong> ${e(report.rule)}</p>
<table>
<thead><tr><th>Integration</th><th>Status</th><th>Owner and support</th><th>Breaker</th><th>Kill switches</th><th>Parked</th><th>Error rate (5 min)</th><th>Last incident</th><th>In the Temporal UI</th></tr></thead>
<tbody>
${report.integrations.map((i) => row(i, options)).join('\n')}
</tbody>
</table>
</body>
</html>
`;
}

function row(i: IntegrationStatus, options: PageOptions): string {
  const e = escapeHtml;
  const support = i.support
    ? `support ${i.support.contact.startsWith('#') ? `<code>${e(i.support.contact)}</code>` : `<a href="${e(contactHref(i.support.contact))}">${e(i.support.contact)}</a>`}<br>escalation <a href="tel:${e(i.support.escalation.replace(/[ -]/g, ''))}">${e(i.support.escalation)}</a>`
    : '<span class="muted">no support contact declared</span>';
  const breaker = i.breaker
    ? `${e(i.breaker.forced ? `forced ${i.breaker.forced}` : i.breaker.position)}${i.breaker.openUntil ? `<br><span class="muted">probe after ${e(i.breaker.openUntil)}</span>` : ''}<br><span class="muted">${i.breaker.consecutiveFailures} of ${i.breaker.opensAfter} failures in a row</span>`
    : '<span class="muted">unknown</span>';
  const switches = i.breaker
    ? i.killSwitches.length === 0
      ? 'none'
      : i.killSwitches.map((s) => (s === '*' ? 'whole integration' : e(s))).join(', ')
    : '<span class="muted">unknown</span>';
  const parked =
    i.parked === null
      ? `<span class="muted" title="${e(i.parkedError ?? '')}">unknown</span>`
      : `<a class="parked-count" href="${e(i.links.parked)}">${i.parked}</a>`;
  const rate =
    i.errorRate === null
      ? `<span class="muted">${e(i.errorRateNote.startsWith('unknown') ? 'unknown' : i.errorRateNote)}</span>`
      : e(percent(i.errorRate));
  const incident = i.lastIncident
    ? `opened ${e(i.lastIncident.at)}<br><span class="muted">${e(i.lastIncident.why)}</span>`
    : '<span class="muted">none recorded</span>';
  const provider = i.providerIncident
    ? `<br>provider status: <strong>${e(i.providerIncident.status)}</strong> ${i.providerIncident.url ? `<a href="${e(safeHref(i.providerIncident.url))}">${e(i.providerIncident.title)}</a>` : e(i.providerIncident.title)} <span class="muted">(${e(i.providerIncident.updatedAt)})</span>`
    : '';
  const reasons = i.reasons.length ? `<ul>${i.reasons.map((r) => `<li>${e(r)}</li>`).join('')}</ul>` : '';
  const form =
    options.bulkResolve && i.parked !== 0
      ? `<form method="post" action="/integrations/${encodeURIComponent(i.name)}/resolve-parked">
<strong>Resolve all parked</strong>
<select name="action" aria-label="decision"><option value="retry">retry</option><option value="retryWithBudget">retry with a new budget</option><option value="compensate">compensate</option><option value="fail">fail</option></select>
<input name="budget" placeholder="budget, e.g. 2 hours (retry with a new budget)" aria-label="budget">
<input name="reason" required placeholder="reason (kept in the history)" aria-label="reason">
<input name="requestedBy" required placeholder="your name" aria-label="requested by">
${options.tokenRequired ? '<input name="token" type="password" required placeholder="operator token" aria-label="token">' : ''}
<button type="submit">Resolve all parked on ${e(i.name)}</button>
</form>`
      : '';
  return `<tr id="integration-${e(i.name)}" data-health="${e(i.health)}">
<td><strong>${e(i.name)}</strong> ${e(i.version)}<br><span class="muted">${e(i.purpose)}</span></td>
<td><span class="badge status" style="background:${colours[i.health]}">${e(i.health)}</span>${reasons}${provider}</td>
<td>${e(i.owner)}<br>${support}</td>
<td>${breaker}</td>
<td>${switches}</td>
<td>${parked}${form}</td>
<td>${rate}</td>
<td>${incident}</td>
<td><a class="link-parked" href="${e(i.links.parked)}">parked</a><br><a class="link-attention" href="${e(i.links.needsAttention)}">needs attention</a><br><a class="link-control" href="${e(i.links.control)}">control workflow</a></td>
</tr>`;
}

/** `mailto:` for an address, the URL itself for https, nothing clickable for a chat channel. */
function contactHref(contact: string): string {
  if (contact.includes('@')) return `mailto:${contact}`;
  return safeHref(contact);
}

/** Only http(s) URLs become links: a `javascript:` URL from an incident source is not one. */
function safeHref(url: string): string {
  return /^https?:\/\//i.test(url) ? url : '#';
}

export function renderNotice(title: string, body: string, back = '/'): string {
  const e = escapeHtml;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${e(title)}</title></head>
<body style="font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem"><h1>${e(title)}</h1><p>${e(body)}</p><p><a href="${e(back)}">Back to the status page</a></p></body></html>
`;
}
