// ListTransactions v2's transactional id pattern (KIP-1152). Kafka compiles it as a Java regex and
// keeps the ids the whole pattern matches (`Pattern.matcher(id).matches()`). A Java regex
// backtracks, so a hostile pattern such as `(a+)+$` can hold a broker's thread for as long as it
// likes; Gregor compiles it with RE2's engine instead (re2js, a port of Google's RE2), whose time is
// linear in the pattern and the id. RE2 has the Java syntax a transactional id filter needs
// (classes, alternation, repetition, anchors) but no backreferences or lookaround: a pattern using
// them is refused as INVALID_REGULAR_EXPRESSION, as Kafka refuses one that does not compile.
// re2js is loaded at the first pattern, not with the broker: most brokers never see one, and its
// code is about 2 MB of an idle broker's resident memory.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let re2js: typeof import('re2js').RE2JS | undefined;

/** Longest pattern accepted, in UTF-16 code units: RE2's memory is linear in it. */
export const transactionalIdPatternLengthMax = 4096;

export type TransactionalIdMatcher = (transactionalId: string) => boolean;

/**
 * The matcher for a request's pattern: every id when it is null or empty (as Kafka), or the reason
 * it cannot be used.
 */
export function transactionalIdMatcher(pattern: string | null): TransactionalIdMatcher | { error: string } {
  if (pattern === null || pattern === '') return () => true;
  if (pattern.length > transactionalIdPatternLengthMax) {
    return { error: `the pattern is longer than ${transactionalIdPatternLengthMax} characters` };
  }
  // Loaded outside the try: a broken install is an error to see, not a pattern refused as invalid.
  re2js ??= (require('re2js') as typeof import('re2js')).RE2JS;
  try {
    const compiled = re2js.compile(pattern);
    return (transactionalId) => compiled.matches(transactionalId);
  } catch (error) {
    return { error: (error as Error).message };
  }
}
