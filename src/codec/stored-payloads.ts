import { defaultPayloadConverter, type DataConverter, type Payload } from '@temporalio/common';

/**
 * A value kept outside Temporal before it reaches a workflow (an order's record, an outbox row), kept as
 * Temporal keeps it: with the project's payload codecs applied, so a store never holds in clear what the
 * histories hold encrypted (`PAYLOAD_ENCRYPTION_KEYS`). Without codecs the value is stored as it is (JSON),
 * readable in the store as before. JSON-safe either way.
 */
export type StoredValue = unknown;

interface EncodedPayload {
  $payload: { metadata: Record<string, string>; data: string };
}

const isEncoded = (value: unknown): value is EncodedPayload =>
  typeof value === 'object' && value !== null && '$payload' in value;

export async function toStored(dataConverter: DataConverter | undefined, value: unknown): Promise<StoredValue> {
  const codecs = dataConverter?.payloadCodecs ?? [];
  if (codecs.length === 0) return value;
  let payloads: Payload[] = [defaultPayloadConverter.toPayload(value)];
  for (const codec of codecs) payloads = await codec.encode(payloads);
  const [payload] = payloads;
  return {
    $payload: {
      metadata: Object.fromEntries(
        Object.entries(payload?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
      ),
      data: Buffer.from(payload?.data ?? new Uint8Array()).toString('base64'),
    },
  } satisfies EncodedPayload;
}

/** The value `toStored` kept; a plain one is returned as it is (stored before codecs were configured). */
export async function fromStored<T>(dataConverter: DataConverter | undefined, stored: StoredValue): Promise<T> {
  if (!isEncoded(stored)) return stored as T;
  const codecs = dataConverter?.payloadCodecs ?? [];
  if (codecs.length === 0) {
    throw new Error(
      'a stored value is encoded (payload encryption) but this process has no payload codec: set the same PAYLOAD_ENCRYPTION_KEYS',
    );
  }
  let payloads: Payload[] = [
    {
      metadata: Object.fromEntries(
        Object.entries(stored.$payload.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
      ),
      data: new Uint8Array(Buffer.from(stored.$payload.data, 'base64')),
    },
  ];
  for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
  return defaultPayloadConverter.fromPayload<T>(payloads[0]!);
}
