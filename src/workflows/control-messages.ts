// Moved to src/control/messages.ts: this re-export goes once nothing imports the old path.
export * from '../control/messages';
