// edgeseal batch create|list|show|revoke
import { parseArgs } from 'node:util';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

interface Batch {
  id: string;
  hardware_model: string;
  quota: number;
  enrolled: number;
  status: string;
  expires_at: string;
  secret?: string;
}

export async function batchCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'create': {
      const { values } = parseArgs({
        args: rest,
        options: {
          'hardware-model': { type: 'string' },
          quota: { type: 'string' },
          expires: { type: 'string', default: '8h' },
          'id-prefix': { type: 'string' },
        },
        strict: true,
      });
      const model = values['hardware-model'];
      if (!model) throw new UsageError('batch create needs --hardware-model M');
      const quotaText = values.quota;
      if (!quotaText) throw new UsageError('batch create needs --quota N');
      if (!/^\d+$/.test(quotaText))
        throw new UsageError(`--quota must be a positive integer, got "${quotaText}"`);
      const c = client();
      const b = await c.call<Batch>('POST', '/v1/batches', {
        hardware_model: model,
        quota: Number(quotaText),
        expires_in: values.expires,
        ...(values['id-prefix'] ? { id_prefix: values['id-prefix'] } : {}),
      });
      const est = `${c.url}/.well-known/est/simpleenroll`;
      print(json, { ...b, est_url: est }, () =>
        [
          `batch ${b.id}: ${b.quota} × ${b.hardware_model}, expires ${b.expires_at}`,
          `secret (shown once): ${b.secret}`,
          `enroll: curl --cacert ca/root.pem -u ${b.id}:<secret> -H 'Content-Type: application/pkcs10' --data-binary @req.b64 ${est}`,
        ].join('\n'),
      );
      return;
    }
    case 'list': {
      const r = await client().call<{ items: Batch[] }>('GET', '/v1/batches');
      print(json, r.items, () =>
        table(r.items as unknown as Record<string, unknown>[], [
          'id',
          'hardware_model',
          'enrolled',
          'quota',
          'status',
          'expires_at',
        ]),
      );
      return;
    }
    case 'show':
    case 'revoke': {
      const id = rest[0];
      if (!id || !/^[A-Za-z0-9_-]{1,64}$/.test(id))
        throw new UsageError(`batch ${verb} needs a batch id, got "${id ?? ''}"`);
      const b = await client().call<Batch>(
        verb === 'show' ? 'GET' : 'POST',
        `/v1/batches/${id}${verb === 'revoke' ? '/revoke' : ''}`,
      );
      print(
        json,
        b,
        () => `batch ${b.id}: ${b.status}, ${b.enrolled}/${b.quota} enrolled, expires ${b.expires_at}`,
      );
      return;
    }
    default:
      throw new UsageError(`unknown batch command "${verb ?? ''}"; use create, list, show or revoke`);
  }
}
