// The demo page: plain ES modules, no build step. `fastify-agent-events/client` does the
// protocol (resubscribing after any reconnect with the last seq and epoch, dropping duplicates,
// resuming after a reload from sessionStorage, refreshing the token); this page only renders what
// it hands out. The import map in index.html resolves `fastify-agent-events/client` to the
// client's modules that the demo server serves, and `socket.io-client` to the browser build that
// Socket.IO serves on the plugin's path.
import { createAgentEventsClient } from 'fastify-agent-events/client'

const SOCKET_PATH = '/ws'
/** Renew the token this long before it expires (the client asks for one 30 s before). */
const TOKEN_MARGIN_MS = 60_000
/** A run is short; this only bounds what one tab keeps in sessionStorage. */
const MAX_STORED_EVENTS = 1000
const STATUS_LABELS = { pending: 'pending', in_progress: 'in progress', completed: 'completed', failed: 'failed' }
const RESET_NOTES = {
  truncated: 'Some of this run\'s events had already left the server\'s replay buffer while this page was away: the timeline was cleared and rebuilt from what the server still holds.',
  epoch: 'The server\'s replay buffer started over (a new epoch): the run\'s earlier events are gone. The timeline was cleared and shows what the server has now.',
}

const $ = (id) => document.getElementById(id)
const elements = {
  connection: $('connection'),
  user: $('user'),
  runSuccess: $('run-success'),
  runFailure: $('run-failure'),
  runState: $('run-state'),
  runNote: $('run-note'),
  reset: $('reset'),
  resetText: $('reset-text'),
  workflow: $('workflow'),
  timeline: $('timeline'),
  empty: $('empty'),
  summary: $('summary'),
  summaryText: $('summary-text'),
  notice: $('notice'),
}

// ---- what the page keeps across reloads (sessionStorage is per tab, so two tabs follow two runs).
// The client keeps its own position (lastSeq, epoch) per workflow in the same storage, written in
// the same tick as the page's rows: after a reload both agree.

const storage = {
  read(key, fallback) {
    try {
      const raw = sessionStorage.getItem(`agent-demo:${key}`)
      return raw === null ? fallback : JSON.parse(raw)
    } catch {
      return fallback
    }
  },
  write(key, value) {
    if (value === undefined) sessionStorage.removeItem(`agent-demo:${key}`)
    else sessionStorage.setItem(`agent-demo:${key}`, JSON.stringify(value))
  },
}

const state = {
  username: storage.read('username', `guest-${Math.random().toString(36).slice(2, 6)}`),
  token: storage.read('token', undefined),
  tokenExpiresAt: storage.read('tokenExpiresAt', 0),
  workflowId: storage.read('workflowId', undefined),
  /** What the page shows, in row order; a message being written is kept as one merged delta. */
  events: storage.read('events', []),
  /** Events handed out with a seq not above the last one: the client promises there are none. */
  anomalies: storage.read('anomalies', 0),
  /** The server no longer has the run (it refused the subscription): the page stops following it. */
  lost: storage.read('lost', false),
  /** What the page must keep saying about the run (not a passing notice). */
  runNote: storage.read('runNote', undefined),
  /** The last reset the client reported for this run ('truncated' or 'epoch'). */
  reset: storage.read('reset', undefined),
  /** Where this page load resumed (the client's stored lastSeq), and what it got since. */
  resumedAfter: undefined,
  received: 0,
}

function persist() {
  storage.write('username', state.username)
  storage.write('token', state.token)
  storage.write('tokenExpiresAt', state.tokenExpiresAt)
  storage.write('workflowId', state.workflowId)
  storage.write('events', state.events.slice(-MAX_STORED_EVENTS))
  storage.write('anomalies', state.anomalies)
  storage.write('lost', state.lost)
  storage.write('runNote', state.runNote)
  storage.write('reset', state.reset)
}

// ---- login: the demo issues short-lived tokens to any name ----

let pendingLogin
async function ensureToken() {
  if (state.token && state.tokenExpiresAt - Date.now() > TOKEN_MARGIN_MS) return state.token
  pendingLogin ??= (async () => {
    const response = await fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: state.username }),
    })
    if (!response.ok) throw new Error(`login failed (${response.status})`)
    const { token, expiresAt } = await response.json()
    state.token = token
    state.tokenExpiresAt = Date.parse(expiresAt)
    persist()
    showUser()
    return token
  })().finally(() => { pendingLogin = undefined })
  return pendingLogin
}

