// Moved to src/contracts/search-attributes.ts: this re-export goes once nothing imports the old path.
export * from '../contracts/search-attributes';
