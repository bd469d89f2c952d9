import { describe, expect, test } from 'tstyche'
import { createAgentEventsClient, type AgentEventsClientError, type ResetInfo, type RunStatus, type StreamedMessage } from 'fastify-agent-events/client'
import { useWorkflow, type WorkflowView } from 'fastify-agent-events/react'
import type { AgentEvent } from 'fastify-agent-events/schemas'

// Types only: nothing here runs.
const client = createAgentEventsClient('https://api.example.com', { path: '/ws' })

describe('useWorkflow', () => {
  test('returns the view of a run, typed from the client and the schemas', () => {
    const view = useWorkflow(client, 'wf-1')
    expect(view).type.toBe<WorkflowView>()
    expect(view.events).type.toBe<readonly AgentEvent[]>()
    expect(view.messages).type.toBe<ReadonlyMap<string, StreamedMessage>>()
    expect(view.status).type.toBe<RunStatus>()
    expect(view.lastSeq).type.toBe<number>()
    expect(view.error).type.toBe<AgentEventsClientError | undefined>()
    expect(view.reset).type.toBe<ResetInfo | undefined>()
  })

  test('the view cannot be changed', () => {
    const view = useWorkflow(client, 'wf-1')
    // @ts-expect-error Cannot assign to 'lastSeq' because it is a read-only property
    view.lastSeq = 1
    expect(view.events).type.not.toHaveProperty('push')
  })

  test('takes a workflow id, or none', () => {
    expect(useWorkflow).type.toBeCallableWith(client, 'wf-1')
    expect(useWorkflow).type.toBeCallableWith(client, undefined)
    expect(useWorkflow).type.toBeCallableWith(client, null)
    expect(useWorkflow).type.not.toBeCallableWith('https://api.example.com', 'wf-1')
    expect(useWorkflow).type.not.toBeCallableWith(client, 42)
  })
})
