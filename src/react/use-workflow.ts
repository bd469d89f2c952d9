import { useMemo, useSyncExternalStore } from 'react'
import type { AgentEventsClient } from '../client/index.ts'
import { NO_WORKFLOW_VIEW, WorkflowStore, type WorkflowView } from './workflow-store.ts'

const noSubscription = (): (() => void) => () => {}
const noWorkflow = (): WorkflowView => NO_WORKFLOW_VIEW

/**
 * Follow `workflowId` through `client` while the component is mounted: `{ events, messages,
 * status, lastSeq }` (and `error`, `reset`), re-rendered when any of them changes. The run is
 * closed (its subscription ended on the server) on unmount and when `workflowId` changes; with
 * `workflowId` `undefined` or `null` nothing is followed.
 *
 * @example
 * const { messages, status } = useWorkflow(client, workflowId)
 */
export function useWorkflow(client: AgentEventsClient, workflowId: string | null | undefined): WorkflowView {
  const store = useMemo(
    () => (workflowId === undefined || workflowId === null ? undefined : new WorkflowStore(client, workflowId)),
    [client, workflowId],
  )
  // Server rendering follows nothing: the first render on the server and in the browser is the
  // store's view before its first subscribe.
  return useSyncExternalStore(store?.subscribe ?? noSubscription, store?.getSnapshot ?? noWorkflow, store?.getSnapshot ?? noWorkflow)
}
