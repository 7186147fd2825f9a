import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnResource, type Stack } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSUMERS, type ConsumerDefinition } from '../../infra/consumers.ts';
import { AUDIT_ANCHOR } from '../../infra/resources.ts';
import { type BuildOptions, buildApp, type EsanteStacks } from '../../infra/stacks/esante-app.ts';
import { acknowledgeFindings } from '../../infra/stacks/nag.ts';
import { STAGES, UNRESERVED_CONCURRENCY_FLOOR } from '../../infra/stacks/stage.ts';
import { topicSpecs } from '../../shared/events/index.ts';

// Prepare (once per file): apps synthesised WITHOUT asset bundling (app.test.ts and layer.test.ts bundle);
// each is a few seconds of CPU: dev and prod with today's catalog, and dev with a generated 200-topic catalog.
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
const outdirs: string[] = [];
interface Synthesised {
  stacks: EsanteStacks;
  templates: Record<string, CfnTemplate>;
  bytes: Record<string, number>;
  app: App;
}
interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[] }>;
  Outputs?: Record<string, { Export?: { Name: unknown } }>;
  Parameters?: Record<string, { Default?: unknown }>;
}
const synth = (stage: string, options: BuildOptions = {}): Synthesised => {
  const outdir = mkdtempSync(join(tmpdir(), 'esante-stages-'));
  outdirs.push(outdir);
  const app = new App({
    context: { ...cdkJson.context, stage, [BUNDLING_STACKS]: [] },
    outdir,
    analyticsReporting: cdkJson.versionReporting,
  });
  const stacks = buildApp(app, options);
  acknowledgeFindings(stacks);
  const assembly = app.synth();
  const all = Object.values(stacks) as Stack[];
  const templates: Record<string, CfnTemplate> = {};
  const bytes: Record<string, number> = {};
  for (const stack of all) {
    const text = readFileSync(join(assembly.directory, stack.templateFile), 'utf8');
    templates[stack.stackName] = JSON.parse(text);
    bytes[stack.stackName] = Buffer.byteLength(text);
  }
  return { stacks, templates, bytes, app };
};
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

// ---- a generated catalog: 200 topics in 20 domains, and 12 consumer functions ----
const base = topicSpecs()[0];
if (!base) throw new Error('topicSpecs() is empty');
const DOMAINS = 20;
const generatedTopics = Array.from({ length: 200 }, (_, i) => ({
  ...base,
  topic: `domain${String(i % DOMAINS).padStart(2, '0')}-clinical.resource-${String(i).padStart(3, '0')}.status-changed`,
  partitions: 6,
}));
const names = generatedTopics.map((t) => t.topic);
const template = CONSUMERS[0] as ConsumerDefinition;
const generatedConsumers: ConsumerDefinition[] = Array.from({ length: 12 }, (_, k) => ({
  ...(CONSUMERS[k % CONSUMERS.length] as ConsumerDefinition),
  name: `scale-consumer-${String(k).padStart(2, '0')}`,
  groupId: `scale-consumer-service-${String(k).padStart(2, '0')}`,
  // One reads everything (an audit trail); the others read 12 topics scattered over 12 domains (the worst case
  // for grants: no whole domain to collapse into a prefix) and publish 3.
  topics: (k === 0
    ? names
    : names.filter((_, i) => (i * 7 + k) % 17 === 0).slice(0, 12)) as ConsumerDefinition['topics'],
  publishes: (k === 0 ? [] : names.slice(k * 3, k * 3 + 3)) as unknown as ConsumerDefinition['publishes'],
  tables: k === 0 ? ['audit'] : template.tables,
}));

const dev = synth('dev');
const prod = synth('prod');
const scale = synth('dev', { topics: generatedTopics, consumers: generatedConsumers });

