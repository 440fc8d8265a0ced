// Gateway metrics in the Prometheus text format (version 0.0.4): counters with one label at
// most, and gauges read when scraped.

type Gauges = Record<string, number>;

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName?: string,
  ) {}
  inc(label?: string, by = 1): void {
    const k = label ?? '';
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(label?: string): number {
    return this.values.get(label ?? '') ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (!this.values.size && !this.labelName) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) {
      lines.push(this.labelName ? `${this.name}{${this.labelName}="${k}"} ${v}` : `${this.name} ${v}`);
    }
    return lines.join('\n');
  }
}

export class GatewayMetrics {
  readonly connects = new Counter('edgeseal_gateway_connects_total', 'MQTT sessions accepted');
  readonly refusals = new Counter(
    'edgeseal_gateway_refusals_total',
    'Connections refused, by reason (certificate, identity, revocation, protocol)',
    'reason',
  );
  readonly denials = new Counter(
    'edgeseal_gateway_denials_total',
    'Requests of an admitted client refused, by reason (acl, payload, rate)',
    'reason',
  );
  readonly messagesIn = new Counter(
    'edgeseal_gateway_messages_in_total',
    'PUBLISH packets accepted from clients',
  );
  readonly messagesOut = new Counter(
    'edgeseal_gateway_messages_out_total',
    'PUBLISH packets sent to clients',
  );
  readonly dropped = new Counter(
    'edgeseal_gateway_messages_dropped_total',
    'Messages not delivered, by reason',
    'reason',
  );
  readonly revocationDisconnects = new Counter(
    'edgeseal_gateway_revocation_disconnects_total',
    'Live sessions closed because their certificate was revoked',
  );
  readonly quarantines = new Counter(
    'edgeseal_gateway_quarantines_total',
    'Connected devices put in quarantine (no fresh affirming attestation)',
  );
  readonly disconnects = new Counter(
    'edgeseal_gateway_disconnects_total',
    'Sessions ended, by reason',
    'reason',
  );

  constructor(private readonly gauges: () => Gauges) {}

  render(): string {
    const g = Object.entries(this.gauges()).map(([name, v]) => `# TYPE ${name} gauge\n${name} ${v}`);
    return `${[
      this.connects,
      this.refusals,
      this.denials,
      this.messagesIn,
      this.messagesOut,
      this.dropped,
      this.revocationDisconnects,
      this.quarantines,
      this.disconnects,
    ]
      .map((c) => c.render())
      .concat(g)
      .join('\n')}\n`;
  }
}
