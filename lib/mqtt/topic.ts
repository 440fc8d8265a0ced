// Topic filter matching (MQTT 3.1.1 §4.7). Filters are validated by the codec first.

/** Does `filter` match `topic`? '+' is one level, '#' the rest (including the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  return levelsMatch(filter.split('/'), topic.split('/'));
}

export const hasWildcard = (filter: string) => filter.includes('+') || filter.includes('#');

/** A filter split once, for matching many topics (the broker's wildcard index). */
export function compileFilter(filter: string): readonly string[] {
  return filter.split('/');
}

/** topicMatches with both sides already split on '/'. */
export function levelsMatch(f: readonly string[], t: readonly string[]): boolean {
  if (t[0]!.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false; // [MQTT-4.7.2-1]
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}
