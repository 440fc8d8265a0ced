// One error base with stable codes for the agent (the jose way). The CLI maps them to exit
// codes in one place (cli/agent.ts): a value the user must fix on the command line → 2,
// anything refused or broken → 1. Details never carry a key, a secret or a nonce.

export const AGENT_ERROR_CODES = [
  'ERR_BAD_VALUE', // a flag's value is wrong: bad URL, unreadable file, malformed fingerprint
  'ERR_ALREADY_PROVISIONED', // the state directory already holds a device
  'ERR_NOT_PROVISIONED', // `agent run` on a directory `agent provision` did not fill
  'ERR_STATE', // the state directory is damaged (missing or unparsable file)
  'ERR_TRUST', // the EST server is not the one we were told to trust
  'ERR_REFUSED', // the server said no (HTTP 4xx); detail is the server's
  'ERR_UNAVAILABLE', // the server could not be reached or failed (network, 5xx)
  'ERR_PROTOCOL', // the server answered something that is not what the protocol says
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  readonly detail: string;
  constructor(code: AgentErrorCode, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = 'AgentError';
    this.code = code;
    this.detail = detail;
  }
}

/** What a server said when it refused a request: HTTP status, problem+json code, its detail. */
export class RefusedError extends AgentError {
  readonly status: number;
  readonly problemCode: string | undefined;
  /** the server's own words, for the log's `detail` field */
  readonly serverDetail: string;
  constructor(what: string, status: number, problemCode: string | undefined, serverDetail: string) {
    super(
      'ERR_REFUSED',
      `${what} refused (HTTP ${status}${problemCode ? ` ${problemCode}` : ''}): ${serverDetail}`,
    );
    this.name = 'RefusedError';
    this.status = status;
    this.problemCode = problemCode;
    this.serverDetail = serverDetail;
  }
}

export const fail = (code: AgentErrorCode, detail: string, cause?: unknown): never => {
  throw new AgentError(code, detail, cause === undefined ? undefined : { cause });
};

/** A failure as log fields: a refusal's status, code and the server's detail; otherwise the error. */
export function failureFields(e: unknown): Record<string, unknown> {
  if (e instanceof RefusedError) {
    return { status: e.status, ...(e.problemCode ? { code: e.problemCode } : {}), detail: e.serverDetail };
  }
  if (e instanceof AgentError) return { code: e.code, error: e.detail };
  return { error: e instanceof Error ? e.message : String(e) };
}

export const isRefusal = (e: unknown): e is RefusedError => e instanceof RefusedError;
