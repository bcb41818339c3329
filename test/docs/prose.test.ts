/**
 * The guide's Markdown and its tiny template (`bridge/docs/prose.ts`): placeholders and conditionals
 * are filled, a name without a value or an unclosed conditional is an error rather than text a reader
 * sees, and the Markdown subset parses into the blocks the PDF and OpenAPI render. That the documents
 * themselves say what they said before is `test/machines/docs.test.ts`'s and `test/ops/docs-urls.test.ts`'s job.
 */
import { describe, expect, it } from 'vitest';
import { guideSections } from '../../bridge/docs/guide.js';
import { fill, parseSection } from '../../bridge/docs/prose.js';

describe('fill', () => {
  it('puts values in, chooses a conditional\u2019s branch by 0 or not, and reads no value as template', () => {
    const t = '{{#if n}}{{n}} a minute{{else}}unlimited{{/if}}, at {{url}}';
    expect(fill(t, { n: 60, url: 'https://x' }, 'test')).toBe('60 a minute, at https://x');
    expect(fill(t, { n: 0, url: '{{n}}' }, 'test')).toBe('unlimited, at {{n}}');
    expect(fill('{{#if s}}yes{{/if}}.', { s: '' }, 'test')).toBe('.');
  });

  it('refuses a name without a value and an unclosed conditional', () => {
    expect(() => fill('at {{baseUrl}}', {}, 'prose/x.md')).toThrow('prose/x.md: no value for {{baseUrl}}');
    expect(() => fill('{{#if n}}open', { n: 1 }, 'prose/x.md')).toThrow('unclosed');
  });
});

describe('parseSection', () => {
  it('reads the title, paragraphs, lists, steps, code and directives', () => {
    const md = [
      '# A title',
      '',
      'One paragraph',
      'wrapped at {{where}}.',
      '',
      '- first item',
      '  continued',
      '- second `code`',
      '',
      '1. step one',
      '2. step two',
      '',
      '```',
      'line 1',
      '',
      '{{where}}',
      '```',
      '',
      '<!-- request createAccount: 1. Sign up -->',
      '<!-- request provisionPaymentLink without-body: 2. Link -->',
      '<!-- endpoint-index -->',
      '<!-- errors -->',
      '<!-- insert extra -->',
    ].join('\n');
    const extra = { kind: 'table' as const, columns: [{ title: 'A', width: 0 }], rows: [['x']] };
    expect(parseSection('t', md, { where: 'home' }, { extra })).toEqual({
      id: 't',
      title: 'A title',
      blocks: [
        { kind: 'text', text: 'One paragraph wrapped at home.' },
        { kind: 'list', items: ['first item continued', 'second `code`'] },
        { kind: 'steps', items: ['step one', 'step two'] },
        { kind: 'code', text: 'line 1\n\nhome' },
        { kind: 'request', title: '1. Sign up', endpoint: 'createAccount' },
        { kind: 'request', title: '2. Link', endpoint: 'provisionPaymentLink', withBody: false },
        { kind: 'endpoint-index' },
        { kind: 'errors' },
        extra,
      ],
    });
  });

  it('refuses a file without a title, an unknown directive and an unclosed code block', () => {
    expect(() => parseSection('t', 'no title')).toThrow('prose/t.md: the first line is not a # title');
    expect(() => parseSection('t', '# T\n\n<!-- insert nothing -->')).toThrow('unknown directive');
    expect(() => parseSection('t', '# T\n\n```\ncode')).toThrow('not closed');
  });
});

describe('the guide\u2019s Markdown files', () => {
  it('all parse, with every placeholder filled', () => {
    for (const settings of [
      { baseUrl: 'https://pay.example.com/m', rateLimitPerMinute: 60, signupsPerHour: 5 },
      { baseUrl: 'https://pay.example.com/m', rateLimitPerMinute: 0, signupsPerHour: 0 },
    ]) {
      const sections = guideSections(settings);
      expect(sections.map((s) => s.id)).toEqual(['overview', 'auth', 'quickstart', 'lnurl', 'mqtt', 'endpoints', 'gui', 'rate-limits', 'errors', 'webhooks']);
      expect(JSON.stringify(sections)).not.toMatch(/\{\{|<!--/);
    }
  });
});
