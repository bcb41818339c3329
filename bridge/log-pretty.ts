/**
 * `LOG_FORMAT=pretty`: one pino JSON line turned into one line a person reads,
 * `12:00:42.123 INFO  settlement: payment settled paymentId=p2h6… rail=lightning`, with the error's
 * stack below entries at error level and above. No dependency (pino-pretty is not installed).
 */

const LEVELS: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '90' },
  20: { name: 'DEBUG', colour: '36' },
  30: { name: 'INFO', colour: '32' },
  40: { name: 'WARN', colour: '33' },
  50: { name: 'ERROR', colour: '31' },
  60: { name: 'FATAL', colour: '35' },
};

/** Fields every line has, shown in the line's head rather than as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname', 'component']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v) ?? String(v);
}

function clock(time: unknown): string {
  const d = new Date(typeof time === 'number' ? time : Date.now());
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Format one JSON log line; a line that is not JSON passes through unchanged. */
export function prettyLine(line: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = LEVELS[Number(entry['level'])] ?? { name: String(entry['level']), colour: '0' };
  const paint = (code: string, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
  const head = [clock(entry['time']), paint(level.colour, level.name.padEnd(5))];
  if (typeof entry['component'] === 'string') head.push(paint('1', `${entry['component']}:`));
  head.push(typeof entry['msg'] === 'string' ? entry['msg'] : '');
  const fields: string[] = [];
  let stack: string | undefined;
  for (const [k, v] of Object.entries(entry)) {
    if (HEAD.has(k)) continue;
    if (k === 'err' && typeof v === 'object' && v !== null) {
      const err = v as { message?: unknown; stack?: unknown };
      fields.push(`err=${value(err.message ?? v)}`);
      if (Number(entry['level']) >= 50 && typeof err.stack === 'string') stack = err.stack;
      continue;
    }
    fields.push(`${paint('2', `${k}=`)}${value(v)}`);
  }
  const text = [head.join(' '), ...fields].join(' ').trimEnd();
  return `${text}\n${stack ? `${stack.replace(/^/gm, '    ')}\n` : ''}`;
}
