// The project's workflows (src/workflows) plus the benchmarks' waiting workflow: the same bundle the
// worker loads, so every cached workflow pays for the modules the project's workflow code imports.
export * from '../../src/workflows';
export { benchWait } from './waiting.workflows';
