import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';

/**
 * A Temporal `Duration` (`'30 seconds'`, `'2 hours'`, or a number of ms) in ms, parsed exactly as the SDK
 * parses it. Workflow-safe. The SDK exports no public parser, so this is the one module that reaches in.
 */
export function durationMs(duration: Duration): number {
  return msToNumber(duration);
}
