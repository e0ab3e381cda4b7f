import { z } from 'zod';
import { FailureType } from './failures';

/**
 * The GraphQL endpoint kind's declaration side: reading a document far enough to know its operations and
 * their variables, and the shapes a GraphQL endpoint answers. No imports but zod and the failure types
 * (workflow code does not load it: see kit/view.ts). Requests are built in runtime/transport/request.ts;
 * answers judged in runtime/classify.ts.
 */

export type GraphqlOperationType = 'query' | 'mutation' | 'subscription';

/** The failure types an `extensions.code` may be mapped to (`codes` of a GraphQL endpoint). */
export const graphqlFailureTypes = [
  FailureType.Unauthorized,
  FailureType.RequestRejected,
  FailureType.NotFound,
  FailureType.RateLimited,
  FailureType.ServerError,
] as const;
export type GraphqlFailureType = (typeof graphqlFailureTypes)[number];

/** One operation of a document, as far as the kit needs to know it. */
export interface ScannedOperation {
  type: GraphqlOperationType;
  /** Absent for an anonymous operation (`query { ... }` or the `{ ... }` shorthand). */
  name?: string;
  /** The variables it declares, without `$`. */
  variables: string[];
}

type Token = { kind: 'name' | 'punct' | 'value'; text: string };

/** GraphQL's lexical grammar, minus what the kit does not need: names, punctuators, and skipped values. */
function tokenize(document: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < document.length) {
    const ch = document[i]!;
    if (/[\s,\uFEFF]/.test(ch)) i += 1;
    else if (ch === '#') while (i < document.length && document[i] !== '\n' && document[i] !== '\r') i += 1;
    else if (document.startsWith('"""', i)) {
      const end = document.indexOf('"""', i + 3);
      if (end < 0) return 'a block string is not closed';
      tokens.push({ kind: 'value', text: '"""' });
      i = end + 3;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < document.length && document[j] !== '"' && document[j] !== '\n') j += document[j] === '\\' ? 2 : 1;
      if (document[j] !== '"') return 'a string is not closed';
      tokens.push({ kind: 'value', text: '"' });
      i = j + 1;
    } else if (document.startsWith('...', i)) {
      tokens.push({ kind: 'punct', text: '...' });
      i += 3;
    } else if ('{}()[]:$!=@|&'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch });
      i += 1;
    } else {
      const match = /^(?:[_A-Za-z][_0-9A-Za-z]*|-?\d[\d.eE+-]*)/.exec(document.slice(i));
      if (!match) return `unexpected character ${JSON.stringify(ch)}`;
      tokens.push({ kind: /^[_A-Za-z]/.test(match[0]) ? 'name' : 'value', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

/**
 * Reads a document's top-level definitions: each operation's type, name and declared variables
 * (fragments are skipped). Not a validator: the provider validates against its schema. Answers a
 * message when the document cannot be read that far.
 */
export function scanDocument(document: string): ScannedOperation[] | string {
  const tokens = tokenize(document);
  if (typeof tokens === 'string') return tokens;
  const operations: ScannedOperation[] = [];
  let at = 0;
  /** Skips a balanced `open ... close` group starting at `at`; answers false when it never closes. */
  const skipGroup = (open: string, close: string): boolean => {
    let depth = 0;
    for (; at < tokens.length; at += 1) {
      const text = tokens[at]!.kind === 'punct' ? tokens[at]!.text : '';
      if (text === open) depth += 1;
      else if (text === close && --depth === 0) {
        at += 1;
        return true;
      }
    }
    return false;
  };
  while (at < tokens.length) {
    const token = tokens[at]!;
    if (token.kind === 'punct' && token.text === '{') {
      if (!skipGroup('{', '}')) return 'a selection set is not closed';
      operations.push({ type: 'query', variables: [] });
      continue;
    }
    if (token.kind !== 'name') return `expected an operation or a fragment, got ${JSON.stringify(token.text)}`;
    if (token.text === 'fragment') {
      while (at < tokens.length && tokens[at]!.text !== '{') at += 1;
      if (!skipGroup('{', '}')) return 'a fragment is not closed';
      continue;
    }
    if (token.text !== 'query' && token.text !== 'mutation' && token.text !== 'subscription')
      return `expected query, mutation, subscription or fragment, got ${JSON.stringify(token.text)}`;
    const operation: ScannedOperation = { type: token.text, variables: [] };
    at += 1;
    if (tokens[at]?.kind === 'name') operation.name = tokens[at++]!.text;
    if (tokens[at]?.text === '(') {
      const start = at;
      if (!skipGroup('(', ')')) return 'the variable definitions are not closed';
      for (let k = start; k < at - 1; k += 1) {
        // `$name:` defines a variable; defaults and directives there are constants, so no other `$` appears.
        if (tokens[k]!.text === '$' && tokens[k + 1]?.kind === 'name' && tokens[k + 2]?.text === ':')
          operation.variables.push(tokens[k + 1]!.text);
      }
    }
    while (at < tokens.length && tokens[at]!.text !== '{') at += 1; // directives
    if (!skipGroup('{', '}')) return `operation ${operation.name ?? '(anonymous)'} has no closed selection set`;
    operations.push(operation);
  }
  if (operations.length === 0) return 'the document declares no operation';
  return operations;
}

/** What a partial answer's errors are reduced to: where and what kind, never the message (it may carry PII). */
export const GraphqlErrorRef = z.object({
  code: z.string().optional().describe("the error's `extensions.code`, when it has one"),
  path: z
    .array(z.union([z.string(), z.number()]))
    .optional()
    .describe('where in `data` the error happened'),
});
export type GraphqlErrorRef = z.infer<typeof GraphqlErrorRef>;

/** The result of an endpoint declared with `partial: 'accept'`: the data, and what is missing from it. */
export function partialResult<D extends z.ZodType>(data: D) {
  return z.object({ data, errors: z.array(GraphqlErrorRef) });
}
