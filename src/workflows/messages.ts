// Moved to src/contracts/messages.ts: this re-export goes once nothing imports the old path.
export * from '../contracts/messages';
