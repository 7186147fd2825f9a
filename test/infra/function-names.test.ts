import { describe, expect, it } from 'vitest';
import { CONSUMERS, consumerByName } from '../../infra/consumers.ts';
import { lambdaContext } from '../../infra/local/esm/context.ts';
import { localFunctionArn } from '../../infra/local/esm/source.ts';
import { functionName, LOCAL_STAGE, parseFunctionName } from '../../infra/names.ts';
import { functionFor } from '../../infra/ops/dlq-cli.ts';

/** The CDK side (each deployed function's FunctionName) is checked on the synthesised app in app.test.ts. */
describe('function names', () => {
  it('names each function esante-<stage>-<name>, one lower-case word per stage', () => {
    expect(functionName('prod', 'consultation-drafts')).toBe('esante-prod-consultation-drafts');
    expect(() => functionName('pre-prod', 'audit')).toThrow(/Stage "pre-prod"/);
    expect(() => functionName('dev', 'Audit')).toThrow(/Function name "Audit"/);
  });

  it('the local stack names its functions the same way, in the local stage', () => {
    const audit = consumerByName('audit');
    if (!audit) throw new Error('no audit consumer in infra/consumers.ts');
    expect(lambdaContext(audit).functionName).toBe(functionName(LOCAL_STAGE, 'audit'));
    expect(localFunctionArn('audit')).toMatch(/:function:esante-local-audit$/);
  });

  it.each(CONSUMERS.map((c) => c.name))(
    'npm run dlq finds %s from the function ARN of an on-failure record, deployed or local',
    (name) => {
      for (const arn of [
        `arn:aws:lambda:eu-west-3:123456789012:function:${functionName('prod', name)}`,
        `arn:aws:lambda:eu-west-3:123456789012:function:${functionName('dev', name)}:live`,
        localFunctionArn(name),
      ]) {
        expect(parseFunctionName(arn)?.name).toBe(name);
        expect(functionFor({ id: 'sqs:1', failedBy: arn }).name).toBe(name);
      }
    },
  );

  it('refuses an ARN that names no consumer rather than guessing one', () => {
    const other = 'arn:aws:lambda:eu-west-3:123456789012:function:esante-prod-billing';
    expect(() => functionFor({ id: 'sqs:1', failedBy: other })).toThrow(/no consumer function matches/);
    expect(parseFunctionName('arn:aws:lambda:eu-west-3:123456789012:function:myfunction')).toBeUndefined();
  });
});
