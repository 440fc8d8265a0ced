import { describe, expect, it } from 'vitest';
import { parseCaConfig } from './config.ts';

describe('parseCaConfig', () => {
  it('has safe defaults', () => {
    const c = parseCaConfig({});
    expect(c).toMatchObject({
      httpsPort: 8443,
      httpPort: 8080,
      listenHost: '127.0.0.1',
      hosts: { dns: ['localhost'], ips: ['127.0.0.1'] },
      publicHttpUrl: 'http://localhost:8080',
      caKeyAlgorithm: 'P-256',
      trustDomain: 'edgeseal.local',
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it.each([
    [{ EDGESEAL_HTTPS_PORT: '99999' }, /EDGESEAL_HTTPS_PORT="99999"/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL="mysql:\/\/x": must be a postgres:\/\/ URL/],
    [{ EDGESEAL_CA_KEY_ALGORITHM: 'RSA' }, /EDGESEAL_CA_KEY_ALGORITHM="RSA"/],
    [{ EDGESEAL_TRUST_DOMAIN: 'Bad_Domain' }, /EDGESEAL_TRUST_DOMAIN="Bad_Domain"/],
    [{ EDGESEAL_HOSTNAMES: 'ok,bad host' }, /EDGESEAL_HOSTNAMES="ok,bad host"/],
  ])('names the bad value: %o', (env, message) => {
    expect(() => parseCaConfig(env)).toThrow(message);
  });

  it('treats an empty variable as unset', () => {
    expect(parseCaConfig({ DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });
});
