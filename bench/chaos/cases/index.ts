import type { ChaosCase } from '../types';
import { bulkLane } from './bulk-lane';
import { cancellation } from './cancellation';
import { fastPath } from './fast-path';
import { hungWrites } from './hung-writes';
import { poisonAnswers } from './poison-answers';
import { repeatStarts } from './repeat-starts';
import { serverKill } from './server-kill';
import { undoFailing } from './undo-failing';
import { unknownOutcome } from './unknown-outcome';
import { workerSigkill } from './worker-sigkill';

/** The matrix, in the order it runs. A new case: a module exporting a ChaosCase, added here. */
export const cases: readonly ChaosCase[] = [
  workerSigkill,
  serverKill,
  unknownOutcome,
  cancellation,
  undoFailing,
  repeatStarts,
  poisonAnswers,
  hungWrites,
  fastPath,
  bulkLane,
];
