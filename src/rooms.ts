// Prefixed room names: a workflow id can never name a socket's own room (its socket id) or a user's.
export const workflowRoom = (workflowId: string): string => `workflow:${workflowId}`
export const userRoom = (userId: string): string => `user:${userId}`
