/**
 * The dashboard: one HTML page and its script, served by the monitor itself (no CDN, no build
 * step, nothing fetched from elsewhere: the page's Content-Security-Policy allows only its own
 * origin). It loads `/api/snapshot`, `/api/history` and `/api/events`, then follows
 * `/api/stream`: a card per source (running, queued, ended by outcome, workers or slots, a
 * throughput chart), a table of a cluster's nodes, and the latest notable events. Text from the
 * sources is set with `textContent`, never parsed as HTML.
 * @module
 */

/** @internal */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>taskos monitor</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f5f6f8; }
  body { margin: 0 auto; max-width: 1200px; padding: 16px; }
  header { display: flex; align-items: baseline; gap: 16px; }
  h1 { font-size: 20px; margin: 0 0 12px; }
  #status { color: #667; font-size: 13px; }
  #status.down { color: #b3261e; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
  .card { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 2px #0002; }
  .card h2 { font-size: 16px; margin: 0 0 8px; }
  .kind { font-size: 12px; color: #667; font-weight: normal; margin-left: 6px; }
  .nums { display: grid; grid-template-columns: repeat(4, 1fr); gap: 4px 8px; font-size: 13px; }
  .nums b { display: block; font-size: 18px; }
  .bad b { color: #b3261e; }
  svg { width: 100%; height: 60px; display: block; margin-top: 8px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; background: #fff; margin-top: 12px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e5e8; }
  td.down { color: #b3261e; font-weight: bold; }
  #events { font-size: 13px; background: #fff; border-radius: 8px; padding: 8px 14px; margin-top: 12px; list-style: none; }
  #events li { padding: 2px 0; }
  #events time { color: #667; margin-right: 8px; }
</style>
</head>
<body>
<header><h1>taskos monitor</h1><span id="status">connecting…</span></header>
<section class="cards" id="sources"></section>
<section id="hosts"></section>
<h2 style="font-size:16px">Events</h2>
<ul id="events"><li id="no-events">none yet</li></ul>
<script src="/dashboard.js"></script>
</body>
</html>
`

/** @internal */
export const DASHBOARD_JS = `'use strict'
const history = {}          // source name -> recent rates
let keep = 300
const $ = (id) => document.getElementById(id)
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v
    else e.setAttribute(k, v)
  }
  for (const c of children) e.append(c)
  return e
}
const fmt = (n) => (n === undefined || n === null ? '–' : n >= 100 ? Math.round(n).toLocaleString('en') : (Math.round(n * 10) / 10).toLocaleString('en'))
const bytes = (n) => (n / 2 ** 30).toFixed(1) + ' GiB'

function num(label, value, bad) {
  const d = el('div', bad && value > 0 ? { class: 'bad' } : {})
  d.append(el('b', { text: fmt(value) }), label)
  return d
}

function chart(rates) {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', '0 0 300 60')
  svg.setAttribute('preserveAspectRatio', 'none')
  const max = Math.max(1, ...rates)
  const pts = rates.map((r, i) => (rates.length < 2 ? 0 : (i / (rates.length - 1)) * 300).toFixed(1) + ',' + (58 - (r / max) * 54).toFixed(1))
  const line = document.createElementNS(ns, 'polyline')
  line.setAttribute('points', pts.join(' '))
  line.setAttribute('fill', 'none')
  line.setAttribute('stroke', '#2f6fde')
  line.setAttribute('stroke-width', '2')
  const title = document.createElementNS(ns, 'title')
  title.textContent = 'throughput, peak ' + fmt(max) + '/s'
  svg.append(title, line)
  return svg
}

function renderSources(sources) {
  const box = $('sources')
  box.replaceChildren()
  for (const [name, s] of Object.entries(sources)) {
    const rates = history[name] || []
    const card = el('article', { class: 'card', 'data-source': name })
    const h = el('h2', { text: name })
    h.append(el('span', { class: 'kind', text: s.kind }))
    const nums = el('div', { class: 'nums' })
    nums.append(
      num('running', s.running), num('queued', s.queued),
      num(s.kind === 'pool' ? 'workers' : s.kind === 'kernel' ? 'capacity' : 'slots', s.capacity), num('free', s.free),
      num('done', s.done), num('failed', s.failed, true), num('crashed', s.crashed, true), num('cancelled', s.cancelled),
    )
    const rate = fmt(rates.length ? rates[rates.length - 1] : 0) + ' ended/s, peak ' + fmt(Math.max(0, ...rates)) + '/s'
    card.append(h, nums, el('div', { class: 'rate', text: rate }), chart(rates))
    box.append(card)
  }
}

function renderHosts(snapshot) {
  const box = $('hosts')
  box.replaceChildren()
  for (const [name, s] of Object.entries(snapshot.sources)) {
    if (!s.hosts) continue
    const table = el('table', { 'data-hosts': name })
    const head = el('tr')
    for (const t of ['node (' + name + ')', 'state', 'slots', 'free', 'running', 'done', 'failed', 'CPU %', 'load', 'memory free', 'tags']) head.append(el('th', { text: t }))
    table.append(head)
    for (const host of s.hosts) {
      const row = el('tr')
      row.append(
        el('td', { text: host.name }),
        el('td', host.responsive ? { text: 'up' } : { class: 'down', text: 'down' }),
        el('td', { text: String(host.slots) }), el('td', { text: String(host.freeSlots) }), el('td', { text: String(host.running) }),
        el('td', { text: fmt(host.completed) }), el('td', host.failed > 0 ? { class: 'down', text: fmt(host.failed) } : { text: '0' }),
        el('td', { text: fmt(host.cpu) }), el('td', { text: (host.load[0] ?? 0).toFixed(2) }),
        el('td', { text: bytes(host.memory.free) + ' / ' + bytes(host.memory.total) }),
        el('td', { text: host.tags.join(', ') }),
      )
      table.append(row)
    }
    box.append(table)
  }
}

function addEvent(e) {
  const list = $('events')
  $('no-events')?.remove()
  const li = el('li', { 'data-type': e.type })
  li.append(el('time', { text: new Date(e.time).toLocaleTimeString() }), e.source + ': ' + e.text)
  list.prepend(li)
  while (list.children.length > 50) list.lastChild.remove()
}

function onSample(sample) {
  for (const [name, s] of Object.entries(sample.sources)) {
    const h = (history[name] ||= [])
    h.push(s.rate)
    if (h.length > keep) h.shift()
  }
  renderSources(sample.sources)
}

async function get(path) {
  const r = await fetch(path)
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status)
  return r.json()
}

async function refreshSnapshot() {
  const snapshot = await get('/api/snapshot')
  renderHosts(snapshot)
  return snapshot
}

async function start() {
  const [snapshot, past, recent] = await Promise.all([refreshSnapshot(), get('/api/history'), get('/api/events')])
  keep = past.samples.length > keep ? past.samples.length : keep
  for (const sample of past.samples) for (const [name, s] of Object.entries(sample.sources)) (history[name] ||= []).push(s.rate)
  const now = {}
  for (const [name, s] of Object.entries(snapshot.sources)) now[name] = s.summary
  renderSources(now)
  for (const e of recent.events) addEvent(e)
  const stream = new EventSource('/api/stream')
  stream.addEventListener('open', () => { $('status').textContent = 'live'; $('status').className = '' })
  stream.addEventListener('error', () => { $('status').textContent = 'disconnected, retrying…'; $('status').className = 'down' })
  stream.addEventListener('sample', (m) => {
    onSample(JSON.parse(m.data))
    refreshSnapshot().catch(() => {})
  })
  stream.addEventListener('event', (m) => addEvent(JSON.parse(m.data)))
}

start().catch((error) => { $('status').textContent = String(error); $('status').className = 'down' })
`