// ---- rendering with real-length values, as IAM and CloudFormation will see them ----
const ACCOUNT = '123456789012';
const REGION = 'eu-west-3';
const UUID = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d-3';
const LONG = (n: number) => 'x'.repeat(n);
/** Evaluates intrinsics to strings of realistic (slightly pessimistic) length. */
const render = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(render);
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, arg] = entries[0] ?? [];
  if ((entries.length === 1 && key?.startsWith('Fn::')) || key === 'Ref') {
    switch (key) {
      case 'Ref':
        return (
          {
            'AWS::Partition': 'aws',
            'AWS::Region': REGION,
            'AWS::AccountId': ACCOUNT,
            'AWS::URLSuffix': 'amazonaws.com',
          }[arg as string] ?? LONG(64)
        );
      case 'Fn::GetAtt':
        return `arn:aws:service:${REGION}:${ACCOUNT}:resource/${LONG(64)}`;
      case 'Fn::ImportValue': {
        const name = String(arg);
        if (name.endsWith('TopicArnPrefix'))
          return `arn:aws:kafka:${REGION}:${ACCOUNT}:topic/esante-prod/${UUID}/`;
        if (name.endsWith('GroupArnPrefix'))
          return `arn:aws:kafka:${REGION}:${ACCOUNT}:group/esante-prod/${UUID}/`;
        return `arn:aws:service:${REGION}:${ACCOUNT}:resource/${LONG(64)}`;
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (parts.map(render) as string[]).join(sep);
      }
      case 'Fn::Select': {
        const [i, list] = arg as [number, unknown];
        const items = render(list);
        return Array.isArray(items) ? items[i] : LONG(36);
      }
      case 'Fn::Split': {
        const [sep, s] = arg as [string, unknown];
        return String(render(s)).split(sep);
      }
      case 'Fn::Sub':
        return String(Array.isArray(arg) ? arg[0] : arg).replaceAll(/\$\{[^}]+\}/g, LONG(64));
      default:
        return LONG(64);
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, render(v)]));
};
const policyChars = (doc: unknown) => JSON.stringify(render(doc)).length;

interface RoleReport {
  role: string;
  inline: number;
  managed: number[];
  managedCount: number;
}
const roleReports = (t: CfnTemplate): RoleReport[] => {
  const refsRole = (props: Record<string, unknown> | undefined, id: string) =>
    JSON.stringify(props?.Roles ?? []).includes(`"Ref":"${id}"`);
  return Object.entries(t.Resources)
    .filter(([, r]) => r.Type === 'AWS::IAM::Role')
    .map(([id, r]) => {
      const own = (r.Properties?.Policies as { PolicyDocument: unknown }[] | undefined) ?? [];
      const inline = Object.values(t.Resources)
        .filter((p) => p.Type === 'AWS::IAM::Policy' && refsRole(p.Properties, id))
        .map((p) => policyChars(p.Properties?.PolicyDocument))
        .concat(own.map((p) => policyChars(p.PolicyDocument)))
        .reduce((a, b) => a + b, 0);
      const managed = Object.values(t.Resources)
        .filter((p) => p.Type === 'AWS::IAM::ManagedPolicy' && refsRole(p.Properties, id))
        .map((p) => policyChars(p.Properties?.PolicyDocument));
      const arns = ((r.Properties?.ManagedPolicyArns as unknown[] | undefined) ?? []).length;
      return { role: id, inline, managed, managedCount: managed.length + arns };
    });
};

const LIMITS = {
  templateBytes: 1_048_576,
  resources: 500,
  outputs: 200,
  inlinePolicyChars: 10_240,
  managedPolicyChars: 6_144,
  managedPoliciesPerRole: 10,
};

const checkLimits = (label: string, s: Synthesised) => {
  const lines: string[] = [];
  for (const [name, t] of Object.entries(s.templates)) {
    const bytes = s.bytes[name] ?? 0;
    const resources = Object.keys(t.Resources).length;
    const outputs = Object.keys(t.Outputs ?? {}).length;
    const roles = roleReports(t);
    const maxInline = Math.max(0, ...roles.map((r) => r.inline));
    const maxManaged = Math.max(0, ...roles.flatMap((r) => r.managed));
    const maxManagedCount = Math.max(0, ...roles.map((r) => r.managedCount));
    lines.push(
      `${label} ${name.padEnd(22)} ${(bytes / 1024).toFixed(0).padStart(5)} KB (headroom ${(100 - (100 * bytes) / LIMITS.templateBytes).toFixed(0)}%)` +
        `  ${String(resources).padStart(3)}/500 resources  ${String(outputs).padStart(3)}/200 outputs` +
        `  largest inline policy set ${maxInline}/10240  managed ${maxManaged}/6144 (${maxManagedCount}/10 per role)`,
    );
    expect(bytes, `${name} template bytes`).toBeLessThanOrEqual(LIMITS.templateBytes);
    expect(resources, `${name} resources`).toBeLessThanOrEqual(LIMITS.resources);
    expect(outputs, `${name} outputs`).toBeLessThanOrEqual(LIMITS.outputs);
    for (const r of roles) {
      expect(r.inline, `${name} ${r.role} inline policies`).toBeLessThanOrEqual(LIMITS.inlinePolicyChars);
      for (const m of r.managed)
        expect(m, `${name} ${r.role} managed policy`).toBeLessThanOrEqual(LIMITS.managedPolicyChars);
      expect(r.managedCount, `${name} ${r.role} managed policies`).toBeLessThanOrEqual(
        LIMITS.managedPoliciesPerRole,
      );
    }
  }
  console.log(lines.join('\n'));
};

