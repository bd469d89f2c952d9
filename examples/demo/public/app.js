// The demo page: plain ES module, no build step. Socket.IO's browser client comes from the
// plugin's own path, where Socket.IO serves it.
import { io } from '/ws/socket.io.esm.min.js'

const SOCKET_PATH = '/ws'
const AGENT_EVENTS = ['agent:thought', 'agent:tool_call', 'agent:result', 'agent:error', 'agent:delta']
/** Renew the token this long before it expires. */
const TOKEN_MARGIN_MS = 60_000
/** A run is short; this only bounds what one tab keeps in sessionStorage. */
const MAX_STORED_EVENTS = 1000
const STATUS_LABELS = { pending: 'pending', in_progress: 'in progress', completed: 'completed', failed: 'failed' }

const $ = (id) => document.getElementById(id)
const elements = {
  connection: $('connection'),
  user: $('user'),
  runSuccess: $('run-success'),
  runFailure: $('run-failure'),
  runState: $('run-state'),
  runNote: $('run-note'),
  workflow: $('workflow'),
  timeline: $('timeline'),
  empty: $('empty'),
  summary: $('summary'),
  summaryText: $('summary-text'),
  notice: $('notice'),
}

// ---- state kept across reloads (sessionStorage is per tab, so two tabs follow two runs) ----

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
  lastSeq: storage.read('lastSeq', 0),
  epoch: storage.read('epoch', undefined),
  /** What the page shows, in row order; a message being written is kept as one merged delta. */
  events: storage.read('events', []),
  /** Duplicates, reorderings or gaps seen on the wire: the plugin promises there are none. */
  anomalies: storage.read('anomalies', 0),
  /** Events that arrive between `agent:subscribe` and its ack are the replay. */
  subscribing: false,
  replay: [],
  /** Only the latest `agent:subscribe` counts; an older one answering late is ignored. */
  attempt: 0,
  resumedAfter: undefined,
  replayed: 0,
  compacted: 0,
  /** The server no longer has the run: the page stops showing it as running. */
  lost: false,
  /** What the page must keep saying about the run (not a passing notice). */
  runNote: undefined,
}

