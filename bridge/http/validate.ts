/**
 * Validation at the edge: every body, query and MQTT payload goes through a zod schema here before
 * a service sees it. A failure becomes an AppError with the caller's code (`invalid_body` unless
 * told otherwise) and a message naming each bad field.
 */
import type { z } from 'zod';
import { AppError, type WireErrorCode } from '../errors.js';

export interface FieldProblem {
  field: string;
  problem: string;
}

export function describeIssues(issues: z.core.$ZodIssue[]): FieldProblem[] {
  return issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)',
    problem: issue.message,
  }));
}

export function validate<S extends z.ZodType>(schema: S, input: unknown, what = 'body', code: WireErrorCode = 'invalid_body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = describeIssues(result.error.issues);
  const summary = problems.map((p) => (p.field === '(body)' ? p.problem : `${p.field}: ${p.problem}`)).join('; ');
  return fail(code, `Invalid ${what}: ${summary}`, problems);
}

function fail(code: WireErrorCode, message: string, details: FieldProblem[]): never {
  throw new AppError(400, code, message, { details });
}

/**
 * Koa's parsed query, with repeated parameters rejected: `?limit=1&limit=2` is ambiguous and is
 * an error, not "the last one wins".
 */
export function singleValuedQuery(query: Record<string, string | string[] | undefined>): Record<string, string> {
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      throw new AppError(400, 'invalid_body', `Invalid query: parameter ${name} is given more than once`);
    }
    if (value !== undefined) entries.push([name, value]);
  }
  // fromEntries defines own properties, so `?__proto__=x` is a key like any other (and refused as unknown).
  return Object.fromEntries(entries);
}
