/**
 * Lambda function names, built in one place: the CDK app names each deployed function with it, the local ESM
 * emulator names the function in its Lambda context and on-failure records with it, and `npm run dlq` reads
 * it back from an on-failure record's function ARN to find the consumer to redrive to.
 */

/** The stage of the local stack (`npm start`, `npm run invoke`, the tests); the CDK stages are dev and prod. */
export const LOCAL_STAGE = 'local';

const STAGE = /^[a-z0-9]+$/;
const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** `esante-<stage>-<name>`: the stage is one lower-case word, the name the consumer's (infra/consumers.ts). */
export const functionName = (stage: string, name: string): string => {
  if (!STAGE.test(stage)) throw new Error(`Stage "${stage}" must be one lower-case word (a-z, 0-9)`);
  if (!NAME.test(name)) throw new Error(`Function name "${name}" must be lower-case words joined by "-"`);
  return `esante-${stage}-${name}`;
};

/**
 * The stage and function name in a function name or ARN (`arn:aws:lambda:<region>:<account>:function:<name>`,
 * with or without a `:<version|alias>` qualifier); undefined when it is not one functionName() makes.
 */
export const parseFunctionName = (nameOrArn: string): { stage: string; name: string } | undefined => {
  const bare = nameOrArn.includes(':function:')
    ? (nameOrArn.split(':function:')[1]?.split(':')[0] ?? '')
    : nameOrArn;
  const match = /^esante-([a-z0-9]+)-(.+)$/.exec(bare);
  if (!match?.[1] || !match[2] || !NAME.test(match[2])) return undefined;
  return { stage: match[1], name: match[2] };
};

/** A table's or the dead-letter queue's physical name on a stage (the CDK data stack's; locally `name` itself). */
export const stageResourceName = (stage: string, name: string): string => `${stage}-${name}`;

/** The MSK cluster of a stage. */
export const stageClusterName = (stage: string): string => `esante-${stage}`;