describe('CloudFormation and IAM limits', () => {
  it("holds every limit with today's catalog", () => {
    checkLimits('catalog', dev);
  });

  it('holds every limit with a 200-topic catalog and 12 consumer functions', () => {
    // Assess: the generated app is really that large.
    const mappings = Object.values(scale.templates[scale.stacks.consumers.stackName]?.Resources ?? {}).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    );
    expect(mappings).toHaveLength(generatedConsumers.reduce((n, c) => n + c.topics.length, 0));
    expect(Object.keys(scale.stacks.consumers.functions)).toHaveLength(12);
    checkLimits('scale', scale);
  });

  it('still reports no unacknowledged cdk-nag finding at that scale, nor in prod', () => {
    for (const s of [scale, prod]) {
      const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks(), new ServerlessChecks()].flatMap(
        (p) =>
          p
            .validateScope(s.app)
            .violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`),
      );
      expect(findings).toEqual([]);
    }
  });
});

describe('two stages in one account and region', () => {
  /** Every physical name a stage claims in the account and region, and its consumer and poller groups. */
  const claimed = (s: Synthesised): Map<string, string> => {
    const out = new Map<string, string>();
    const visit = (where: string, value: unknown, key = '') => {
      if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) visit(`${where}[${i}]`, v, key);
      } else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) visit(`${where}.${k}`, v, k);
      } else if (
        typeof value === 'string' &&
        (/Name$/.test(key) || key === 'ConsumerGroupId' || key === 'EmailIdentity') &&
        !where.includes('.Dimensions[') &&
        // Names scoped inside their parent (a role, a cluster, a table, a plan) or naming an AWS service.
        ![
          'PolicyName',
          'TopicName',
          'IndexName',
          'AttributeName',
          'MetricName',
          'ServiceName',
          'RuleName',
          'SelectionName',
        ].includes(key)
      ) {
        out.set(value, where);
      }
    };
    for (const [stack, t] of Object.entries(s.templates)) {
      // A Glue schema's name is scoped by its registry, which is named per stage (and checked here).
      for (const [id, r] of Object.entries(t.Resources))
        if (r.Type !== 'AWS::Glue::Schema') visit(`${stack}/${id}`, r.Properties);
      for (const [id, o] of Object.entries(t.Outputs ?? {})) visit(`${stack}/${id}`, o.Export, 'ExportName');
      for (const [id, p] of Object.entries(t.Parameters ?? {}))
        if (id.startsWith('Email')) visit(`${stack}/${id}`, p.Default, 'EmailIdentity');
    }
    return out;
  };

  it('shares no physical name, consumer group id or poller group between dev and prod', () => {
    // Act
    const a = claimed(dev);
    const b = claimed(prod);
    const shared = [...a.keys()].filter((name) => b.has(name)).map((n) => `${n} (${a.get(n)})`);
    // Assess: the check sees the names it is about.
    expect([...a.keys()]).toEqual(
      expect.arrayContaining([
        'dev-esante-audit',
        'esante-dev-audit',
        'esante-dev-events',
        `dev.${CONSUMERS[0]?.groupId}.${CONSUMERS[0]?.topics[0]}`,
      ]),
    );
    expect(shared).toEqual([]);
  });

  it('protects and retains the tables in prod only, so dev can be destroyed and deployed again', () => {
    const tables = (s: Synthesised) =>
      Object.values(s.templates[s.stacks.data.stackName]?.Resources ?? {}).filter(
        (r) => r.Type === 'AWS::DynamoDB::Table',
      ) as { Properties?: Record<string, unknown>; DeletionPolicy?: string }[];
    expect(tables(prod).length).toBeGreaterThan(0);
    for (const t of tables(prod)) {
      expect(t.Properties?.DeletionProtectionEnabled).toBe(true);
      expect(t.DeletionPolicy).toBe('Retain');
    }
    for (const t of tables(dev)) {
      expect(t.Properties?.DeletionProtectionEnabled).toBe(false);
      expect(t.DeletionPolicy).toBe('Delete');
    }
  });

  it('locks audit digests six years and a day in prod and a day in dev, the function told the same', () => {
    const retention = (s: Synthesised) => {
      const resources = Object.values(s.templates[s.stacks.data.stackName]?.Resources ?? {});
      const bucket = resources.find(
        (r) => r.Type === 'AWS::S3::Bucket' && r.Properties?.ObjectLockEnabled === true,
      ) as unknown as { Properties: { ObjectLockConfiguration: unknown }; DeletionPolicy?: string };
      const fn = Object.values(s.templates[s.stacks.consumers.stackName]?.Resources ?? {}).find(
        (r) =>
          r.Type === 'AWS::Lambda::Function' &&
          JSON.stringify(r.Properties?.Environment).includes(AUDIT_ANCHOR.retentionEnv),
      ) as unknown as { Properties: { Environment: { Variables: Record<string, string> } } };
      return {
        lock: bucket.Properties.ObjectLockConfiguration,
        kept: bucket.DeletionPolicy,
        writer: fn.Properties.Environment.Variables[AUDIT_ANCHOR.retentionEnv],
      };
    };
    const lock = (days: number) => ({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: days } },
    });
    expect(retention(prod)).toEqual({ lock: lock(2193), kept: 'Retain', writer: '2193' });
    expect(retention(dev)).toEqual({ lock: lock(1), kept: 'Retain', writer: '1' });
  });

  it('reserves concurrency only within what the account leaves reservable', () => {
    for (const s of [dev, prod]) {
      const stage = s.stacks.consumers.stageConfig;
      const reserved = Object.values(s.templates[s.stacks.consumers.stackName]?.Resources ?? {})
        .filter((r) => r.Type === 'AWS::Lambda::Function')
        .map((r) => Number(r.Properties?.ReservedConcurrentExecutions ?? 0));
      const total = reserved.reduce((x, y) => x + y, 0);
      expect(total, stage.name).toBeLessThanOrEqual(stage.accountConcurrency - UNRESERVED_CONCURRENCY_FLOOR);
      if (stage.reserveConcurrency)
        expect(
          reserved.every((n) => n > 0),
          stage.name,
        ).toBe(true);
      else expect(total, stage.name).toBe(0);
    }
    expect(STAGES.prod.reserveConcurrency).toBe(true);
  });
});

describe('cross-stack references', () => {
  const consumers = () => dev.templates[dev.stacks.consumers.stackName] as CfnTemplate;
  const imports = (t: CfnTemplate) =>
    [...JSON.stringify(t).matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1]);

  it('reads every producer value through an export CloudFormation will not let change under it', () => {
    // Act
    const exported = new Set(
      Object.entries(dev.templates)
        .filter(([name]) => name !== dev.stacks.consumers.stackName)
        .flatMap(([, t]) => Object.values(t.Outputs ?? {}).map((o) => JSON.stringify(o.Export?.Name))),
    );
    const used = imports(consumers());
    // Assess: no weak reference (Fn::GetStackOutput is re-read only when the reading stack itself changes).
    expect(JSON.stringify(dev.templates)).not.toContain('Fn::GetStackOutput');
    expect(used.length).toBeGreaterThan(0);
    for (const name of new Set(used)) expect(exported, name).toContain(JSON.stringify(name));
    // The cluster, the DLQ, the tables and the keys are all such imports (none is a copied literal).
    const text = JSON.stringify(consumers());
    expect(text).not.toMatch(/arn:aws:(kafka|sqs|dynamodb|kms):/);
  });

  it('changes the consumer template when a producer output changes', () => {
    // Prepare: the same app with the DLQ replaced in the data stack (a new resource, so a new ARN).
    const outdir = mkdtempSync(join(tmpdir(), 'esante-xstack-'));
    outdirs.push(outdir);
    const app = new App({
      context: { ...cdkJson.context, [BUNDLING_STACKS]: [] },
      outdir,
      analyticsReporting: false,
    });
    const stacks = buildApp(app);
    const queue = stacks.data.deadLetterQueue.node.defaultChild as CfnResource;
    queue.overrideLogicalId('EsmDeadLetterQueueReplaced');
    // Act
    const after = JSON.stringify(
      JSON.parse(readFileSync(join(app.synth().directory, stacks.consumers.templateFile), 'utf8')),
    );
    const before = JSON.stringify(consumers());
    // Assess: the mappings' destination and the send grant follow the new queue.
    expect(after).not.toEqual(before);
    expect(after).toContain('EsmDeadLetterQueueReplaced');
    expect(before).not.toContain('EsmDeadLetterQueueReplaced');
  });
});
