// Moved to src/contracts/task-queues.ts: this re-export goes once nothing imports the old path.
export * from '../contracts/task-queues';
