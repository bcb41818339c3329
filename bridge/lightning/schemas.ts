/** Request schemas of the Lightning rail's owner-facing routes. */
import { z } from 'zod';
import { displayText } from '../http/text.js';

export const linkBody = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,23}$/, 'must be 1-24 characters a-z, 0-9, - or _, starting with a letter or digit')
    .optional(),
  comment_allowed: z.int().min(0).max(1000).optional(),
  success_message: z.string().trim().min(1).max(144, 'must be at most 144 characters (LUD-09)').superRefine(displayText('line')).optional(),
  primary: z.boolean().optional(),
});

export const paymentsQuery = z.strictObject({
  status: z.enum(['pending', 'settled', 'expired']).optional(),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.int().min(1, 'must be at least 1').max(200, 'must be at most 200'))
    .optional(),
  cursor: z.string().max(64).optional(),
});

export const PAYMENT_HASH = /^[0-9a-f]{64}$/;
