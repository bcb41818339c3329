/**
 * What a topic handler is given: a machine's message that the dispatcher has already charged to its
 * login's rate limit and matched to a live asset of the account, and a way to record what is wrong
 * with it (an `error` event for the asset, never a crash).
 */
import type { z } from 'zod';
import { describeIssues } from '../../http/validate.js';
import type { AssetRecord } from '../../machines/types.js';

export interface DeviceMessage {
  userId: string;
  assetId: string;
  asset: AssetRecord;
  /** The full topic the message came on. */
  topic: string;
  payload: Buffer;
  /** Whether the message was within its login's rate limit (a will's status may not be). */
  within: boolean;
  /** Record a message the contract does not allow. */
  bad(problem: string): Promise<void>;
}

export type TopicHandler = (message: DeviceMessage) => Promise<void>;

/** A JSON payload checked against its topic's schema, or what is wrong with it. */
export function parseJson<S extends z.ZodType>(payload: Buffer, schema: S): { value: z.output<S> } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return { problem: 'payload is not JSON' };
  }
  const result = schema.safeParse(value);
  if (result.success) return { value: result.data };
  return {
    problem: describeIssues(result.error.issues)
      .map((p) => `${p.field}: ${p.problem}`)
      .join('; '),
  };
}
