/** URL- and address-safe names derived from labels: lowercase a-z, 0-9 and single dashes. */
export function slug(label: string, maxLength: number, fallback: string): string {
  const s = label
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/g, '');
  return s === '' ? fallback : s;
}
