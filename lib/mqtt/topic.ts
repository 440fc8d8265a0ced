// Topic filter matching (MQTT 3.1.1 §4.7). Filters are validated by the codec first.

/** Does `filter` match `topic`? '+' is one level, '#' the rest (including the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  // Topics starting with '$' are not matched by a leading wildcard [MQTT-4.7.2-1].
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

export const hasWildcard = (filter: string) => filter.includes('+') || filter.includes('#');