function forgetToken() {
  state.token = undefined
  state.tokenExpiresAt = 0
  persist()
}

// ---- the client ----

const client = createAgentEventsClient(location.origin, {
  path: SOCKET_PATH,
  // Asked at every connect, reconnect and refresh: a token close to its end is replaced first.
  token: () => ensureToken().catch((error) => {
    notice(error.message)
    throw error
  }),
})
client.on('status', () => showConnection())
client.on('error', (error) => {
  // A refused handshake or refresh: the client tries again, and asks for a token again.
  if (error.code === 'AUTH_EXPIRED' || error.code === 'AUTH_INVALID' || error.code === 'AUTH_INVALID_PAYLOAD') forgetToken()
  notice(`connection refused: ${error.code}`)
})

/** The run the page follows, if any. */
let run

function follow(workflowId) {
  run?.close()
  run = client.follow(workflowId, { onEvent, onReset, onError, onStatus })
  // The client resumes from what it stored for this workflow: after a reload, the last seq shown.
  state.resumedAfter = run.lastSeq
  state.received = 0
  showConnection()
  showSummary()
}

function onEvent(event) {
  const last = state.events.reduce((highest, kept) => Math.max(highest, kept.seq ?? 0), 0)
  if (event.seq !== undefined && event.seq <= last) state.anomalies += 1
  state.received += 1
  keep(event)
  persist()
  render(event)
  showConnection()
  showSummary()
}

/** The server no longer has the history after what the page shows: start over from what it has. */
function onReset({ reason }) {
  state.reset = reason
  state.runNote = undefined
  state.events = []
  elements.timeline.replaceChildren()
  persist()
  notice('the timeline was rebuilt from the server\'s replay buffer')
  showRunState()
  showSummary()
}

/** The subscription was refused for good: the client does not try again, nor does the page. */
function onError(error) {
  state.lost = true
  // The demo server keeps runs (and who started them) in memory: after a restart it answers FORBIDDEN.
  state.runNote = error.code === 'FORBIDDEN'
    ? 'the server no longer has this run (it restarted, or the run is not yours): start a new run'
    : `this run cannot be followed (${error.code}): start a new run`
  persist()
  showConnection()
  showRunState()
}

/** The run turned live (also with nothing to hand out), lost its connection, or ended. */
function onStatus() {
  showConnection()
  showSummary()
}

// ---- the timeline ----

/**
 * Keep `event` in `state.events`: the deltas of one message as a single delta with all their text,
 * replaced in place by the message's final thought or result (what a compacted replay does too).
 */
function keep(event) {
  const messageId = event.data.messageId
  const index = messageId === undefined ? -1 : state.events.findIndex((kept) => kept.type === 'delta' && kept.data.messageId === messageId)
  if (index === -1) state.events.push(event)
  else if (event.type === 'delta') state.events[index] = { ...event, data: { ...event.data, text: state.events[index].data.text + event.data.text } }
  // An error ends the message but keeps its text: both stay.
  else if (event.type === 'error') state.events.push(event)
  else state.events[index] = event
}

/** The row of a message written in deltas, if the page has one. */
function messageRow(messageId) {
  return messageId === undefined ? null : elements.timeline.querySelector(`li[data-message="${CSS.escape(messageId)}"]`)
}

