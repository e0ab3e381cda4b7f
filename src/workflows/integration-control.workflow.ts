// Moved to src/control/integration-control.workflow.ts: this re-export goes once nothing imports the old path.
export * from '../control/integration-control.workflow';
