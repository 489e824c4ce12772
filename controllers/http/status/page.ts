import type {
  ActionView,
  EngineView,
  PoolHealth,
  PoolView,
  StatusSnapshot,
  TransitionView,
} from './snapshot.js';

// The status page's HTML, rendered on the server from the snapshot: the whole page for `GET /`, and
// the live part alone for `GET /ui/live`, which the page's script swaps in when the event stream says
// the status changed. One renderer, so the first paint and every update look the same. Pure.

/** HTML that is already escaped. */
class Html {
  constructor(readonly text: string) {}
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function piece(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join('');
  if (value === undefined || value === null || value === false) return '';
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A template whose interpolations are escaped (nested `html` and arrays of it are kept as they are). */
function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0]!;
  values.forEach((value, i) => {
    text += piece(value) + strings[i + 1]!;
  });
  return new Html(text);
}

/** A duration as the page shows it: `12 s`, `5 min`, `3 h`, `2 d` (the script formats the same way). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** A time the script keeps current: `age` shows the duration since, `ago` the same followed by "ago". */
function since(iso: string, now: number, rel: 'age' | 'ago', id?: string): Html {
  const text = duration(now - Date.parse(iso));
  return html`<time${id ? html` id="${id}"` : ''} datetime="${iso}" title="${iso}" data-rel="${rel}">${rel === 'ago' ? `${text} ago` : text}</time>`;
}

const HEALTH_WORD: Record<PoolHealth, string> = { ok: 'OK', warning: 'Warning', degraded: 'Degraded' };
const HEALTH_ICON: Record<PoolHealth, string> = { ok: '✓', warning: '!', degraded: '✕' };
const ICON_COLOR: Record<PoolHealth, string> = { ok: '#0a7d33', warning: '#c98a00', degraded: '#c4161c' };

/** The worst health of the pools (and of the controller itself). */
export function overallHealth(snapshot: StatusSnapshot): PoolHealth {
  if (!snapshot.ready) return 'degraded';
  const healths = snapshot.pools.map((p) => p.health);
  if (healths.includes('degraded')) return 'degraded';
  if (healths.includes('warning') || !snapshot.config.valid) return 'warning';
  return 'ok';
}

/** The sentence at the top: what is wrong, or that nothing is. */
export function headline(snapshot: StatusSnapshot): string {
  if (!snapshot.ready) return `Controller not ready: ${snapshot.readiness}`;
  const bad = snapshot.pools.filter((p) => p.health !== 'ok');
  const parts = bad.map((p) => `${p.name} ${HEALTH_WORD[p.health].toLowerCase()}: ${p.summary}`);
  if (!snapshot.config.valid)
    parts.push('the desired-state file is invalid (the last valid one is in force)');
  if (parts.length > 0) return parts.join(' · ');
  const n = snapshot.pools.length;
  return `${n === 1 ? 'The pool is' : `All ${n} pools are`} healthy`;
}

/** The document title, which also tells the state from a browser tab. */
export function pageTitle(snapshot: StatusSnapshot): string {
  const health = overallHealth(snapshot);
  return `${health === 'ok' ? '' : `${HEALTH_ICON[health]} ${HEALTH_WORD[health]} · `}enginepool status`;
}