function render(event) {
  let row
  const streamed = messageRow(event.data.messageId)
  if (event.type === 'delta') {
    // One row per message: created by its first delta, its text growing with each next one.
    row = streamed
    if (!row) {
      row = newRow(event.data.kind, event.data.kind === 'result' ? 'Result' : 'Thought', undefined)
      row.dataset.message = event.data.messageId
      row.dataset.streaming = 'true'
      row.querySelector('.body').append(
        ...(event.data.kind === 'result' ? [element('div', 'outcome', 'writing…')] : []),
        element('p', 'text'),
      )
    }
    row.querySelector('.text').append(event.data.text)
    row.querySelector('.seq').textContent = `#${event.seq}…`
  } else if (event.type === 'error' && streamed) {
    // The message stopped before its end: its row keeps the text so far and says why.
    row = streamed
    delete row.dataset.streaming
    row.dataset.aborted = 'true'
    row.dataset.seqs = String(event.seq)
    row.querySelector('.seq').textContent = `#${event.seq}`
    row.querySelector('.outcome')?.remove()
    row.querySelector('.body').append(element('div', 'aborted', element('code', '', event.data.code), ` ${event.data.message}`))
  } else if (event.type === 'tool_call') {
    const key = event.data.tool_call_id ?? event.data.tool_name
    row = elements.timeline.querySelector(`li[data-call="${CSS.escape(key)}"]`)
    if (!row) {
      row = newRow(event.type, 'Tool call', undefined)
      row.dataset.call = key
      row.querySelector('.body').append(
        element('div', 'tool', element('code', 'tool-name', event.data.tool_name), element('span', 'chip')),
        element('div', 'message'),
        element('div', 'trail'),
      )
    }
    row.dataset.seqs = `${row.dataset.seqs} ${event.seq}`.trim()
    row.dataset.status = event.data.status
    row.querySelector('.seq').textContent = `#${row.dataset.seqs.split(' ').join(', ')}`
    const chip = row.querySelector('.chip')
    chip.textContent = STATUS_LABELS[event.data.status] ?? event.data.status
    chip.className = `chip status-${event.data.status}`
    row.querySelector('.message').textContent = event.data.message ?? ''
    row.querySelector('.trail').append(element('span', `step status-${event.data.status}`, STATUS_LABELS[event.data.status] ?? event.data.status))
  } else if (event.type === 'thought') {
    // The final event of a streamed message replaces what its deltas wrote, in the same row.
    row = finalRow(streamed, event, 'Thought')
    row.querySelector('.body').replaceChildren(element('p', 'text', event.data.content))
  } else if (event.type === 'result') {
    row = finalRow(streamed, event, 'Result')
    const content = typeof event.data.content === 'string' ? event.data.content : JSON.stringify(event.data.content ?? event.data, null, 2)
    row.querySelector('.body').replaceChildren(
      element('div', 'outcome', event.data.status ?? 'done'),
      element(typeof event.data.content === 'string' ? 'p' : 'pre', 'text', content),
    )
  } else {
    row = newRow(event.type, 'Error', event.seq)
    row.querySelector('.body').append(
      element('div', 'outcome', element('code', '', event.data.code)),
      element('p', 'text', event.data.message),
      ...(event.data.details === undefined ? [] : [element('pre', 'details', JSON.stringify(event.data.details))]),
    )
  }
  row.querySelector('.time').textContent = new Date(event.timestamp).toLocaleTimeString()
  showRunState()
}

/** The row of a thought or result: the row its deltas wrote, or a new one. */
function finalRow(streamed, event, label) {
  if (!streamed) {
    const row = newRow(event.type, label, event.seq)
    if (event.data.messageId !== undefined) row.dataset.message = event.data.messageId
    return row
  }
  delete streamed.dataset.streaming
  streamed.dataset.seqs = String(event.seq)
  streamed.querySelector('.seq').textContent = `#${event.seq}`
  return streamed
}

/** A new row at the end of the timeline; `seq` labels it, where one event makes it. */
function newRow(type, label, seq) {
  const row = element('li', `row ${type}`,
    element('div', 'meta', element('span', 'seq'), element('span', 'kind', label), element('span', 'time')),
    element('div', 'body'),
  )
  row.dataset.type = type
  row.dataset.seqs = seq === undefined ? '' : String(seq)
  if (seq !== undefined) row.querySelector('.seq').textContent = `#${seq}`
  elements.timeline.append(row)
  return row
}

function element(tag, className, ...children) {
  const node = document.createElement(tag)
  if (className) node.className = className
  node.append(...children)
  return node
}

// ---- status displays ----

/**
 * The header's pill: the connection, and once connected, whether the run's subscription is
 * answered (the client tells both: `client.on('status')` and the run's `onStatus`).
 */
function showConnection() {
  const status = client.status === 'online'
    ? (run?.status === 'subscribing' ? 'subscribing' : run?.status === 'live' ? 'live' : 'connected')
    : client.status
  const label = { online: 'connected', offline: 'reconnecting…' }[status] ?? status
  document.body.dataset.connection = status
  elements.connection.dataset.state = status
  elements.connection.textContent = label
}

