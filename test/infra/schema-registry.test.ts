import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  glueSchemaName,
  registryName,
  SchemaRegistryStack,
} from '../../infra/stacks/schema-registry-stack.ts';
import { STAGES } from '../../infra/stacks/stage.ts';
import { acceptedVersions, catalogTopics, definitionOf } from '../../shared/events/index.ts';
import { schemaPath } from '../../shared/events/schemas/json-schema.ts';
import { readReleased } from '../../shared/events/schemas/write.ts';

interface Resource {
  Type: string;
  Properties: {
    Name?: string;
    Schema?: { SchemaArn: { 'Fn::GetAtt': [string, string] } };
    SchemaDefinition?: string;
    [property: string]: unknown;
  };
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

// Prepare (once): the registry stack of each stage, as buildApp creates it.
const synth = (stage: 'dev' | 'prod') => {
  const app = new App();
  const stack = new SchemaRegistryStack(app, `Esante-${stage}-Schemas`, {
    stage: STAGES[stage],
    env: { account: '111111111111', region: 'eu-west-3' },
  });
  return {
    app,
    stack,
    template: Template.fromStack(stack).toJSON() as { Resources: Record<string, Resource> },
  };
};
const dev = synth('dev');
const of = (type: string) => Object.entries(dev.template.Resources).filter(([, r]) => r.Type === type);

describe('schema registry (AWS Glue)', () => {
  it('has one registry and one JSON schema per catalog topic, with the compatibility each declares', () => {
    // Act
    const registries = of('AWS::Glue::Registry');
    const schemas = of('AWS::Glue::Schema').map(([, r]) => r.Properties);
    // Assess: every topic is at schemaVersion 1 today, so one Glue schema each
    expect(registries.map(([, r]) => r.Properties.Name)).toEqual([registryName('dev')]);
    expect(schemas.map((s) => s.Name).sort()).toEqual(
      catalogTopics()
        .map((t) => glueSchemaName(t, 1))
        .sort(),
    );
    for (const topic of catalogTopics()) {
      const schema = schemas.find((s) => s.Name === glueSchemaName(topic, 1));
      expect(schema, topic).toMatchObject({
        DataFormat: 'JSON',
        Compatibility: definitionOf(topic).compatibility,
        Registry: { Arn: { 'Fn::GetAtt': [registries[0]?.[0], 'Arn'] } },
      });
      expect(schema?.Name).toMatch(/^[A-Za-z0-9_$#-]{1,255}$/);
    }
  });

  it('registers each released file as the schema’s version, retained when replaced by a revision', () => {
    // Act
    const schemaIds = new Map(of('AWS::Glue::Schema').map(([id, r]) => [r.Properties.Name as string, id]));
    const versions = of('AWS::Glue::SchemaVersion').map(([, r]) => r);
    // Assess
    const released = catalogTopics().flatMap((t) => acceptedVersions(t).map((v) => [t, v] as const));
    expect(versions).toHaveLength(released.length);
    for (const [topic, version] of released) {
      const schemaId = schemaIds.get(glueSchemaName(topic, version));
      const resource = versions.find((v) => v.Properties.Schema?.SchemaArn['Fn::GetAtt'][0] === schemaId);
      expect(resource, topic).toBeDefined();
      expect(JSON.parse(resource?.Properties.SchemaDefinition ?? 'null')).toEqual(
        JSON.parse(readReleased(schemaPath(topic, version)) ?? 'null'),
      );
      expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
  });

  it('names the registry per stage, so dev and prod share an account', () => {
    const prod = synth('prod');
    const names = [dev, prod].map(
      (s) =>
        Object.values(s.template.Resources).find((r) => r.Type === 'AWS::Glue::Registry')?.Properties.Name,
    );
    expect(new Set(names).size).toBe(2);
  });

  it('stays far below the 500-resource limit and raises no cdk-nag finding', () => {
    const count = Object.keys(dev.template.Resources).length;
    const findings = [new AwsSolutionsChecks(), new HIPAASecurityChecks(), new ServerlessChecks()].flatMap(
      (p) =>
        p
          .validateScope(dev.app)
          .violations.map((v) => `${v.ruleName} ${v.violatingResources[0]?.constructPath}`),
    );
    expect(findings).toEqual([]);
    expect(count).toBeLessThanOrEqual(500);
    console.log(`schema registry stack: ${count}/500 resources (${catalogTopics().length} topics)`);
  }, 60_000);
});