/** A round favicon in the overall health's colour. */
function favicon(health: PoolHealth): string {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="${ICON_COLOR[health]}"/></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

function transitionLine(t: TransitionView | null, now: number): Html {
  if (!t) return html``;
  return html`<p class="transition">${t.from} → ${t.to} ${since(t.at, now, 'ago')}: ${t.reason}</p>`;
}

function engineTile(engine: EngineView, now: number): Html {
  const streaming = engine.streams > 0;
  const classes = [
    'tile',
    `tile--${engine.state}`,
    streaming ? 'tile--streaming' : '',
    engine.health === 'unhealthy' ? 'tile--failing' : '',
  ].filter(Boolean);
  return html`<li class="${classes.join(' ')}" data-engine="${engine.name}">
<p class="tile__name">${engine.name}${engine.forwarded ? html` <span class="tag">forwarded</span>` : ''}</p>
<p class="tile__state">${engine.state}${engine.health === 'unhealthy' && engine.state !== 'unhealthy' ? ' · probes failing' : ''}</p>
${streaming ? html`<p class="tile__streams">▶ ${engine.streams} ${engine.streams === 1 ? 'stream' : 'streams'}</p>` : ''}
<dl class="tile__facts"><div><dt>port</dt><dd>${engine.port}</dd></div><div><dt>streams</dt><dd>${engine.streams}</dd></div><div><dt>age</dt><dd>${since(engine.createdAt, now, 'age')}</dd></div><div><dt>health</dt><dd>${engine.health}</dd></div></dl>
${engine.lastProbeError && engine.state !== 'starting' ? html`<p class="tile__error">${engine.lastProbeError}</p>` : ''}
</li>`;
}

function actionItem(action: ActionView, now: number): Html {
  return html`<li class="${action.ok ? '' : 'failed'}">${since(action.at, now, 'ago')} <strong>${action.kind} ${action.engine}</strong>: ${action.reason}${action.ok ? '' : html` <span class="error">— failed: ${action.error}</span>`}</li>`;
}

function poolSection(pool: PoolView, now: number): Html {
  const r = pool.replicas;
  const id = `pool-${pool.name}`;
  const breaker = pool.circuitBreaker;
  const vpn = pool.vpn;
  return html`<article class="pool pool--${pool.health}" aria-labelledby="${id}">
<header class="pool__head"><h2 id="${id}">${pool.name}</h2><p class="badge badge--${pool.health}"><span aria-hidden="true">${HEALTH_ICON[pool.health]}</span> ${HEALTH_WORD[pool.health]}</p></header>
<p class="pool__summary">${pool.summary}</p>
<dl class="figures">
<div class="${r.free < r.minFree ? 'short' : ''}"><dt>Free</dt><dd>${r.free} <small>of minFree ${r.minFree}</small></dd></div>
<div class="${r.total >= r.max ? 'short' : ''}"><dt>Total</dt><dd>${r.total} <small>of max ${r.max}</small></dd></div>
<div><dt>In use</dt><dd>${r.used} <small>${r.starting} starting</small></dd></div>
<div class="${breaker.state === 'closed' ? '' : 'short'}"><dt>Breaker</dt><dd>${breaker.state}</dd></div>
<div class="${vpn.enabled && vpn.phase !== 'healthy' ? 'short' : ''}"><dt>VPN</dt><dd>${vpn.enabled ? vpn.phase : 'none'}${vpn.forwardedPort === null ? '' : html` <small>port ${vpn.forwardedPort}</small>`}</dd></div>
</dl>
<h3>Engines</h3>
${pool.engines.length === 0 ? html`<p class="empty">No engines.</p>` : html`<ul class="tiles" aria-label="Engines of ${pool.name}">${pool.engines.map((e) => engineTile(e, now))}</ul>`}
<div class="cols">
<section aria-labelledby="${id}-breaker"><h3 id="${id}-breaker">Circuit breaker</h3>
<p>${breaker.state}${breaker.failures > 0 ? `, ${breaker.failures} ${breaker.failures === 1 ? 'failure' : 'failures'}` : ''}${breaker.retryAt ? html`, next trial at <time datetime="${breaker.retryAt}">${breaker.retryAt.slice(11, 19)} UTC</time>` : ''}</p>
${breaker.lastFailure ? html`<p class="error">Last failure: ${breaker.lastFailure}</p>` : ''}
${transitionLine(breaker.lastTransition, now)}
</section>
<section aria-labelledby="${id}-vpn"><h3 id="${id}-vpn">VPN</h3>
${vpn.enabled ? html`<p>${vpn.container}: ${vpn.phase}${vpn.forwardedPort === null ? '' : `, forwarded port ${vpn.forwardedPort}`}</p>${vpn.lastError ? html`<p class="error">${vpn.lastError}</p>` : ''}${transitionLine(vpn.lastTransition, now)}` : html`<p>No VPN.</p>`}
</section>
</div>
<h3>Conditions</h3>
<ul class="conditions">${pool.conditions.map(
    (c) =>
      html`<li class="condition condition--${c.status.toLowerCase()}"><strong>${c.type}</strong> ${c.status} · ${c.reason} <span class="muted">${since(c.lastTransitionTime, now, 'ago')}</span><br>${c.message}</li>`,
  )}</ul>
<h3>Last actions</h3>
${pool.actions.length === 0 ? html`<p class="empty">None since the controller started.</p>` : html`<ol class="actions">${pool.actions.map((a) => actionItem(a, now))}</ol>`}
<p class="muted">Generation ${pool.generation} (observed ${pool.observedGeneration})</p>
</article>`;
}

function configSection(snapshot: StatusSnapshot, now: number): Html {
  const { config } = snapshot;
  const reloaded = config.reloadedAt ? html` ${since(config.reloadedAt, now, 'ago')}` : '';
  if (config.valid) return html`<p class="config">Desired-state file: valid, last loaded${reloaded}.</p>`;
  return html`<section class="config config--invalid" aria-labelledby="config-title"><h2 id="config-title">Desired-state file invalid</h2>
<p>Changed${reloaded}; the controller keeps the last valid version until it is fixed (<code>enginepool validate FILE</code> shows every detail).</p>
<ul>${config.problems.map((p) => html`<li>${p.line === null ? '' : `line ${p.line}: `}${p.path ? html`<code>${p.path}</code>: ` : ''}${p.message}</li>`)}</ul></section>`;
}

/** The live part of the page (`#live`): the overall state, the file's state and every pool. */
export function renderLive(snapshot: StatusSnapshot): string {
  const now = Date.parse(snapshot.at);
  const health = overallHealth(snapshot);
  const line = headline(snapshot);
  return html`<div id="live" data-now="${now}" data-title="${pageTitle(snapshot)}" data-icon="${favicon(health)}" data-summary="${HEALTH_WORD[health]}: ${line}"><main id="main" tabindex="-1">
<section class="overall overall--${health}" aria-labelledby="overall-state"><p id="overall-state" class="overall__state"><span aria-hidden="true">${HEALTH_ICON[health]}</span> ${HEALTH_WORD[health]}</p><p class="overall__line">${line}</p>
<p class="overall__observed">Docker observed ${snapshot.observedAt ? since(snapshot.observedAt, now, 'ago', 'observed') : 'not yet'}</p></section>
${configSection(snapshot, now)}
<div class="pools">${snapshot.pools.length === 0 ? html`<p class="empty">No pools yet.</p>` : snapshot.pools.map((p) => poolSection(p, now))}</div>
</main></div>`.text;
}

/** Where the page's stylesheet and script are served (with a content hash, so they can be cached). */
export interface PageAssets {
  readonly css: string;
  readonly js: string;
}

/** The whole page. */
export function renderPage(snapshot: StatusSnapshot, assets: PageAssets): string {
  const health = overallHealth(snapshot);
  return `<!doctype html>
${
  html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">
<title>${pageTitle(snapshot)}</title><link rel="icon" href="${favicon(health)}"><link rel="stylesheet" href="${assets.css}"><script type="module" src="${assets.js}"></script></head>
<body><a class="skip" href="#main">Skip to the status</a>
<header class="top"><h1>enginepool</h1><p id="connection" class="connection" data-state="static">Snapshot; live updates need JavaScript</p></header>
<p id="announce" class="visually-hidden" role="status"></p>
${new Html(renderLive(snapshot))}
</body></html>`.text
}
`;
}
