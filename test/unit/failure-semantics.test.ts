import {
  FailureType,
  TemporalTimeout,
  alwaysNonRetryable,
  failureSemantics,
  semanticsOf,
  temporalTimeout,
} from '../../src/integrations/kit/failures';
import { activityOptions, background, userFlow } from '../../src/integrations/kit/profiles';

describe('the failure-semantics table', () => {
  const rows = Object.entries(failureSemantics);

  it('has a row for every failure type and every Temporal timeout kind', () => {
    expect(Object.keys(failureSemantics).sort()).toEqual(
      [...Object.values(FailureType), ...Object.values(TemporalTimeout)].sort(),
    );
  });

  it.each(rows)('%s: the derived non-retryable list agrees with its row', (type, meaning) => {
    if (type.startsWith('Timeout:')) return expect(alwaysNonRetryable).not.toContain(type);
    expect(alwaysNonRetryable.includes(type as FailureType)).toBe(!meaning.retryable);
  });

  it.each(rows)(
    '%s: every retry policy refuses it exactly when the table says it cannot be retried',
    (type, meaning) => {
      for (const profile of [userFlow, background]) {
        const options = activityOptions(profile, { taskQueue: 'q', retryUnknownOutcome: true });
        const refused = options.retry?.nonRetryableErrorTypes?.includes(type) ?? false;
        expect(refused).toBe(!type.startsWith('Timeout:') && !meaning.retryable);
      }
    },
  );

  it('says a write that Temporal stopped waiting for may have been applied, whatever the timeout kind', () => {
    for (const kind of ['START_TO_CLOSE', 'SCHEDULE_TO_CLOSE', 'HEARTBEAT', 'SCHEDULE_TO_START']) {
      expect(semanticsOf(temporalTimeout(kind)).ambiguousOnWrite).toBe(true);
      // The proto's spelling (older SDKs) means the same.
      expect(semanticsOf(temporalTimeout(`TIMEOUT_TYPE_${kind}`))).toEqual(semanticsOf(temporalTimeout(kind)));
    }
  });

  it('never lets a refusal before sending count for or against the provider', () => {
    for (const type of [FailureType.CircuitOpen, FailureType.KillSwitch, FailureType.Misconfigured]) {
      expect(failureSemantics[type].breaker).toBe('neutral');
    }
  });

  it('treats a 2xx it could not read on a write as possibly applied', () => {
    expect(failureSemantics[FailureType.InvalidResponse].ambiguousOnWrite).toBe(true);
    expect(failureSemantics[FailureType.ResponseTooLarge].ambiguousOnWrite).toBe(true);
    expect(failureSemantics[FailureType.RequestRejected].ambiguousOnWrite).toBe(false);
  });

  it('assumes the worst of a type it does not know: ambiguous on a write, nothing about the provider', () => {
    expect(semanticsOf('Error')).toMatchObject({ ambiguousOnWrite: true, breaker: 'neutral', fallback: false });
    expect(semanticsOf(undefined)).toEqual(semanticsOf('SomethingNew'));
  });

  it('lets a fallback answer only when the provider is unavailable, never for our own mistakes', () => {
    const fallbacks = rows.filter(([, s]) => s.fallback).map(([type]) => type);
    expect(fallbacks.sort()).toEqual(
      [
        FailureType.NetworkError,
        FailureType.Timeout,
        FailureType.ServerError,
        FailureType.RateLimited,
        FailureType.CircuitOpen,
        FailureType.KillSwitch,
      ].sort(),
    );
  });
});
