'use strict';
/**
 * dist/workers/main.bundle.js (copied there by `npm run build:worker-bundle`): runs the one-file worker,
 * main.bundle.code.js, as Node would run it as a CommonJS module, but compiled with the V8 code cache the
 * build wrote beside it (main.bundle.code.cache). Node 20 has no compile cache of its own (22's
 * `module.enableCompileCache`); compiling the 5 MB file costs ~0.1 s at every start, ~0.035 s from the cache.
 * A cache V8 rejects (another Node or V8 version, other flags) only costs that compile: V8 then compiles the
 * source itself, and the worker says so once.
 */
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const file = join(__dirname, 'main.bundle.code.js');
let cachedData;
try {
  cachedData = readFileSync(join(__dirname, 'main.bundle.code.cache'));
} catch {
  // no cache: compiled from source
}
const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
if (cachedData && script.cachedDataRejected) {
  process.emitWarning(
    "the worker bundle's code cache was rejected (built by another Node?): compiled from source; rebuild with npm run build:worker-bundle",
  );
}
const bundle = new Module(file, module);
bundle.filename = file;
bundle.paths = Module._nodeModulePaths(dirname(file));
bundle.loaded = true;
script.runInThisContext().call(bundle.exports, bundle.exports, Module.createRequire(file), bundle, file, dirname(file));
