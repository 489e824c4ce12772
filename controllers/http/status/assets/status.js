// The status page's one script. It follows the status event stream and, whenever the status changes,
// swaps in the live part the server renders (`/ui/live`), so every update looks like the first paint.
// Between updates it keeps times ("12 s ago") current. Without it, the page is a correct snapshot.

const connection = document.getElementById('connection');
const announce = document.getElementById('announce');
/** Server time minus this browser's time, so ages do not depend on the viewer's clock. */
let offset = 0;
let fetching = false;
let again = false;

/** The same format as the server's `duration`. */
function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

function tick() {
  const now = Date.now() + offset;
  for (const time of document.querySelectorAll('time[data-rel]')) {
    const text = duration(now - Date.parse(time.dateTime));
    time.textContent = time.dataset.rel === 'ago' ? `${text} ago` : text;
  }
}

function adopt(live, announced) {
  offset = Number(live.dataset.now) - Date.now();
  document.title = live.dataset.title;
  const icon = document.querySelector('link[rel="icon"]');
  if (icon) icon.href = live.dataset.icon;
  // Why: a screen reader hears what changed in a few words, not the whole page again.
  if (announced !== live.dataset.summary) announce.textContent = live.dataset.summary;
}

function swap(text) {
  const template = document.createElement('template');
  template.innerHTML = text;
  const next = template.content.firstElementChild;
  const current = document.getElementById('live');
  if (next?.id !== 'live' || !current) return;
  const focused = document.activeElement?.id;
  current.replaceWith(next);
  if (focused) document.getElementById(focused)?.focus();
  adopt(next, current.dataset.summary);
  tick();
}

async function refresh() {
  if (fetching) {
    again = true;
    return;
  }
  fetching = true;
  try {
    const response = await fetch('/ui/live', { cache: 'no-store' });
    if (response.ok) swap(await response.text());
  } catch {
    // The event stream tells the viewer when the controller cannot be reached.
  }
  fetching = false;
  if (again) {
    again = false;
    void refresh();
  }
}

function state(name, text) {
  connection.dataset.state = name;
  connection.textContent = text;
}

function connect() {
  const source = new EventSource('/api/v1/status/events');
  source.addEventListener('status', () => {
    state('live', 'Live');
    void refresh();
  });
  source.addEventListener('heartbeat', (event) => {
    const beat = JSON.parse(event.data);
    offset = Date.parse(beat.at) - Date.now();
    const observed = document.getElementById('observed');
    if (observed && beat.observedAt) observed.dateTime = beat.observedAt;
    state('live', 'Live');
    tick();
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (too many viewers) or gone: EventSource gives up, so try again a little later.
      state('down', 'Disconnected; retrying');
      setTimeout(connect, 5000);
    } else state('down', 'Reconnecting…');
  });
}

const live = document.getElementById('live');
if (live) adopt(live, live.dataset.summary);
setInterval(tick, 1000);
state('connecting', 'Connecting…');
connect();
