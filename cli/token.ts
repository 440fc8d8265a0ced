// edgeseal token create|list|revoke
import { parseArgs } from 'node:util';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

interface Token {
  id: string;
  role: string;
  label: string | null;
  status: string;
  expires_at: string | null;
  token?: string;
}

const ROLES = ['auditor', 'security-admin', 'release-manager', 'admin'];

export async function tokenCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'create': {
      const { values } = parseArgs({
        args: rest,
        options: { role: { type: 'string' }, expires: { type: 'string' }, label: { type: 'string' } },
        strict: true,
      });
      if (!values.role) throw new UsageError(`token create needs --role (${ROLES.join(', ')})`);
      if (!ROLES.includes(values.role))
        throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${values.role}"`);
      const t = await client().call<Token>('POST', '/v1/tokens', {
        role: values.role,
        ...(values.expires ? { expires_in: values.expires } : {}),
        ...(values.label ? { label: values.label } : {}),
      });
      print(
        json,
        t,
        () =>
          `token ${t.id} (${t.role}${t.expires_at ? `, expires ${t.expires_at}` : ''}); shown once:\n${t.token}`,
      );
      return;
    }
    case 'list': {
      const r = await client().call<{ items: Token[] }>('GET', '/v1/tokens');
      print(json, r.items, () =>
        table(r.items as unknown as Record<string, unknown>[], [
          'id',
          'role',
          'status',
          'label',
          'expires_at',
        ]),
      );
      return;
    }
    case 'revoke': {
      const id = rest[0];
      if (!id || !/^tok_[a-z0-9]{1,32}$/.test(id))
        throw new UsageError(`token revoke needs a token id (tok_…), got "${id ?? ''}"`);
      const t = await client().call<Token>('POST', `/v1/tokens/${id}/revoke`);
      print(json, t, () => `token ${t.id}: ${t.status}`);
      return;
    }
    default:
      throw new UsageError(`unknown token command "${verb ?? ''}"; use create, list or revoke`);
  }
}