function showUser() {
  const until = state.tokenExpiresAt ? ` · token until ${new Date(state.tokenExpiresAt).toLocaleTimeString()}` : ''
  elements.user.replaceChildren(state.username, element('span', 'until', until))
}

function showRunState() {
  const last = state.events.at(-1)
  const ended = last?.type === 'result' ? 'succeeded' : last?.type === 'error' ? 'failed' : undefined
  // A reset after which the server had nothing left: the run is gone, not running.
  const gone = state.lost || (state.reset !== undefined && state.events.length === 0)
  const runState = !state.workflowId ? 'idle' : ended ?? (gone ? 'interrupted' : 'running')
  document.body.dataset.run = runState
  elements.runState.textContent = {
    idle: 'no run yet',
    running: 'running…',
    succeeded: 'finished with a result',
    failed: 'ended with an error',
    interrupted: 'interrupted',
  }[runState]
  elements.runState.dataset.run = runState
  elements.runNote.textContent = state.runNote ?? ''
  elements.runNote.hidden = state.runNote === undefined
  // A reset stays said until a new run starts: a notice that fades would be missed.
  if (state.reset === undefined) delete document.body.dataset.reset
  else document.body.dataset.reset = state.reset
  elements.reset.hidden = state.reset === undefined
  elements.resetText.textContent = state.reset === undefined ? '' : RESET_NOTES[state.reset] ?? state.reset
  elements.workflow.textContent = state.workflowId ?? ''
  elements.empty.hidden = state.events.length > 0 || runState !== 'idle'
}

function showSummary() {
  const { summary } = elements
  const lastSeq = run?.lastSeq ?? 0
  summary.dataset.lastSeq = String(lastSeq)
  summary.dataset.events = String(state.events.length)
  summary.dataset.anomalies = String(state.anomalies)
  summary.dataset.received = String(state.received)
  if (state.resumedAfter === undefined) delete summary.dataset.resumedAfter
  else summary.dataset.resumedAfter = String(state.resumedAfter)
  const parts = [`lastSeq ${lastSeq}`, `${state.events.length} events`]
  if (run?.epoch) parts.push(`epoch ${run.epoch}`)
  if (state.resumedAfter) parts.push(`resumed after #${state.resumedAfter}, ${state.received} received since`)
  parts.push(state.anomalies === 0 ? 'no duplicates' : `${state.anomalies} duplicates`)
  elements.summaryText.textContent = parts.join(' · ')
}

let noticeTimer
function notice(text) {
  elements.notice.textContent = text
  clearTimeout(noticeTimer)
  noticeTimer = setTimeout(() => { elements.notice.textContent = '' }, 6000)
}

// ---- starting a run ----

async function startRun(scenario) {
  elements.runSuccess.disabled = elements.runFailure.disabled = true
  try {
    const token = await ensureToken()
    // `?stepMs=…&tokenMs=…` in the page's address ask the server for a faster or slower run.
    const query = new URLSearchParams(location.search)
    const pace = {}
    for (const name of ['stepMs', 'tokenMs']) {
      const value = Number(query.get(name))
      if (value) pace[name] = value
    }
    const response = await fetch('/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ scenario, ...pace }),
    })
    if (response.status === 401) forgetToken()
    if (!response.ok) throw new Error(`could not start a run (${response.status})`)
    const { workflowId } = await response.json()
    state.workflowId = workflowId
    state.events = []
    state.anomalies = 0
    state.lost = false
    state.runNote = undefined
    state.reset = undefined
    elements.timeline.replaceChildren()
    persist()
    showRunState()
    follow(workflowId)
  } catch (error) {
    notice(error.message)
  } finally {
    elements.runSuccess.disabled = elements.runFailure.disabled = false
  }
}

elements.runSuccess.addEventListener('click', () => void startRun('success'))
elements.runFailure.addEventListener('click', () => void startRun('failure'))

// ---- start: what this tab had before a reload, then the run it was following ----

for (const event of state.events) render(event)
showUser()
showRunState()
if (state.workflowId && !state.lost) follow(state.workflowId)
showConnection()
showSummary()

fetch('/asyncapi.json', { method: 'HEAD' }).then((response) => {
  if (response.ok) document.querySelector('.links').append(' · ', Object.assign(document.createElement('a'), { href: '/asyncapi.json', textContent: 'Socket.IO protocol (AsyncAPI)' }))
}, () => {})