function persist() {
  storage.write('username', state.username)
  storage.write('token', state.token)
  storage.write('tokenExpiresAt', state.tokenExpiresAt)
  storage.write('workflowId', state.workflowId)
  storage.write('lastSeq', state.lastSeq)
  storage.write('epoch', state.epoch)
  storage.write('events', state.events.slice(-MAX_STORED_EVENTS))
  storage.write('anomalies', state.anomalies)
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

// ---- the socket ----

const socket = io({
  path: SOCKET_PATH,
  autoConnect: false,
  // Called on every (re)connection, so a reconnect after expiry brings a fresh token.
  auth: (callback) => {
    ensureToken().then((token) => callback({ token }), (error) => {
      notice(error.message)
      callback({})
    })
  },
})

socket.on('connect', () => {
  setConnection('connected')
  if (state.workflowId && !state.lost) void subscribe()
})

socket.on('disconnect', (reason) => {
  state.subscribing = false
  setConnection(socket.active ? 'reconnecting' : 'offline')
  // The server let us go (shutdown, expired token): Socket.IO leaves reconnecting to us.
  if (reason === 'io server disconnect') retryConnect(1000)
})

socket.on('connect_error', (error) => {
  const code = error.data?.code
  if (code === 'AUTH_EXPIRED' || code === 'AUTH_INVALID' || code === 'AUTH_INVALID_PAYLOAD') forgetToken()
  notice(code ? `connection refused: ${code}` : `cannot reach the server (${error.message})`)
  setConnection('reconnecting')
  // A refusal by the server's middleware is not retried by Socket.IO itself.
  if (!socket.active) retryConnect(error.data?.retryAfterMs ?? 2000)
})

socket.io.on('reconnect_attempt', (attempt) => setConnection('reconnecting', `reconnecting (${attempt})`))
socket.on('auth:expired', () => {
  forgetToken()
  notice('token expired: signing in again')
})
socket.on('server:shutdown', () => notice('the server is restarting; reconnecting…'))
for (const name of AGENT_EVENTS) socket.on(name, onAgentEvent)

let retryTimer
function retryConnect(delayMs) {
  clearTimeout(retryTimer)
  retryTimer = setTimeout(() => { if (!socket.connected) socket.connect() }, delayMs)
}

async function subscribe() {
  const workflowId = state.workflowId
  const attempt = ++state.attempt
  const current = () => attempt === state.attempt && state.workflowId === workflowId
  // compact: the deltas of a message that has ended are left out, those of a message still being
  // written come as one delta with its text so far.
  const request = { workflowId, afterSeq: state.lastSeq, compact: true }
  if (state.epoch) request.epoch = state.epoch
  state.subscribing = true
  state.replay = []
  setConnection('replaying')
  let ack
  try {
    ack = await socket.timeout(10_000).emitWithAck('agent:subscribe', request)
  } catch {
    if (socket.connected && current()) {
      notice('no answer to agent:subscribe; retrying')
      setTimeout(() => { if (socket.connected && current()) void subscribe() }, 1000)
    }
    return
  }
  if (!current()) return
  state.subscribing = false
  const replay = state.replay
  state.replay = []
  // Every ack says whether the server still has the run. A run it does not have is over for this
  // page, whatever its last event was: it stops being shown as running, and the page says why.
  if (!ack.ok) {
    setConnection('connected')
    // The demo server keeps runs (and who started them) in memory: after a restart it answers FORBIDDEN.
    if (ack.error.code === 'FORBIDDEN') return runLost('the server no longer has this run (it restarted, or the run is not yours): start a new run')
    notice(`cannot follow this run: ${ack.error.code}`)
    if (ack.error.code === 'RATE_LIMITED') setTimeout(() => { if (current()) void subscribe() }, ack.error.retryAfterMs ?? 1000)
    return
  }
  if (ack.truncated && ack.lastSeq === 0 && state.events.length > 0) {
    // A new epoch with nothing recorded: the server's buffer restarted empty and the run is gone.
    state.epoch = ack.epoch
    socket.emit('agent:unsubscribe', { workflowId }, () => {})
    setConnection('connected')
    return runLost('the server no longer has this run (its replay buffer restarted empty): start a new run')
  }
  if (ack.truncated) {
    // What we have may not line up with the server any more (events left the buffer, or the
    // buffer restarted with a new epoch): start over from what the replay brought.
    resetTimeline()
    state.runNote = ack.epoch !== state.epoch && state.epoch !== undefined
      ? 'the server\'s replay buffer restarted (a new epoch): the timeline was rebuilt from the replay buffer'
      : 'some events had left the server\'s buffer: the timeline was rebuilt from the replay buffer'
    notice('the timeline was rebuilt from the replay buffer')
  }
  state.epoch = ack.epoch
  for (const event of replay) apply(event, true)
  state.resumedAfter = request.afterSeq
  state.replayed = ack.replayed
  state.compacted = ack.compacted ?? 0
  persist()
  setConnection('live')
  showSummary()
}

function runLost(reason) {
  state.lost = true
  state.runNote = reason
  persist()
  showRunState()
}

function onAgentEvent(event) {
  if (event.workflowId !== state.workflowId) return
  if (state.subscribing) state.replay.push(event)
  else apply(event, false)
}

// ---- the timeline ----

function apply(event, replayed) {
  if (event.seq <= state.lastSeq) {
    state.anomalies += 1
    showSummary()
    return
  }
  // Live events follow each other; a compacted replay skips the seqs of the deltas it merged or
  // left out, so `lastSeq` is the highest seq seen, not a count.
  if (!replayed && state.lastSeq > 0 && event.seq !== state.lastSeq + 1) state.anomalies += 1
  state.lastSeq = event.seq
  keep(event)
  persist()
  render(event, replayed)
  showSummary()
}

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

function resetTimeline() {
  state.lastSeq = 0
  state.events = []
  elements.timeline.replaceChildren()
  showRunState()
  showSummary()
}

/** The row of a message written in deltas, if the page has one. */
function messageRow(messageId) {
  return messageId === undefined ? null : elements.timeline.querySelector(`li[data-message="${CSS.escape(messageId)}"]`)
}

function render(event, replayed) {
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
  row.classList.toggle('replayed', replayed)
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
    element('div', 'meta', element('span', 'seq'), element('span', 'kind', label), element('span', 'time'), element('span', 'badge', 'replayed')),
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

function setConnection(value, label = value) {
  document.body.dataset.connection = value
  elements.connection.dataset.state = value
  elements.connection.textContent = label
}

function showUser() {
  const until = state.tokenExpiresAt ? ` · token until ${new Date(state.tokenExpiresAt).toLocaleTimeString()}` : ''
  elements.user.replaceChildren(state.username, element('span', 'until', until))
}

function showRunState() {
  const last = state.events.at(-1)
  const ended = last?.type === 'result' ? 'succeeded' : last?.type === 'error' ? 'failed' : undefined
  const run = !state.workflowId ? 'idle' : ended ?? (state.lost ? 'interrupted' : 'running')
  document.body.dataset.run = run
  elements.runState.textContent = {
    idle: 'no run yet',
    running: 'running…',
    succeeded: 'finished with a result',
    failed: 'ended with an error',
    interrupted: 'interrupted',
  }[run]
  elements.runState.dataset.run = run
  elements.runNote.textContent = state.runNote ?? ''
  elements.runNote.hidden = state.runNote === undefined
  elements.workflow.textContent = state.workflowId ?? ''
  elements.empty.hidden = state.events.length > 0 || run !== 'idle'
}

function showSummary() {
  const { summary } = elements
  summary.dataset.lastSeq = String(state.lastSeq)
  summary.dataset.events = String(state.events.length)
  summary.dataset.anomalies = String(state.anomalies)
  if (state.resumedAfter !== undefined) {
    summary.dataset.resumedAfter = String(state.resumedAfter)
    summary.dataset.replayed = String(state.replayed)
    summary.dataset.compacted = String(state.compacted)
  }
  const parts = [`lastSeq ${state.lastSeq}`, `${state.events.length} events`]
  if (state.epoch) parts.push(`epoch ${state.epoch}`)
  if (state.resumedAfter) parts.push(`resumed after #${state.resumedAfter}, ${state.replayed} replayed (${state.compacted} compacted)`)
  parts.push(state.anomalies === 0 ? 'no duplicates or gaps' : `${state.anomalies} duplicates or gaps`)
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
    if (state.workflowId && socket.connected) socket.emit('agent:unsubscribe', { workflowId: state.workflowId }, () => {})
    state.workflowId = workflowId
    state.epoch = undefined
    state.anomalies = 0
    state.lost = false
    state.runNote = undefined
    state.resumedAfter = undefined
    delete elements.summary.dataset.resumedAfter
    delete elements.summary.dataset.replayed
    delete elements.summary.dataset.compacted
    resetTimeline()
    persist()
    if (socket.connected) await subscribe()
    else socket.connect()
  } catch (error) {
    notice(error.message)
  } finally {
    elements.runSuccess.disabled = elements.runFailure.disabled = false
  }
}

elements.runSuccess.addEventListener('click', () => void startRun('success'))
elements.runFailure.addEventListener('click', () => void startRun('failure'))

// ---- start: what this tab had before a reload, then the socket ----

for (const event of state.events) render(event, false)
showUser()
showRunState()
showSummary()
setConnection('connecting')
socket.connect()

fetch('/asyncapi.json', { method: 'HEAD' }).then((response) => {
  if (response.ok) document.querySelector('.links').append(' · ', Object.assign(document.createElement('a'), { href: '/asyncapi.json', textContent: 'Socket.IO protocol (AsyncAPI)' }))
}, () => {})
