// fastify-agent-events/react: the client's runs as React state. Imports `react` and the client's
// types only; give it the client that your app created with `createAgentEventsClient`.
export { useWorkflow } from './use-workflow.ts'
export type { WorkflowView } from './workflow-store.ts'
